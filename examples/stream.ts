/**
 * A streaming response: an async generator that yields one line at a time,
 * with a pause between lines. The client sees each line as it is produced;
 * the generator's `finally` runs even when the client goes away mid-stream.
 *
 * `?n=` sets the number of lines (default 5), `?delay=` the pause in ms
 * (default 200). Run: `deno run -A mod.ts examples/stream.ts`, then
 * `curl -N http://127.0.0.1:8000/`.
 *
 * @module
 */

import type { Application } from "../mod.ts";

const encoder = new TextEncoder();

/** Streams `n` numbered lines, `delay` ms apart. */
export const application: Application = (environ, start_response) => {
  const params = new URLSearchParams(environ.QUERY_STRING);
  const n = Number(params.get("n") ?? 5);
  const delay = Number(params.get("delay") ?? 200);
  start_response("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
  return (async function* () {
    try {
      for (let i = 1; i <= n; i++) {
        if (i > 1) await new Promise((resolve) => setTimeout(resolve, delay));
        yield encoder.encode(`line ${i} of ${n}\n`);
      }
    } finally {
      environ["wsgi.errors"].write(`stream: generator finalized\n`);
    }
  })();
};
