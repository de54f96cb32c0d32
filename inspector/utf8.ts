/**
 * UTF-8 sizes of JavaScript strings, counted without encoding them: what a
 * byte cap keeps of a text (`wsgi.errors` in `capture.ts`) and how big a HAR
 * body is (`har_body.ts`). Counted as `TextEncoder` encodes: a surrogate
 * pair is one character of four bytes, a lone surrogate three (U+FFFD).
 *
 * @example
 * ```ts
 * import { cutUtf8, utf8Size } from "./utf8.ts";
 *
 * console.assert(utf8Size("a\u20ac") === 4);
 * console.assert(cutUtf8("a\u20ac", 3).kept === "a");
 * ```
 *
 * @module
 */

/** The UTF-8 bytes of the character at `i`: 4 only for a surrogate pair (two code units). */
export function utf8CharBytes(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c < 0x80) return 1;
  if (c < 0x800) return 2;
  if (c >= 0xd800 && c <= 0xdbff && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) return 4;
  return 3;
}

/** The bytes of `text` in UTF-8. */
export function utf8Size(text: string): number {
  let size = 0;
  for (let i = 0; i < text.length; i++) {
    const bytes = utf8CharBytes(text, i);
    size += bytes;
    if (bytes === 4) i++;
  }
  return size;
}

/**
 * `text` cut to at most `max` bytes of UTF-8 (never inside a character), and
 * the UTF-8 size of all of it: what a byte cap keeps of a text, and what the
 * text counts against it.
 */
export function cutUtf8(text: string, max: number): { kept: string; size: number } {
  let size = 0;
  let end = -1;
  for (let i = 0; i < text.length; i++) {
    const bytes = utf8CharBytes(text, i);
    if (end === -1 && size + bytes > max) end = i;
    size += bytes;
    if (bytes === 4) i++;
  }
  return { kept: end === -1 ? text : text.slice(0, end), size };
}
