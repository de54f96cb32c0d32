/**
 * An extra baseline of the throughput benchmark, the *app ceiling*: the
 * floor's reads (`floor_server.ts`), then a call of the hello application
 * itself (`examples/hello.ts`, which builds a `TextEncoder` and encodes its
 * page on every call), whose output is dropped, then the same constant
 * response. What the application costs by itself is no gateway's doing, so
 * `gateway/app` is what the gateway costs on top of the floor and the app.
 *
 * Run by `throughput.ts`: `deno run -A tests/bench/app_server.ts`. Listens on
 * 127.0.0.1 on a free port and prints its URL on stdout.
 *
 * @module
 */

import type { Environ, Header } from "../../server/types.ts";
import { application } from "../../examples/hello.ts";

/** Everything read or produced goes in here, so that nothing can be optimised away. */
let sink = 0;
const environ = {} as Environ;
const write = (data: Uint8Array) => void (sink += data.length);
const startResponse = (status: string, headers: Header[]) => {
  sink += status.length + headers.length;
  return write;
};

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`Serving HTTP on http://127.0.0.1:${port}`),
}, (request, info) => {
  sink += request.method.length + request.url.length;
  request.headers.forEach((value, name) => sink += name.length + value.length);
  const peer = info.remoteAddr;
  sink += peer.hostname.length + peer.port;
  for (const chunk of application(environ, startResponse) as Uint8Array[]) sink += chunk.length;
  if (sink > 2 ** 50) sink = 0;
  return new Response("<h1>Hello,web</h1>", { headers: { "Content-Type": "text/html" } });
});
