/**
 * A response body's `close()`: PEP 3333 has the server call it once the
 * response is over, however it ended. {@linkcode closeBody} is the only code
 * that calls it: once per body, recorded (a `close` event, also when the
 * body has none). Each kind of body has one home that calls it:
 *
 * | body | the home of its `close()` | why it must stay there |
 * |---|---|---|
 * | an array of chunks, or a value of the wrong type | `respondArray()` (`./respond_array.ts`), before the response is made | it is answered at once, so `close()` runs before the exchange ends, and one that fails can still be answered with a 500: nothing was sent |
 * | any other iterable (after `write()` too) | the `finally` of {@linkcode chunks}, which every streamed body is read through | a generator's `finally` runs however the reading stops: the body ended, it threw, or {@linkcode stop} returned it (the client left, the deadline passed, the headers were refused) |
 * | a `wsgi.file_wrapper` | `respondFile()` (`./file_body.ts`): when the file's stream ends, fails or is cancelled, or at once when it is not sent (HEAD, a refused response) | the file's own stream is read, not the iterable, so no generator's `finally` sees its end |
 *
 * One exception, {@linkcode abandon}: a client that leaves while a streamed
 * body's `next()` is pending cannot wait for that `finally`, so `close()` is
 * called at once there, and the `finally` finds it done.
 *
 * @module
 */

import type { ResponseBody } from "./types.ts";
import type { ErrorSite } from "./recorder.ts";
import { chunkError } from "./rules.ts";

/** A streamed body, read through {@linkcode chunks}. */
export type Chunks = AsyncGenerator<Uint8Array, void, undefined>;

/** What the functions here need of an exchange (`Exchange` of `./exchange.ts` is one). */
export interface BodyOwner {
  /** The body whose `close()` was called (or found absent): never twice. */
  closed: ResponseBody | undefined;
  /** Recording hooks (see `./exchange.ts`). */
  onClose(called: boolean): void;
  onChunk(index: number, chunk: Uint8Array): void;
  onLint(rule: string, message: string): void;
  /** Reports an exception: to the recorder and to stderr. */
  report(where: ErrorSite, error: unknown): void;
}

/** Whether `value` is a Promise or another thenable. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

/**
 * Calls the body's `close()` (or notes that it has none), once per body, and
 * records it. Returns a Promise only when `close()` did (and records the
 * event once it settled); a synchronous `close()` that throws, throws here.
 */
export function closeBody(owner: BodyOwner, body: ResponseBody): Promise<void> | undefined {
  if (owner.closed === body) return undefined;
  owner.closed = body;
  const close = (body as { close?: unknown } | null | undefined)?.close;
  if (typeof close !== "function") {
    owner.onClose(false);
    return undefined;
  }
  const result = close.call(body);
  if (isThenable(result)) return Promise.resolve(result).then(() => owner.onClose(true));
  owner.onClose(true);
  return undefined;
}

/** {@linkcode closeBody}, its failure reported rather than thrown. */
export async function closeQuietly(owner: BodyOwner, body: ResponseBody): Promise<void> {
  try {
    await closeBody(owner, body);
  } catch (error) {
    owner.report("close", error);
  }
}

/**
 * Reads a streamed body chunk by chunk, checking and recording each; its
 * `finally` is where a streamed body's `close()` is called (see the table
 * above: it runs whichever way the reading stops).
 */
export async function* chunks(owner: BodyOwner, body: ResponseBody): Chunks {
  try {
    let index = 0;
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      if (!(chunk instanceof Uint8Array)) throw chunkError(chunk, index, "body chunk");
      owner.onChunk(index, chunk);
      index++;
      yield chunk;
    }
  } finally {
    await closeBody(owner, body);
  }
}

/** Stops reading a streamed body: returns the generator, so that its `finally` (and `close()`) runs. */
export async function stop(owner: BodyOwner, gen: Chunks): Promise<void> {
  try {
    await gen.return();
  } catch (error) {
    owner.report("close", error);
  }
}

/**
 * The client went away while the body's `next()` is pending. Returning the
 * generator would wait for that `next()` (JavaScript queues `return()` on
 * an async generator until its pending `await` settles, which may be
 * never), so the body's `close()` is called now, once; the generator is
 * still returned, for its `finally`, whenever it gets there. A body with no
 * `close()` (an async generator) can only be finalized by that queued
 * `return()`: a `lint` event says so, and its `close` event comes when the
 * generator's `finally` has run.
 */
export function abandon(owner: BodyOwner, body: ResponseBody, gen: Chunks): void {
  if (typeof (body as { close?: unknown }).close === "function") {
    closeQuietly(owner, body);
  } else {
    owner.onLint(
      "close.queued",
      "The client went away while the body was waiting in an await; the body has no close(), and JavaScript queues return() on an async generator until its pending await settles, so its finally block runs only then. Give the body a close() to be told at once",
    );
  }
  stop(owner, gen);
}
