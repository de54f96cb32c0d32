/**
 * fromFetch(): fetch handlers (a plain function, `{ fetch }`, a Hono app) as
 * WSGI applications, in memory, over a socket, and recorded by the inspector.
 */

import { deepEqual, equal, match, ok, throws } from "node:assert/strict";
import type { Application } from "../mod.ts";
import { fromFetch } from "../server/from_fetch.ts";
import { toFetch } from "../server/gateway.ts";
import { mount } from "../server/mount.ts";
import honoApp from "../examples/hono.ts";
import { EventLog, rawRequest, spawnDeno, text, waitFor, withServer } from "./_helpers.ts";
import { environOf, stateOf, withInspector } from "./_inspector.ts";
import type { ExchangeDetail } from "../inspector/protocol.ts";

/**
 * What the inspector recorded for the newest exchange whose target is
 * `target`, read from its side-port API (`GET /api/exchanges`, then
 * `GET /api/exchanges/:id`) and folded by the inspector's reducer. The one
 * place this test knows the wire format.
 */
async function recordedExchange(origin: string, target: string): Promise<{
  environ: Record<string, unknown>;
  statusLine: string | null;
  headers: [string, string][];
  chunks: string[];
  events: string[];
}> {
  const list = await (await fetch(`${origin}/api/exchanges?limit=100`)).json();
  const summary = list.exchanges.find((e: { target: string }) => e.target === target);
  ok(summary, `an exchange for ${target} in ${JSON.stringify(list.exchanges)}`);
  const detail: ExchangeDetail = await (await fetch(`${origin}/api/exchanges/${summary.id}`))
    .json();
  const state = stateOf(detail);
  const response = Uint8Array.fromBase64(detail.response.body.bytes);
  const decoder = new TextDecoder();
  return {
    environ: environOf(detail),
    statusLine: detail.statusLine,
    headers: state.startResponse?.headers ?? [],
    chunks: state.response.parts.map((part) =>
      decoder.decode(response.subarray(part.offset, part.offset + part.kept))
    ),
    events: detail.events.map((e) => e.type),
  };
}

Deno.test("fromFetch() hands the handler a Request made from the environ", async () => {
  let seen: { method: string; url: string; headers: [string, string][]; body: string } | undefined;
  let peer: Deno.NetAddr | undefined;
  const app = fromFetch(async (request, info) => {
    seen = {
      method: request.method,
      url: request.url,
      headers: [...request.headers],
      body: await request.text(),
    };
    peer = info.remoteAddr;
    return new Response("ok", { headers: { "content-type": "text/plain" } });
  });
  await withServer(app, async (server) => {
    const r = await rawRequest(
      server.port,
      "POST /a%20b/c?x=1&y=%2F HTTP/1.1\r\nHost: example.test:8080\r\nX-Trace-Id: t1\r\n" +
        'Content-Type: application/json\r\nContent-Length: 7\r\nConnection: close\r\n\r\n{"a":1}',
    );
    equal(r.status, 200);
    match(text(r.body), /\bok\b/); // chunked: the body was streamed
  });
  equal(seen!.method, "POST");
  equal(seen!.url, "http://example.test:8080/a%20b/c?x=1&y=%2F");
  equal(seen!.body, '{"a":1}');
  const headers = new Map(seen!.headers);
  equal(headers.get("x-trace-id"), "t1");
  equal(headers.get("content-type"), "application/json");
  equal(headers.get("content-length"), "7");
  equal(headers.get("host"), "example.test:8080");
  equal(peer!.hostname, "127.0.0.1");
  ok(peer!.port > 0);
});

Deno.test("fromFetch() sends status, reason, headers (cookies apart, no hop-by-hop) and streams the body", async () => {
  const log = new EventLog();
  const app = fromFetch({
    fetch: () => {
      const headers = new Headers([["content-type", "text/plain"], ["connection", "close"]]);
      headers.append("set-cookie", "a=1");
      headers.append("set-cookie", "b=2");
      let i = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (++i > 3) controller.close();
          else controller.enqueue(new TextEncoder().encode(`part ${i};`));
        },
      });
      return new Response(body, { status: 418, headers });
    },
  });
  const response = await toFetch(app, { recorder: log })(new Request("http://localhost/"));
  equal(response.status, 418);
  deepEqual(response.headers.getSetCookie(), ["a=1", "b=2"]);
  equal(await response.text(), "part 1;part 2;part 3;");
  const [start] = log.of("start_response");
  equal(start!.status, "418 I'm a Teapot");
  deepEqual(start!.headers, [["content-type", "text/plain"], ["set-cookie", "a=1"], [
    "set-cookie",
    "b=2",
  ]]);
  deepEqual(
    log.of("chunk").map((c) => new TextDecoder().decode(c.bytes)),
    ["part 1;", "part 2;", "part 3;"],
  );
  ok(log.types().includes("close"));
});

