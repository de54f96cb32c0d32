/**
 * The page's multipart parser (`inspector/ui/multipart.ts`) on hostile
 * bodies: a part whose header block is far larger than any real one, a
 * boundary longer than RFC 2046 allows, and many parts without a blank line.
 * Pure functions, no browser; the page's handling of the same exchange is in
 * `inspector_page_boundary_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  MAX_BOUNDARY_LENGTH,
  MAX_PART_HEADER_BYTES,
  parseMultipart,
} from "../inspector/ui/multipart.ts";

const encoder = new TextEncoder();

Deno.test("parseMultipart() reads a 600 KB header block without overflowing, cut with a mark", () => {
  // The review's body: one part whose header block is one 600,000-byte line.
  const long = "h".repeat(600_000);
  const body = encoder.encode(
    `--b\r\nX-Long: ${long}\r\nContent-Type: text/plain\r\n\r\ncontent\r\n--b--\r\n`,
  );
  const parsed = parseMultipart(body, "b");
  assert.equal(parsed.problem, undefined);
  assert.equal(parsed.complete, true);
  assert.equal(parsed.parts.length, 1);
  const part = parsed.parts[0]!;
  assert.equal(part.text, "content", "the content is found past the big header block");
  assert.equal(part.headersCut, true);
  assert.equal(
    part.headerBytes,
    "X-Long: ".length + long.length + "\r\nContent-Type: text/plain".length,
  );
  // Only the first MAX_PART_HEADER_BYTES were read: one cut header, nothing after it.
  assert.equal(part.headers.length, 1);
  assert.equal(part.headers[0]![0], "X-Long");
  assert.equal(part.headers[0]![1], "h".repeat(MAX_PART_HEADER_BYTES - "X-Long: ".length));
});

Deno.test("parseMultipart() reads header blocks as latin-1 in full below the cut", () => {
  // Decoded in chunks, every byte 0x80-0xff still reads as the latin-1 character of that
  // code (not windows-1252, which TextDecoder("latin1") is).
  const value = Array.from({ length: 128 }, (_, i) => String.fromCharCode(0x80 + i)).join("");
  const bytes = Uint8Array.from(
    `--b\r\nX-Bytes: ${value}\r\nContent-Disposition: form-data; name="f"\r\n\r\nv\r\n--b--`,
    (c) => c.charCodeAt(0),
  );
  const part = parseMultipart(bytes, "b").parts[0]!;
  assert.equal(part.headersCut, false);
  assert.deepEqual(part.headers[0], ["X-Bytes", value]);
  assert.equal(part.name, "f");
  assert.equal(part.text, "v");
});

Deno.test("parseMultipart() refuses a boundary longer than RFC 2046's 70 characters", () => {
  const boundary = "x".repeat(MAX_BOUNDARY_LENGTH + 1);
  const parsed = parseMultipart(
    encoder.encode(`--${boundary}\r\n\r\nhi\r\n--${boundary}--`),
    boundary,
  );
  assert.equal(parsed.parts.length, 0);
  assert.match(parsed.problem ?? "", /boundary is 71 characters long; RFC 2046 allows at most 70/);
  // At 70 it is read.
  const ok = "y".repeat(MAX_BOUNDARY_LENGTH);
  assert.equal(
    parseMultipart(encoder.encode(`--${ok}\r\n\r\nhi\r\n--${ok}--`), ok).parts[0]?.text,
    "hi",
  );
});

Deno.test("parseMultipart() looks for each part's blank line only within that part (as before)", () => {
  // Parts with no blank line after their headers: each part's content starts at once.
  const body = encoder.encode("--b\r\nno headers here\r\n--b\r\nX: 1\r\n\r\nsecond\r\n--b--");
  const parsed = parseMultipart(body, "b");
  assert.equal(parsed.parts.length, 2);
  assert.deepEqual(parsed.parts[0]!.headers, [], "the blank line of part 2 is not part 1's");
  assert.equal(parsed.parts[0]!.text, "no headers here");
  assert.deepEqual(parsed.parts[1]!.headers, [["X", "1"]]);
  assert.equal(parsed.parts[1]!.text, "second");
});
