/**
 * Bytes in the page: decoding the wire's base64, reading them as text, and
 * laying them out as a hex dump. Pure functions, no DOM.
 *
 * @module
 */

import type { Base64 } from "../protocol.ts";

const EMPTY = new Uint8Array(0);

/**
 * Decodes base64 (as the side port sends bytes) into a `Uint8Array`.
 *
 * @example
 * ```ts
 * import { fromBase64 } from "./bytes.ts";
 * console.assert(fromBase64("aGk=").length === 2);
 * ```
 */
export function fromBase64(text: Base64 | undefined | null): Uint8Array {
  if (!text) return EMPTY;
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Joins byte arrays into one. */
export function concatBytes(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Decodes UTF-8 leniently (invalid sequences become U+FFFD). */
export function utf8Text(bytes: Uint8Array): string {
  return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
}

/** Decodes UTF-8 strictly: `undefined` when the bytes are not valid UTF-8. */
export function strictUtf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/**
 * Whether bytes read as text: valid UTF-8 with no control characters other
 * than tab, newline and carriage return.
 */
export function isText(bytes: Uint8Array): boolean {
  const text = strictUtf8(bytes);
  // deno-lint-ignore no-control-regex
  return text !== undefined && !/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/.test(text);
}

/** One line of a hex dump: 16 bytes at `offset`. */
export interface HexLine {
  offset: number;
  bytes: Uint8Array;
}

/** Bytes per hex dump line. */
export const HEX_WIDTH = 16;

/** How many hex dump lines of `width` bytes (16 by default) `size` bytes take. */
export function hexLineCount(size: number, width: number = HEX_WIDTH): number {
  return Math.ceil(size / width);
}

/** The `index`th hex dump line of `bytes`, `width` bytes a line (16 by default). */
export function hexLine(bytes: Uint8Array, index: number, width: number = HEX_WIDTH): HexLine {
  const offset = index * width;
  return { offset, bytes: bytes.subarray(offset, offset + width) };
}

/** A byte as two lowercase hex digits. */
export function hexByte(byte: number): string {
  return byte.toString(16).padStart(2, "0");
}

/** An offset as eight hex digits, as `xxd` and `hexdump -C` print it. */
export function hexOffset(offset: number): string {
  return offset.toString(16).padStart(8, "0");
}

/** A byte as the ASCII column shows it: printable ASCII, else `.`. */
export function asciiChar(byte: number): string {
  return byte >= 0x20 && byte < 0x7f ? String.fromCharCode(byte) : ".";
}

/**
 * The text of a whole hex dump, `hexdump -C` style: for copying, and as the
 * reference the view is tested against.
 *
 * @example
 * ```ts
 * import { hexDumpText } from "./bytes.ts";
 * console.assert(hexDumpText(new TextEncoder().encode("hi")).startsWith("00000000  68 69"));
 * ```
 */
export function hexDumpText(bytes: Uint8Array): string {
  const lines: string[] = [];
  for (let i = 0; i < hexLineCount(bytes.length); i++) {
    const line = hexLine(bytes, i);
    const parts = Array.from(line.bytes, hexByte);
    const half = HEX_WIDTH / 2;
    const hex = [parts.slice(0, half).join(" "), parts.slice(half).join(" ")].filter(Boolean)
      .join("  ").padEnd(HEX_WIDTH * 3);
    lines.push(
      `${hexOffset(line.offset)}  ${hex}  |${Array.from(line.bytes, asciiChar).join("")}|`,
    );
  }
  return lines.join("\n");
}