Deno.test("fromFetch() under mount: the handler sees the whole path; a client that leaves cancels its body", async () => {
  let cancelled = false;
  const api = fromFetch((request) => {
    if (new URL(request.url).pathname === "/api/endless") {
      return new Response(
        new ReadableStream({
          pull: (c) => c.enqueue(new Uint8Array(1024)),
          cancel: () => void (cancelled = true),
        }),
        { headers: { "content-type": "application/octet-stream" } },
      );
    }
    return new Response(new URL(request.url).pathname, {
      headers: { "content-type": "text/plain" },
    });
  });
  const site: Application = (_e, sr) => {
    sr("200 OK", [["Content-Type", "text/plain"]]);
    return [new TextEncoder().encode("site")];
  };
  await withServer(mount({ "/api": api, "/": site }), async (server) => {
    equal(await (await fetch(`${server.url}/api/users`)).text(), "/api/users");
    equal(await (await fetch(`${server.url}/about`)).text(), "site");
    const endless = await fetch(`${server.url}/api/endless`);
    const reader = endless.body!.getReader();
    await reader.read();
    await reader.cancel();
    const deadline = Date.now() + 5000;
    while (!cancelled && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    ok(cancelled, "the handler's stream was cancelled");
  });
});

Deno.test("fromFetch() refuses what is not a handler, and a handler that returns no Response is a 500", async () => {
  throws(() => fromFetch(42 as never), /expected a function \(request\) => Response/);
  const app = fromFetch(() => "text" as unknown as Response);
  const response = await toFetch(app, { errors: { write() {}, flush() {} }, debug: true })(
    new Request("http://localhost/"),
  );
  equal(response.status, 500);
  match(await response.text(), /the fetch handler must return a Response \(got string\)/);
});

const honoApplication = fromFetch(honoApp);

Deno.test("examples/hono.ts: a Hono app served through WSGI", async () => {
  await withServer(honoApplication, async (server) => {
    const home = await fetch(server.url);
    equal(home.headers.get("content-type"), "text/html; charset=UTF-8");
    equal(await home.text(), "<h1>Hello from Hono, through WSGI</h1>");
    deepEqual(await (await fetch(`${server.url}/hello/ada?lang=en`)).json(), {
      hello: "ada",
      query: { lang: "en" },
    });
    const echo = await fetch(`${server.url}/echo`, { method: "POST", body: '{"n":1}' });
    equal(echo.status, 201);
    deepEqual(await echo.json(), { youSent: { n: 1 } });
    equal(await (await fetch(`${server.url}/stream`)).text(), "chunk 1\nchunk 2\nchunk 3\n");
    const cookies = await fetch(`${server.url}/cookie`);
    deepEqual(cookies.headers.getSetCookie(), ["a=1; Path=/", "b=2; Path=/"]);
    await cookies.body?.cancel();
    equal((await fetch(`${server.url}/missing`)).status, 404);
  });
  equal(typeof honoApp.fetch, "function", "the default export is the Hono app, { fetch }");
});

Deno.test("a Hono app's exchange is visible through the inspector's API", async () => {
  await withInspector(honoApplication, async ({ app, origin }) => {
    equal(await (await fetch(`${app.url}/stream?x=1`)).text(), "chunk 1\nchunk 2\nchunk 3\n");
    const recorded = await recordedExchange(origin, "/stream?x=1");
    equal(recorded.environ.PATH_INFO, "/stream");
    equal(recorded.environ.QUERY_STRING, "x=1");
    equal(recorded.environ.REQUEST_METHOD, "GET");
    equal(recorded.statusLine, "200 OK");
    deepEqual(new Map(recorded.headers).get("content-type"), "text/plain; charset=UTF-8");
    deepEqual(recorded.chunks, ["chunk 1\n", "chunk 2\n", "chunk 3\n"]);
    for (
      const type of ["request", "environ", "call", "start_response", "headers_sent", "close", "end"]
    ) {
      ok(recorded.events.includes(type), `a ${type} event in ${recorded.events}`);
    }
  });
});

Deno.test("examples/hono.ts runs under the CLI as it is, recorded by the inspector", async () => {
  const child = await spawnDeno([
    "run",
    "-A",
    "mod.ts",
    "examples/hono.ts",
    "--port",
    "0",
    "--inspector-port",
    "0",
  ]);
  try {
    equal(await (await fetch(`${child.url}/stream`)).text(), "chunk 1\nchunk 2\nchunk 3\n");
    await waitFor(() => /Inspector on /.test(child.output()), 5000, "the inspector's URL");
    const origin = new URL(child.output().match(/Inspector on (\S+)/)![1]!).origin;
    const recorded = await recordedExchange(origin, "/stream");
    deepEqual(recorded.chunks, ["chunk 1\n", "chunk 2\n", "chunk 3\n"]);
    ok(!child.output().includes("Validator:"), child.output());
  } finally {
    await child.stop();
  }
});
