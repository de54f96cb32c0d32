/**
 * The rest of the legacy `write()` path (PEP 3333: "the write() callable").
 *
 * The first `write()` sends the status and headers at once, with a body
 * stream that each `write()` feeds (`Exchange.write` and `openLive` in
 * `./exchange.ts`). What the application then returns feeds the same
 * stream, as the client reads ({@linkcode pump}); a failure after that cuts
 * it once what `write()` queued has gone out ({@linkcode cutLive}).
 *
 * @module
 */

import type { ResponseBody } from "./types.ts";
import type { Exchange } from "./exchange.ts";
import { bodyError } from "./rules.ts";
import { type Chunks, chunks, closeQuietly, stop } from "./close.ts";

/**
 * Feeds the live stream from the body the application returned after
 * `write()`, as the client reads. The body is read through `chunks()`, whose
 * `finally` calls its `close()`; a body that cannot be read (wrong type, or
 * the client already left) is closed here.
 *
 * @param gen the body's reader, when reading it began elsewhere (`respondStream`)
 */
export async function pump(ex: Exchange, body: ResponseBody, gen?: Chunks): Promise<void> {
  const live = ex.live!;
  const declared = ex.declaredLength();
  if (gen === undefined) {
    const wrong = bodyError(body);
    if (wrong !== undefined || ex.finished) {
      await closeQuietly(ex, body);
      if (wrong !== undefined && !ex.finished) {
        ex.report("application", wrong);
        cutLive(ex, wrong);
      }
      return;
    }
    gen = chunks(ex, body);
  }
  ex.pumped = { body, gen };
  try {
    for (;;) {
      while ((live.desiredSize ?? 0) <= 0 && !ex.finished) {
        await new Promise<void>((resolve) => (ex.wake = resolve));
      }
      if (ex.finished) break;
      ex.pulling = true;
      const r = await gen.next();
      ex.pulling = false;
      if (ex.finished) break;
      if (r.done) {
        ex.checkEnd(declared, "body");
        live.close();
        ex.finishNow("end");
        return;
      }
      if (r.value.length > 0) ex.enqueue(live, r.value, declared);
    }
    await stop(ex, gen); // the client left: finalize the body, close() it
  } catch (error) {
    ex.pulling = false;
    if (ex.finished) return;
    ex.report("iterable", error);
    await stop(ex, gen);
    cutLive(ex, error);
  }
}

/** Cuts the live stream, once what `write()` queued has gone out. */
export function cutLive(ex: Exchange, error: unknown): void {
  const signal = ex.cutSignal(error) as Error;
  const live = ex.live!;
  // An empty queue (desiredSize at the high-water mark, 1) can be cut now;
  // else pull() cuts it when the client has taken the rest.
  if ((live.desiredSize ?? 0) >= 1) live.error(signal);
  else ex.cutting = signal;
}
