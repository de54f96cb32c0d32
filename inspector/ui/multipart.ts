/**
 * A `multipart/*` body (`multipart/form-data` above all) split into its
 * parts as RFC 2046 and RFC 7578 describe: the boundary from the content
 * type, each part's headers, its `Content-Disposition` name and filename,
 * and its bytes. Pure, no DOM; offsets are byte offsets in the body, so the
 * page can show each part as text or as a hex dump.
 *
 * @module
 */

import { strictUtf8 } from "./bytes.ts";

/** One part of a multipart body. */
export interface MultipartPart {
  /** Its header lines, as `[name, value]` (latin-1, as sent). */
  headers: [string, string][];
  /** The size of its header block in bytes (up to the blank line). */
  headerBytes: number;
  /**
   * Whether the header block ran past {@linkcode MAX_PART_HEADER_BYTES} and
   * only that much of it was read (its last line may be cut).
   */
  headersCut: boolean;
  /** The form field name (`Content-Disposition: form-data; name=...`), or null. */
  name: string | null;
  /** The file name, when the part is a file (`filename*` preferred), or null. */
  filename: string | null;
  /** The part's own `Content-Type`, or null (RFC 7578: text/plain then). */
  contentType: string | null;
  /** Where its content begins in the body, in bytes. */
  offset: number;
  /** The content's bytes (a view of the body). */
  bytes: Uint8Array;
  /** The content as text when it is UTF-8, else null. */
  text: string | null;
}

/** What {@linkcode parseMultipart} found. */
export interface Multipart {
  boundary: string;
  parts: MultipartPart[];
  /** Whether the closing delimiter (`--boundary--`) was there. */
  complete: boolean;
  /** What was wrong, when the body is not the multipart its type says. */
  problem?: string;
}

/**
 * The boundary of a multipart content type, or undefined when the type is
 * not multipart or names none.
 *
 * @example
 * ```ts
 * import { multipartBoundary } from "./multipart.ts";
 * console.assert(multipartBoundary('multipart/form-data; boundary="a b"') === "a b");
 * ```
 */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType || !/^\s*multipart\//i.test(contentType)) return undefined;
  const m = contentType.match(/;\s*boundary\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]+))/i);
  if (!m) return undefined;
  const value = m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!;
  return value === "" ? undefined : value;
}

/**
 * The most of a part's header block that is read, in bytes: real ones hold a
 * `Content-Disposition` and a `Content-Type` (well under 1 KiB), servers
 * take lines up to about 8 KiB (Apache's `LimitRequestFieldSize`), and a
 * larger block is cut (and says so) rather than laid out whole.
 */
export const MAX_PART_HEADER_BYTES = 8 * 1024;

/** The longest boundary RFC 2046 allows (`boundary := 0*69<bchars> bcharnospace`). */
export const MAX_BOUNDARY_LENGTH = 70;

/** Characters per `String.fromCharCode` call: far below any engine's argument limit. */
const CHUNK = 8192;

/**
 * Bytes as latin-1 text (one character a byte), decoded in chunks: spreading
 * a whole block into one call overflows the stack on a large one.
 * (`TextDecoder("latin1")` is windows-1252, which differs in 0x80-0x9f.)
 */
function latin1(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += CHUNK) {
    text += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK) as unknown as number[]);
  }
  return text;
}

const CRLFCRLF = new Uint8Array([0x0d, 0x0a, 0x0d, 0x0a]);

