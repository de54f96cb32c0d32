/**
 * `wsgi.input`: the request body as a WSGI input stream.
 *
 * Python's `read()`, `readline()`, `readlines()` and line iteration, made
 * async (the one forced change from PEP 3333). The stream never hands out more
 * than `CONTENT_LENGTH` bytes, and with no `CONTENT_LENGTH` (a chunked upload)
 * it reads to the end of the body, or to the upload limit. Nothing is read
 * from the socket until the application asks.
 *
 * Every read is linear in what it returns: the chunks that arrive are kept as
 * they are, in a list, and copied once, into the array a read hands out (or
 * not at all, when the read is the front of one chunk).
 *
 * @module
 */

import type { InputStream } from "./types.ts";

const EMPTY = new Uint8Array(0);
/** Reads of a known size above this are copied into one array as the chunks come. */
const READ_INTO_AT = 1024 * 1024;
/** The most bytes one read of the socket asks for (what Deno's own body reads allocate). */
const FILL_SIZE = 64 * 1024;
/** No chunks yet: shared until the first read, so that an unread body costs no array. */
const NO_CHUNKS: Uint8Array[] = Object.freeze([]) as unknown as Uint8Array[];

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

/** A byte count for a message: `104857600 bytes (100 MiB)`. */
export function showBytes(n: number): string {
  const MiB = 1024 * 1024;
  return n >= MiB && n % MiB === 0 ? `${n} bytes (${n / MiB} MiB)` : `${n} bytes`;
}

/**
 * The request body is larger than the server accepts (`--max-request-body`,
 * the gateway's `maxRequestBody`). Thrown by a read of `wsgi.input` that
 * needs a byte past the limit; the gateway answers `413 Content Too Large`
 * when the application lets it through, and before the application is called
 * when `Content-Length` already says more.
 */
export class RequestBodyTooLarge extends RangeError {
  /** The limit, in bytes. */
  readonly limit: number;
  /** The HTTP status that answers it. */
  readonly status = 413;

  constructor(message: string, limit: number) {
    super(message);
    this.name = "RequestBodyTooLarge";
    this.limit = limit;
  }
}

/** The advice every {@linkcode RequestBodyTooLarge} message ends with. */
export const RAISE_LIMIT =
  "raise the limit with --max-request-body N (maxRequestBody in code), or 0 for none";

/**
 * What the application left unread of the body, wanted after the response
 * (by the recorder, to show the request as the client sent it).
 */
export interface Rest {
  /** The most bytes to read. */
  readonly max: number;
  /**
   * Told once, with a copy of what was read, and whether the body's end is in
   * it (else the cap, or the connection's end, stopped the read). Must not throw.
   */
  done(bytes: Uint8Array, complete: boolean): void;
}

/** Options of {@linkcode Input}. */
export interface InputOptions {
  /** Called with every read's result. */
  onRead?: OnRead;
  /** The most body bytes the stream reads (a chunked body); Infinity or 0 for no limit. */
  limit?: number;
}

/** The bytes left of the input last described, and its description (see `Input.toString`). */
let describedLeft = -1;
let describedText = "";

/** Where an {@linkcode Input} reads from: a `Request`, or anything with its `body`. */
export interface InputSource {
  readonly body: ReadableStream<Uint8Array> | null;
  /** The whole body at once (a `Request` has it): used for a read of all of a known length. */
  arrayBuffer?(): Promise<ArrayBuffer>;
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
  #source: InputSource;
  #reader: ReadableStreamDefaultReader<Uint8Array> | ReadableStreamBYOBReader | undefined;
  /** `#reader` reads into arrays it is given (a byte stream: Deno's request bodies). */
  #byob = false;
  /** Bytes the app may still get; Infinity when the body is terminated by its framing. */
  #remaining: number;
  /** Chunks read from the body, not yet handed out, from `#head` on (the first may be a tail). */
  #chunks: Uint8Array[] = NO_CHUNKS;
  #head = 0;
  /** Bytes in `#chunks` from `#head` on. */
  #buffered = 0;
  /** Bytes received from the body so far, against `#limit`. */
  #received = 0;
  #limit: number;
  /** The options, kept: `onRead` is called as their method (the recorder's exchange may be them). */
  #hook: InputOptions | undefined;
  /** The body is over: ended, cancelled, or never there. */
  #done = false;
  /** The body ran past the limit (its bytes up to the limit can still be read). */
  #over = false;
  /** The body's end was read (not just given up on). */
  #ended = false;

