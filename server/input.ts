/**
 * `wsgi.input`: the request body as a WSGI input stream.
 *
 * Python's `read()`, `readline()`, `readlines()` and line iteration, made
 * async (the one forced change from PEP 3333). The stream never hands out more
 * than `CONTENT_LENGTH` bytes, and with no `CONTENT_LENGTH` (a chunked upload)
 * it reads to the end of the body. Nothing is read from the socket until the
 * application asks.
 *
 * @module
 */

import type { InputStream } from "./types.ts";

const EMPTY = new Uint8Array(0);

/** Bytes over a plain `ArrayBuffer`: what `new Response(bytes)` and `new Blob([bytes])` take. */
type Bytes = Uint8Array<ArrayBuffer>;

/** Called after each read with what the application got (for the recorder). */
export type OnRead = (
  method: "read" | "readline" | "readlines" | "iterate",
  size: number | undefined,
  bytes: Uint8Array,
) => void;

/** Joins byte arrays into one. */
export function concatBytes(parts: readonly Uint8Array[], total?: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  if (parts.length === 0) return EMPTY;
  const out = new Uint8Array(total ?? parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * A WSGI input stream over a `ReadableStream` of bytes.
 *
 * @example
 * ```ts
 * import { Input } from "./input.ts";
 * const input = new Input(new Request("http://x/", { method: "POST", body: "a\nb" }), 3);
 * console.assert(new TextDecoder().decode(await input.readline()) === "a\n");
 * ```
 */
export class Input implements InputStream {
  #source: { readonly body: ReadableStream<Uint8Array> | null };
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  /** Bytes the app may still get; Infinity when the body is terminated by its framing. */
  #remaining: number;
  /** Bytes read from the socket but not yet handed out. */
  #buffer: Bytes = EMPTY;
  #onRead: OnRead | undefined;
  #done = false;

  /**
   * @param source the request (its `body` is only touched on the first read)
   * @param contentLength `CONTENT_LENGTH` as a number, or undefined when absent
   * @param onRead called with every read's result
   */
  constructor(
    source: { readonly body: ReadableStream<Uint8Array> | null },
    contentLength: number | undefined,
    onRead?: OnRead,
  ) {
    this.#source = source;
    this.#remaining = contentLength === undefined || Number.isNaN(contentLength)
      ? Infinity
      : contentLength;
    this.#onRead = onRead;
  }

  /** Fills the buffer with at least one more chunk; false at the end of the body. */
  async #fill(): Promise<boolean> {
    if (this.#done || this.#remaining <= this.#buffer.length) return false;
    if (this.#reader === undefined) {
      const body = this.#source.body;
      if (body === null) {
        this.#done = true;
        return false;
      }
      this.#reader = body.getReader();
    }
    for (;;) {
      const { done, value } = await this.#reader.read();
      if (done) {
        this.#done = true;
        return false;
      }
      if (value.length === 0) continue;
      // A request body's chunks are over plain ArrayBuffers (never shared ones).
      this.#buffer = this.#buffer.length === 0
        ? value as Bytes
        : concatBytes([this.#buffer, value]) as Bytes;
      return true;
    }
  }

  /** Hands out `n` bytes of the buffer (at most what remains). */
  #take(n: number): Bytes {
    n = Math.min(n, this.#buffer.length, this.#remaining);
    const out = this.#buffer.subarray(0, n);
    this.#buffer = this.#buffer.subarray(n);
    this.#remaining -= n;
    return out;
  }

  #report(method: Parameters<OnRead>[0], size: number | undefined, bytes: Bytes): Bytes {
    this.#onRead?.(method, size, bytes);
    return bytes;
  }

  async #read(size: number): Promise<Bytes> {
    const want = Math.min(size, this.#remaining);
    while (this.#buffer.length < want && await this.#fill());
    return this.#take(want);
  }

  async #readline(size: number): Promise<Bytes> {
    let scanned = 0;
    for (;;) {
      const limit = Math.min(this.#buffer.length, this.#remaining, size);
      const newline = this.#buffer.subarray(scanned, limit).indexOf(10);
      if (newline !== -1) return this.#take(scanned + newline + 1);
      if (limit >= size || limit >= this.#remaining) return this.#take(limit);
      scanned = limit;
      if (!await this.#fill()) return this.#take(this.#buffer.length);
    }
  }

  /** Reads up to `size` bytes; with no size (or a negative one), the rest of the body. */
  async read(size?: number): Promise<Bytes> {
    const n = size === undefined || size === null || size < 0 ? Infinity : size;
    return this.#report("read", size, await this.#read(n));
  }

  /** Reads one line, up to and including `\n`, or at most `size` bytes of it. */
  async readline(size?: number): Promise<Bytes> {
    const n = size === undefined || size === null || size < 0 ? Infinity : size;
    return this.#report("readline", size, await this.#readline(n));
  }

  /** Reads the remaining lines; stops once at least `hint` bytes were read, when given. */
  async readlines(hint?: number): Promise<Bytes[]> {
    const lines: Bytes[] = [];
    let total = 0;
    for (;;) {
      const line = await this.#readline(Infinity);
      if (line.length === 0) break;
      lines.push(line);
      total += line.length;
      if (hint !== undefined && hint > 0 && total >= hint) break;
    }
    this.#report("readlines", hint, concatBytes(lines, total) as Bytes);
    return lines;
  }

  /** Iterates the remaining lines, as iterating a Python file does. */
  async *[Symbol.asyncIterator](): AsyncIterator<Bytes> {
    for (;;) {
      const line = await this.#readline(Infinity);
      if (line.length === 0) return;
      yield this.#report("iterate", undefined, line);
    }
  }

  /** What the environ snapshot shows for this object. */
  toString(): string {
    return this.#remaining === Infinity
      ? "<wsgi.input: no Content-Length, read to the end>"
      : `<wsgi.input: ${this.#remaining} bytes left>`;
  }
}
