/**
 * The streaming rows' baseline for `tests/bench/peers.ts`: raw `Deno.serve`
 * moving the same bytes as `stream_app.ts` (`GET /download?bytes=N`,
 * `POST /upload?read=65536|all`). Listens on 127.0.0.1 on a free port and
 * prints its URL on stdout.
 *
 * @module
 */

const CHUNK = 64 * 1024;

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => console.log(`Serving HTTP on http://127.0.0.1:${port}`),
}, async (request) => {
  const query = new URL(request.url).searchParams;
  if (request.method === "POST") {
    let total = 0;
    if (query.get("read") === "all") total = (await request.arrayBuffer()).byteLength;
    else for await (const part of request.body ?? []) total += part.length;
    return new Response(String(total), { headers: { "Content-Type": "text/plain" } });
  }
  const size = Number(query.get("bytes") ?? CHUNK);
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= size) return controller.close();
      const n = Math.min(CHUNK, size - sent);
      sent += n;
      controller.enqueue(new Uint8Array(n));
    },
  }, { highWaterMark: 0 });
  return new Response(body, {
    headers: { "Content-Type": "application/octet-stream", "Content-Length": String(size) },
  });
});
