/**
 * A Hono app, served by the WSGI gateway: `fromFetch` makes any fetch
 * handler a WSGI application, so the inspector records its exchanges like
 * any other (the environ, the status and headers, every streamed chunk).
 *
 * ```sh
 * deno run -A mod.ts examples/hono.ts       # the CLI takes `export default app` ({ fetch })
 * ```
 *
 * Nothing here knows about WSGI: the CLI sees an object with a `fetch`
 * method and runs it through `fromFetch`. In a program: `serve(fromFetch(app))`,
 * or `mount({ "/api": fromFetch(api), "/": site })` (a fetch handler sees the
 * whole path: give a mounted Hono app its `basePath`).
 *
 * @module
 */

import { Hono } from "npm:hono@4.13.19";
import { streamText } from "npm:hono@4.13.19/streaming";

const app = new Hono();

app.get("/", (c) => c.html("<h1>Hello from Hono, through WSGI</h1>"));

app.get("/hello/:name", (c) => c.json({ hello: c.req.param("name"), query: c.req.query() }));

app.post("/echo", async (c) => {
  const body = await c.req.json();
  return c.json({ youSent: body }, 201);
});

app.get("/stream", (c) =>
  streamText(c, async (stream) => {
    for (let i = 1; i <= 3; i++) {
      await stream.writeln(`chunk ${i}`);
      await stream.sleep(10);
    }
  }));

app.get("/cookie", (c) => {
  c.header("Set-Cookie", "a=1; Path=/", { append: true });
  c.header("Set-Cookie", "b=2; Path=/", { append: true });
  return c.text("two cookies");
});

/** The Hono app itself: `{ fetch }`, as `deno serve` and our CLI take it. */
export default app;
