/**
 * A HAR text field as body bytes, decoded only as far as they are kept: a
 * HAR file may carry bodies of hundreds of megabytes (`postData.text`,
 * `content.text`), and the store keeps only the first `maxBodyBytes` of a
 * stream. {@linkcode bodyPrefix} counts the field's true size without
 * decoding it (base64: from its characters and padding; text: its UTF-8
 * length, code unit by code unit) and decodes only the bytes kept.
 *
 * Base64 is read as `Uint8Array.fromBase64` reads it (its "loose" last
 * chunk): ASCII whitespace anywhere, `=` padding optional, a last chunk of
 * 2 or 3 characters. Text is counted as `TextEncoder` encodes it (a lone
 * surrogate as U+FFFD, three bytes).
 *
 * @example
 * ```ts
 * import { bodyPrefix } from "./har_body.ts";
 *
 * const body = bodyPrefix("aGVsbG8gd29ybGQ=", true, 5);
 * console.assert(body?.size === 11);
 * console.assert(new TextDecoder().decode(body?.bytes) === "hello");
 * ```
 *
 * @module
 */

import { utf8CharBytes, utf8Size } from "./utf8.ts";

/** The first bytes of a body, and how many it has in all. */
export interface BodyPrefix {
  /** The first bytes (at most as many as asked for; a buffer of their own). */
  bytes: Uint8Array<ArrayBuffer>;
  /** The body's true size, in bytes. */
  size: number;
}

/** Whether a code unit is ASCII whitespace, which base64 may hold anywhere (tab, LF, FF, CR, space). */
const isSpace = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d;

/** Whether a code unit is of the base64 alphabet (`A`-`Z`, `a`-`z`, `0`-`9`, `+`, `/`). */
const isBase64 = (c: number) =>
  (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) ||
  c === 0x2b || c === 0x2f;

/**
 * The bytes base64 `text` stands for, counted without decoding it: three per
 * four characters, and one or two for a last chunk of two or three.
 *
 * @returns the size, or `undefined` when `Uint8Array.fromBase64` would refuse `text`
 */
export function base64Size(text: string): number | undefined {
  let chars = 0;
  let padding = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (isSpace(c)) continue;
    if (c === 0x3d) padding++;
    else if (padding > 0 || !isBase64(c)) return undefined;
    else chars++;
  }
  const last = chars % 4;
  // A lone character is no byte; padding only completes a last chunk of 2 or 3.
  if (last === 1 || (padding > 0 && (last === 0 || last + padding !== 4))) return undefined;
  return (chars - last) / 4 * 3 + (last === 0 ? 0 : last - 1);
}

/**
 * The first `keep` bytes of a HAR text field (base64, or text as UTF-8),
 * and its true size. Only the kept bytes are decoded: base64 up to the
 * chunk that holds the last of them, text up to the character that does
 * (a character cut at `keep` gives its first bytes, as the whole text
 * encoded and cut would).
 *
 * @param text the field's value
 * @param base64 whether it is base64 (`encoding: "base64"`), else text
 * @param keep how many bytes to decode at most (`Infinity`: all)
 * @returns the bytes and size, or `undefined` when `base64` and `text` is not base64
 */
export function bodyPrefix(text: string, base64: boolean, keep: number): BodyPrefix | undefined {
  keep = Math.max(0, keep);
  if (base64) {
    const size = base64Size(text);
    if (size === undefined) return undefined;
    if (keep >= size) return { bytes: Uint8Array.fromBase64(text), size };
    // setFromBase64 decodes whole chunks (3 bytes each) while they fit, then stops.
    const out = new Uint8Array(Math.ceil(keep / 3) * 3);
    out.setFromBase64(text);
    return { bytes: out.length === keep ? out : out.slice(0, keep), size };
  }
  const size = utf8Size(text);
  if (keep >= size) return { bytes: new TextEncoder().encode(text), size };
  // The code units of the characters that hold the first `keep` bytes.
  let end = 0;
  for (let bytes = 0; bytes < keep; end++) {
    const n = utf8CharBytes(text, end);
    bytes += n;
    if (n === 4) end++;
  }
  const encoded = new TextEncoder().encode(text.slice(0, end));
  return { bytes: encoded.length === keep ? encoded : encoded.slice(0, keep), size };
}