/** Index of `needle` in `hay` from `from`, or -1. */
function find(hay: Uint8Array, needle: Uint8Array, from: number): number {
  const first = needle[0]!;
  const last = hay.length - needle.length;
  outer: for (
    let i = hay.indexOf(first, from);
    i !== -1 && i <= last;
    i = hay.indexOf(first, i + 1)
  ) {
    for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** A parameter of a header value (`name="x"`, `filename*=UTF-8''...`), unquoted. */
function param(value: string, key: string): string | undefined {
  const re = new RegExp(`;\\s*${key}\\s*=\\s*(?:"((?:[^"\\\\]|\\\\.)*)"|([^;]*))`, "i");
  const m = value.match(re);
  if (!m) return undefined;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2]!.trim();
}

/** Decodes a `filename*` value (RFC 5987: `charset'lang'percent-encoded`). */
function extended(value: string): string | undefined {
  const m = value.match(/^([\w-]+)'[^']*'(.*)$/);
  if (!m) return undefined;
  try {
    const bytes = Uint8Array.from(
      m[2]!.replace(
        /%([0-9a-f]{2})|./gi,
        (s, hex) => String.fromCharCode(hex ? parseInt(hex, 16) : s.charCodeAt(0)),
      ),
      (c) => c.charCodeAt(0),
    );
    return new TextDecoder(m[1]!.toLowerCase(), { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** Reads a string as bytes-as-latin-1 UTF-8 when it is that, as browsers send form field names. */
function utf8OfLatin1(text: string): string {
  if (!/[\x80-\xff]/.test(text)) return text;
  return strictUtf8(Uint8Array.from(text, (c) => c.charCodeAt(0))) ?? text;
}

/**
 * Splits a multipart body into its parts.
 *
 * @example
 * ```ts
 * import { parseMultipart } from "./multipart.ts";
 * const body = new TextEncoder().encode(
 *   '--b\r\nContent-Disposition: form-data; name="a"\r\n\r\nhi\r\n--b--\r\n',
 * );
 * const { parts, complete } = parseMultipart(body, "b");
 * console.assert(complete && parts[0]?.name === "a" && parts[0]?.text === "hi");
 * ```
 */
export function parseMultipart(body: Uint8Array, boundary: string): Multipart {
  const result: Multipart = { boundary, parts: [], complete: false };
  if (boundary.length > MAX_BOUNDARY_LENGTH) {
    result.problem =
      `The boundary is ${boundary.length} characters long; RFC 2046 allows at most ${MAX_BOUNDARY_LENGTH}`;
    return result;
  }
  const enc = new TextEncoder();
  const dash = enc.encode(`--${boundary}`);
  const delimiter = enc.encode(`\r\n--${boundary}`);
  // The first delimiter may open the body (no CRLF before it), else follows the preamble.
  let at = body.length >= dash.length && find(body.subarray(0, dash.length), dash, 0) === 0
    ? 0
    : find(body, delimiter, 0);
  if (at === -1) {
    result.problem = `No boundary "--${boundary}" in the body`;
    return result;
  }
  if (at > 0) at += 2;
  for (;;) {
    let p = at + dash.length;
    if (body[p] === 0x2d && body[p + 1] === 0x2d) {
      result.complete = true;
      return result;
    }
    // Transport padding, then CRLF.
    while (body[p] === 0x20 || body[p] === 0x09) p++;
    if (body[p] === 0x0d && body[p + 1] === 0x0a) p += 2;
    else if (p >= body.length) return result; // cut after a delimiter
    else {
      result.problem = `A boundary line at byte ${at} does not end with CRLF`;
      return result;
    }
    const next = find(body, delimiter, p);
    // The blank line that ends the headers, looked for only within this part:
    // each part's search then stops at its own end, and the whole parse is linear.
    const headerEnd = find(body.subarray(0, next === -1 ? body.length : next + 2), CRLFCRLF, p - 2);
    const headers: [string, string][] = [];
    let contentStart: number;
    let headerBytes = 0;
    let headersCut = false;
    if (headerEnd !== -1) {
      headerBytes = Math.max(0, headerEnd - p);
      headersCut = headerBytes > MAX_PART_HEADER_BYTES;
      const block = latin1(body.subarray(p, p + Math.min(headerBytes, MAX_PART_HEADER_BYTES)));
      for (const line of block.split("\r\n")) {
        if (line === "") continue;
        const colon = line.indexOf(":");
        if (colon === -1) headers.push([line, ""]);
        else headers.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
      }
      contentStart = headerEnd + 4;
    } else contentStart = p;
    const contentEnd = next === -1 ? body.length : next;
    const bytes = body.subarray(Math.min(contentStart, contentEnd), contentEnd);
    const disposition = headers.find(([n]) => n.toLowerCase() === "content-disposition")?.[1] ?? "";
    const starred = param(disposition, "filename\\*");
    const filename = (starred && extended(starred)) ?? param(disposition, "filename");
    const name = param(disposition, "name");
    result.parts.push({
      headers,
      headerBytes,
      headersCut,
      name: name === undefined ? null : utf8OfLatin1(name),
      filename: filename === undefined ? null : utf8OfLatin1(filename),
      contentType: headers.find(([n]) => n.toLowerCase() === "content-type")?.[1] ?? null,
      offset: contentStart,
      bytes,
      text: strictUtf8(bytes) ?? null,
    });
    if (next === -1) return result; // cut: the body ended inside this part
    at = next + 2;
  }
}