  /**
   * @param source the request (its `body` is only touched on the first read)
   * @param contentLength `CONTENT_LENGTH` as a number; `undefined` for a body
   *   framed by its transfer coding (chunked), read to its end; `0` for none
   * @param options the recorder's hook and the upload limit
   */
  constructor(
    source: InputSource,
    contentLength: number | undefined,
    options?: InputOptions,
  ) {
    this.#source = source;
    this.#remaining = contentLength === undefined || Number.isNaN(contentLength)
      ? Infinity
      : contentLength;
    this.#hook = options?.onRead === undefined ? undefined : options;
    const limit = options?.limit;
    this.#limit = limit === undefined || limit <= 0 ? Infinity : limit;
  }

  /**
   * Adds the next chunk of the body to the buffer; false at the end of the
   * body. From a byte stream (Deno's request bodies) the chunk is read into
   * an array of ours, of `need` bytes when that is 4 KiB or more (at most
   * {@linkcode FILL_SIZE}): a loop of `read(65536)` then gets each array as
   * it was read, neither a copy nor out of step with the chunks (one odd-sized
   * chunk would otherwise make every later read a join of two).
   */
  async #fill(need = FILL_SIZE, whole = false): Promise<boolean> {
    if (this.#done || this.#remaining <= this.#buffered) {
      if (this.#over) {
        throw new RequestBodyTooLarge(
          `Cannot read wsgi.input: the request body is larger than the limit of ${
            showBytes(this.#limit)
          }; ${RAISE_LIMIT}`,
          this.#limit,
        );
      }
      return false;
    }
    const reader = this.#reader ?? this.#open();
    if (reader === undefined) return false;
    for (;;) {
      const size = need >= 4096 && need < FILL_SIZE ? need : FILL_SIZE;
      const { done, value } = this.#byob
        ? await (reader as ReadableStreamBYOBReader).read(
          new Uint8Array(size),
          // read(n) waits for its n bytes anyway: one read brings them, not one per
          // chunk. Only where the length is known: Deno 2.9.6 drops the bytes after
          // a { min } read that the end of a chunked body cut short.
          whole && this.#remaining !== Infinity && need <= this.#remaining - this.#buffered
            ? { min: Math.min(need, size) }
            : undefined,
        )
        : await (reader as ReadableStreamDefaultReader<Uint8Array>).read();
      if (done) {
        this.#done = true;
        this.#ended = true;
        return false;
      }
      if (value.length === 0) continue;
      this.#add(value);
      return true;
    }
  }

  /** Takes the body's reader: one that reads into our own arrays when the body is a byte stream. */
  #open(): ReadableStreamDefaultReader<Uint8Array> | ReadableStreamBYOBReader | undefined {
    const body = this.#source.body;
    if (body === null) {
      this.#done = true;
      return undefined;
    }
    try {
      this.#reader = body.getReader({ mode: "byob" });
      this.#byob = true;
    } catch {
      this.#reader = body.getReader();
    }
    return this.#reader;
  }

  /** Adds bytes read from the body to the buffer, up to the limit. */
  #add(value: Uint8Array): void {
    let chunk = value;
    if (this.#received + chunk.length > this.#limit) {
      chunk = chunk.subarray(0, this.#limit - this.#received);
      this.#over = true;
      this.#release();
    }
    this.#received += chunk.length;
    if (this.#chunks === NO_CHUNKS) this.#chunks = [];
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /** Hands out the first `n` bytes of the buffer (at most what it holds and what remains). */
  #take(n: number): Bytes {
    n = Math.min(n, this.#buffered, this.#remaining);
    if (n === 0) return EMPTY;
    const chunks = this.#chunks;
    const first = chunks[this.#head]!;
    if (first.length < n) {
      const out = new Uint8Array(n);
      this.#move(out, 0, n);
      return out;
    }
    const out = first.subarray(0, n);
    if (first.length === n) chunks[this.#head++] = EMPTY;
    else chunks[this.#head] = first.subarray(n);
    this.#taken(n);
    // A request body's chunks are over plain ArrayBuffers (never shared ones).
    return out as Bytes;
  }

  /** Moves the first `n` bytes of the buffer (it holds them) into `out` at `at`. */
  #move(out: Uint8Array, at: number, n: number): void {
    const chunks = this.#chunks;
    for (const end = at + n; at < end;) {
      const chunk = chunks[this.#head]!;
      const part = Math.min(chunk.length, end - at);
      out.set(part === chunk.length ? chunk : chunk.subarray(0, part), at);
      at += part;
      if (part === chunk.length) chunks[this.#head++] = EMPTY;
      else chunks[this.#head] = chunk.subarray(part);
    }
    this.#taken(n);
  }

  /** Books `n` bytes handed out from the front of the buffer. */
  #taken(n: number): void {
    const chunks = this.#chunks;
    if (this.#head === chunks.length) {
      chunks.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > chunks.length) {
      chunks.splice(0, this.#head);
      this.#head = 0;
    }
    this.#buffered -= n;
    this.#remaining -= n;
    // All of CONTENT_LENGTH is out: let the body go now (see finish()).
    if (this.#remaining === 0 && !this.#done) this.#release();
  }

  /**
   * A large read of a known size (`CONTENT_LENGTH` bounds it). All of the
   * body with nothing read yet: the request's own `arrayBuffer()`, which
   * Deno fills without a copy in JavaScript. Else one array of that size,
   * each chunk copied into it as it arrives and let go, so that the body is
   * held once, not as chunks and then as their copy. Ends early, with what
   * came, if the body does.
   */
  async #readInto(want: number): Promise<Bytes> {
    const source = this.#source;
    if (
      want === this.#remaining && this.#reader === undefined && !this.#done &&
      this.#buffered === 0 && want <= this.#limit && source.arrayBuffer !== undefined
    ) {
      // The whole body, nothing read yet: Deno collects it itself, as fast as it can.
      const out = new Uint8Array(await source.arrayBuffer());
      this.#done = this.#ended = true;
      this.#received = out.length;
      this.#remaining -= out.length;
      return out;
    }
    const out = new Uint8Array(want);
    let at = 0;
    try {
      for (;;) {
        const n = Math.min(this.#buffered, want - at);
        if (n > 0) this.#move(out, at, n);
        at += n;
        if (at === want || !await this.#fill()) break;
      }
    } catch (error) {
      // What was read stays readable, as on the chunked path.
      if (at > 0) {
        if (this.#chunks === NO_CHUNKS) this.#chunks = [];
        this.#chunks.splice(this.#head, 0, out.subarray(0, at));
        this.#buffered += at;
        this.#remaining += at;
      }
      throw error;
    }
    return at === want ? out : out.subarray(0, at);
  }

  /**
   * Lets the request body go: cancels the stream if it is not over. Deno
   * keeps a connection (and the body's resource) for as long as a reader
   * holds its body stream unfinished, which is until the stream is garbage
   * collected, seconds later; once cancelled, Deno discards whatever of the
   * body is still to come and keeps the connection alive when it can.
   */
  #release(): void {
    if (this.#done) return;
    this.#done = true;
    const reader = this.#reader;
    if (reader !== undefined) reader.cancel().catch(() => {});
    else this.#source.body?.cancel().catch(() => {});
  }

  /**
   * Ends the exchange's use of the body; the gateway calls it when the
   * response is over (complete, cut or abandoned), and before it hands a
   * complete response to Deno. A body the application read in part or not at
   * all is cancelled (a body with no bytes, a GET's, is never touched), so
   * that the client gets the end of the response at once and the connection
   * stays open for the next request whenever Deno can keep it.
   *
   * With `rest` (a recorder wants the request as the client sent it), what
   * the application left unread is read first, up to `rest.max` bytes, while
   * the response goes out: the reader is taken now, before Deno can drop the
   * body with the finished response. The bytes read stay in this stream's
   * buffer, so a read the application makes later still gets them: draining
   * never changes what the application reads. Then the body is let go.
   */
  finish(rest?: Rest): void {
    if (this.#done && this.#buffered === 0) return;
    if (this.#reader === undefined && this.#remaining === 0) {
      this.#done = true;
      return;
    }
    if (rest !== undefined && rest.max > 0) {
      if (this.#reader === undefined && !this.#done) this.#open();
      this.#drain(rest);
      return;
    }
    this.#release();
  }

  /** Reads the rest into the buffer, up to `rest.max`; tells `rest`; lets the body go. */
  async #drain(rest: Rest): Promise<void> {
    const want = Math.min(rest.max, this.#remaining);
    try {
      while (this.#buffered < want && await this.#fill());
    } catch {
      // The body ended badly, or Deno let it go with the response: keep what came.
    }
    const n = Math.min(this.#buffered, want);
    const whole = this.#remaining !== Infinity
      ? this.#buffered >= this.#remaining
      : this.#ended && !this.#over;
    const bytes = this.#peek(n);
    this.#release();
    rest.done(bytes, whole && n === this.#buffered);
  }

  /** A copy of the first `n` bytes of the buffer, which stay in it. */
  #peek(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let at = 0;
    for (let i = this.#head; at < n && i < this.#chunks.length; i++) {
      const chunk = this.#chunks[i]!;
      const part = Math.min(chunk.length, n - at);
      out.set(part === chunk.length ? chunk : chunk.subarray(0, part), at);
      at += part;
    }
    return out;
  }

  #report(method: Parameters<OnRead>[0], size: number | undefined, bytes: Bytes): Bytes {
    this.#hook?.onRead?.(method, size, bytes);
    return bytes;
  }

  async #read(size: number): Promise<Bytes> {
    const want = Math.min(size, this.#remaining);
    if (want > READ_INTO_AT && want !== Infinity && this.#buffered < want) {
      return this.#readInto(want);
    }
    while (this.#buffered < want && await this.#fill(want - this.#buffered, true));
    return this.#take(want);
  }

  async #readline(size: number): Promise<Bytes> {
    const max = Math.min(size, this.#remaining);
    // The scan goes on from where it stopped: chunk i, which starts at byte
    // `start` of the buffer. Only the last chunk can be cut short (by max),
    // and then the line ends there.
    let i = this.#head;
    let start = 0;
    for (;;) {
      const end = Math.min(this.#buffered, max);
      for (; i < this.#chunks.length && start < end; i++) {
        const chunk = this.#chunks[i]!;
        const scan = end - start < chunk.length ? chunk.subarray(0, end - start) : chunk;
        const lineFeed = scan.indexOf(10);
        if (lineFeed !== -1) return this.#take(start + lineFeed + 1);
        start += chunk.length;
      }
      if (end >= max) return this.#take(end);
      if (!await this.#fill()) return this.#take(this.#buffered);
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

  /** The body's bytes not read yet, by its length (Infinity: no length, read to the end). */
  get left(): number {
    return this.#remaining;
  }

  /** What the environ snapshot shows for this object. */
  toString(): string {
    const left = this.#remaining;
    if (left === Infinity) return "<wsgi.input: no Content-Length, read to the end>";
    // One string for every input with as many bytes left (most often 0: a GET).
    if (left !== describedLeft) {
      describedLeft = left;
      describedText = `<wsgi.input: ${left} bytes left>`;
    }
    return describedText;
  }
}
