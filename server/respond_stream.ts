/**
 * The general path: a body that is any iterable but an array (a generator,
 * an async generator, a stream of chunks), read as the client reads it,
 * with backpressure.
 *
 * The headers wait for the first non-empty chunk (PEP 3333), so that a body
 * that fails before it yields anything is still answered with a 500 page.
 * The body is read through `chunks()` of `./close.ts`, whose `finally` calls
 * its `close()`, however the reading stops.
 *
 * @module
 */

import type { ResponseBody } from "./types.ts";
import { isNullBodyStatus } from "./rules.ts";
import { abandon, type Chunks, chunks, stop } from "./close.ts";
import { type Exchange, NONE } from "./exchange.ts";
import { fail, sendArray } from "./respond_array.ts";
import { pump } from "./write_stream.ts";

/** Answers a streamed body: waits for its first chunk, then streams it as the client reads. */
export async function respondStream(ex: Exchange, body: ResponseBody): Promise<Response> {
  ex.onPending();
  const gen = chunks(ex, body);
  let first: Uint8Array | undefined;
  try {
    // Before the headers go out, Deno.serve gives no sign that the client
    // left: its request.signal would, but reading it makes Deno 2.9 print a
    // "legacy behavior" warning once a response succeeds. A body stuck here
    // is closed once it yields (the response then finds the client gone) or ends.
    while (ex.written.length === 0) {
      const r = await gen.next();
      if (r.done) break;
      if (r.value.length > 0) {
        first = r.value;
        break;
      }
    }
  } catch (error) {
    return fail(ex, "iterable", error);
  }
  // Timed out while the app made its first chunk: the 504 went out already.
  if (ex.finished) {
    await stop(ex, gen);
    return new Response(null, { status: 504 });
  }
  if (ex.live !== undefined) {
    // The iterable called write() before its first chunk: the live stream carries on.
    if (first !== undefined) ex.enqueue(ex.live, first, ex.declaredLength());
    void pump(ex, body, gen);
    return ex.liveResponse!;
  }
  const done = first === undefined && ex.written.length === 0;
  const problem = ex.checkReady(done ? 0 : isNullBodyStatus(ex.code) ? 1 : undefined);
  if (problem) {
    await stop(ex, gen);
    return fail(ex, "application", problem);
  }
  if (done || ex.method === "HEAD") {
    // The body is closed (its generator ended, or is stopped here): answer with no bytes.
    if (!done) await stop(ex, gen);
    ex.stamp();
    return sendArray(ex, [], 0);
  }
  return streamOut(ex, body, gen, first);
}

/** Sends the headers with a stream that reads the rest of the body as the client reads. */
function streamOut(
  ex: Exchange,
  body: ResponseBody,
  gen: Chunks,
  first: Uint8Array | undefined,
): Response {
  const declared = ex.declaredLength();
  return sendStream(
    ex,
    async (controller) => {
      try {
        for (;;) {
          ex.pulling = true;
          const r = await gen.next();
          ex.pulling = false;
          // The client may have gone away while the app was producing.
          if (ex.finished) return;
          for (const w of ex.written) ex.enqueue(controller, w, declared);
          ex.written = NONE;
          if (r.done) {
            ex.checkEnd(declared, "body");
            controller.close();
            ex.finishNow("end");
            return;
          }
          if (r.value.length > 0) {
            ex.enqueue(controller, r.value, declared);
            return;
          }
        }
      } catch (error) {
        ex.pulling = false;
        if (ex.finished) return;
        ex.report("iterable", error);
        await stop(ex, gen);
        ex.cut(controller, error);
      }
    },
    async () => {
      ex.finishNow("aborted", "client disconnected");
      if (ex.pulling) abandon(ex, body, gen);
      else await stop(ex, gen);
    },
    declared,
    first,
  );
}

/**
 * Sends the status and headers now, with a body stream that `pull` feeds
 * as the client reads (none is read ahead); `cancel` runs if the client
 * leaves. What `write()` queued goes first, then `first`.
 */
export function sendStream(
  ex: Exchange,
  pull: (controller: ReadableStreamDefaultController<Uint8Array>) => Promise<void>,
  cancel: () => Promise<void>,
  declared: number | undefined,
  first?: Uint8Array,
): Response {
  const queue = ex.written === NONE ? [] : ex.written;
  if (first !== undefined) queue.push(first);
  ex.written = NONE;
  const stream = new ReadableStream<Uint8Array>({
    start: (controller) => {
      // Also for a timeout's cut.
      ex.controller = controller;
      for (const chunk of queue) ex.enqueue(controller, chunk, declared);
    },
    pull,
    cancel,
  }, { highWaterMark: 0 });
  const response = new Response(stream, { status: ex.code, headers: ex.headers });
  ex.stamp();
  ex.sent();
  return response;
}
