/**
 * The streaming rows' WSGI application, for `tests/bench/peers.ts`:
 *
 * - `GET /download?bytes=N` answers N bytes, in 64 KiB chunks from a generator;
 * - `POST /upload?read=65536` reads the body with `read(65536)` until it ends,
 *   `POST /upload?read=all` with one `read()`, and answers the byte count.
 *
 * Its twin for raw `Deno.serve` is `raw_stream_server.ts`; both make a new
 * 64 KiB chunk each time, so that neither hands out a buffer it reuses.
 *
 * @module
 */

import type { Application } from "../../../server/types.ts";

const CHUNK = 64 * 1024;

export const application: Application = async (environ, start_response) => {
  const query = new URLSearchParams(environ.QUERY_STRING);
  if (environ.REQUEST_METHOD === "POST") {
    const input = environ["wsgi.input"];
    let total = 0;
    if (query.get("read") === "all") total = (await input.read()).length;
    else {
      for (;;) {
        const part = await input.read(CHUNK);
        if (part.length === 0) break;
        total += part.length;
      }
    }
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return [new TextEncoder().encode(String(total))];
  }
  const size = Number(query.get("bytes") ?? CHUNK);
  start_response("200 OK", [
    ["Content-Type", "application/octet-stream"],
    ["Content-Length", String(size)],
  ]);
  return (function* () {
    for (let sent = 0; sent < size; sent += CHUNK) {
      yield new Uint8Array(Math.min(CHUNK, size - sent));
    }
  })();
};
