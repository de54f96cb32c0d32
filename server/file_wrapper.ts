/**
 * `wsgi.file_wrapper` (PEP 3333's "optional platform-specific file
 * handling") and wsgiref's `util.FileWrapper`.
 *
 * An application returns `environ["wsgi.file_wrapper"](file)` (or
 * `new FileWrapper(file)`) as its body. Any gateway can iterate it, block by
 * block; ours recognises it and streams the file itself (a `Deno.FsFile`'s
 * `readable`), so the bytes never pass through the application's code.
 * `close()` closes the file, once, however the response ended.
 *
 * Beyond wsgiref: `offset` and `length` send part of a file (static files'
 * `Range` requests use them).
 *
 * @module
 */

/** What a file wrapper reads: a `Deno.FsFile`, or anything with its `read()`. */
export interface FileLike {
  /** Reads into `p`; the number of bytes read, or `null` at the end. */
  read(p: Uint8Array): Promise<number | null>;
  /** Moves the read position (needed for `offset`). */
  seek?(offset: number, whence: Deno.SeekMode): Promise<number>;
  /** Closes the file. */
  close?(): void;
  /** The whole file as a stream (a `Deno.FsFile` has one). */
  readonly readable?: ReadableStream<Uint8Array>;
}

/** Options of {@linkcode FileWrapper}. */
export interface FileWrapperOptions {
  /** Bytes per block when iterated; 64 KiB by default. */
  blksize?: number;
  /** Where to start, in bytes from the start of the file; 0 by default. */
  offset?: number;
  /** How many bytes to send at most; to the end of the file by default. */
  length?: number;
}

/** The `wsgi.file_wrapper` callable: PEP 3333's `file_wrapper(filelike, block_size)`. */
export type FileWrapperFactory = (filelike: FileLike, blksize?: number) => FileWrapper;

const DEFAULT_BLKSIZE = 64 * 1024;

/**
 * A file as a response body: iterable in blocks of `blksize` bytes, and
 * streamed by the gateway without the application's code in the way.
 *
 * @example
 * ```ts
 * import { FileWrapper } from "./file_wrapper.ts";
 * import type { Application } from "./types.ts";
 * export const application: Application = async (_environ, start_response) => {
 *   const file = await Deno.open(new URL(import.meta.url));
 *   start_response("200 OK", [["Content-Type", "text/plain"]]);
 *   return new FileWrapper(file);
 * };
 * ```
 */
export class FileWrapper implements AsyncIterable<Uint8Array> {
  /** The wrapped file. */
  readonly filelike: FileLike;
  /** Bytes per block when iterated. */
  readonly blksize: number;
  /** Where the bytes start in the file. */
  readonly offset: number;
  /** How many bytes at most; `undefined` for the rest of the file. */
  readonly length: number | undefined;
  #closed = false;

  /**
   * @param filelike the file to send
   * @param options the block size (a number, as wsgiref's `blksize`), or {@linkcode FileWrapperOptions}
   * @throws {TypeError} when `filelike` has no `read()`
   * @throws {RangeError} for a block size, offset or length that is not a non-negative integer
   */
  constructor(filelike: FileLike, options: number | FileWrapperOptions = {}) {
    if (typeof (filelike as FileLike | null)?.read !== "function") {
      throw new TypeError(
        "Cannot wrap file: it must have a read(buffer) method, as Deno.FsFile does",
      );
    }
    const o = typeof options === "number" ? { blksize: options } : options;
    this.filelike = filelike;
    this.blksize = o.blksize ?? DEFAULT_BLKSIZE;
    this.offset = o.offset ?? 0;
    this.length = o.length;
    for (
      const [what, n] of [["blksize", this.blksize], ["offset", this.offset], [
        "length",
        this.length,
      ]] as const
    ) {
      if (n !== undefined && (!Number.isInteger(n) || n < 0 || (what === "blksize" && n === 0))) {
        throw new RangeError(
          `Cannot wrap file: ${what} must be a ${
            what === "blksize" ? "positive" : "non-negative"
          } integer (got ${n})`,
        );
      }
    }
  }

  /** Whether {@linkcode FileWrapper.close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  async #seek(): Promise<void> {
    if (this.offset === 0) return;
    if (typeof this.filelike.seek !== "function") {
      throw new TypeError("Cannot send part of a file: it has no seek() method");
    }
    await this.filelike.seek(this.offset, Deno.SeekMode.Start);
  }

  /** Reads the file block by block (it stays open: `close()` closes it). */
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    await this.#seek();
    let left = this.length ?? Infinity;
    while (left > 0) {
      const buffer = new Uint8Array(Math.min(this.blksize, left));
      const n = await this.filelike.read(buffer);
      if (n === null || n === 0) return;
      left -= n;
      yield buffer.subarray(0, n);
    }
  }

  /**
   * The bytes as a stream, for a gateway: the file's own `readable` when the
   * whole file is sent, else a stream that reads the part block by block.
   * Either way the file is closed when the stream ends or is cancelled.
   */
  stream(): ReadableStream<Uint8Array> {
    const readable = this.offset === 0 && this.length === undefined
      ? this.filelike.readable
      : undefined;
    if (readable !== undefined) return readable;
    const blocks = this[Symbol.asyncIterator]();
    return new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        try {
          const r = await blocks.next();
          if (r.done) {
            controller.close();
            this.close();
          } else controller.enqueue(r.value);
        } catch (error) {
          this.close();
          controller.error(error);
        }
      },
      cancel: () => this.close(),
    }, { highWaterMark: 0 });
  }

  /** Closes the file, once; later calls do nothing. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.filelike.close?.();
    } catch (error) {
      // A Deno.FsFile whose `readable` ended is closed already.
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  }
}

/** `wsgi.file_wrapper`: `file_wrapper(filelike, blksize?)` makes a {@linkcode FileWrapper}. */
export const fileWrapper: FileWrapperFactory = (filelike, blksize) =>
  new FileWrapper(filelike, blksize === undefined ? {} : blksize);
