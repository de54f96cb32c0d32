/**
 * Baseline (a) of the throughput benchmark: raw `Deno.serve` answering the
 * hello page with a constant response and reading nothing of the request.
 *
 * Run by `throughput.ts`: `deno run -A tests/bench/raw_server.ts`. Listens on
 * 127.0.0.1 on a free port and prints its URL on stdout; the benchmark stops it
 * (and wraps it in `timeout`, so it stops by itself).
 *
 * @module
 */

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`Serving HTTP on http://127.0.0.1:${port}`),
}, () => new Response("<h1>Hello,web</h1>", { headers: { "Content-Type": "text/html" } }));
