/**
 * Baseline (b) of the throughput benchmark, the *floor*: a `Deno.serve`
 * handler that makes only the reads every PEP 3333 gateway must make — the
 * method, the target (`request.url`), every header (iterated), and the peer's
 * address — and then answers the same constant response as `raw_server.ts`.
 * No gateway on `Deno.serve` can be faster than this.
 *
 * The headers are read with `forEach`, the cheapest way that sees them all:
 * Deno's `Headers` iterator (`for...of`) rebuilds its sorted list at every
 * step, which costs about 10x more for a browser's ten headers. The gateway
 * reads them the same way (`server/environ.ts`).
 *
 * Run by `throughput.ts`: `deno run -A tests/bench/floor_server.ts`. Listens on
 * 127.0.0.1 on a free port and prints its URL on stdout.
 *
 * @module
 */

/** Everything read goes in here, so that no read can be optimised away. */
let sink = 0;

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`Serving HTTP on http://127.0.0.1:${port}`),
}, (request, info) => {
  sink += request.method.length + request.url.length;
  request.headers.forEach((value, name) => sink += name.length + value.length);
  const peer = info.remoteAddr;
  sink += peer.hostname.length + peer.port;
  if (sink > 2 ** 50) sink = 0;
  return new Response("<h1>Hello,web</h1>", { headers: { "Content-Type": "text/html" } });
});
