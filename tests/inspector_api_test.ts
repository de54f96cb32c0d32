import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import type {
  ExchangeDetail,
  ExchangeList,
  ReplayResult,
  StreamMessage,
} from "../inspector/protocol.ts";
import type { Har } from "../inspector/har.ts";
import { createApi } from "../inspector/api.ts";
import { Guard, isLoopback, needsToken, parseHost } from "../inspector/guard.ts";
import { createInspector } from "../inspector/mod.ts";
import { ExchangeStore } from "../inspector/store.ts";
import { serve } from "../server/serve.ts";
import type { Recorder } from "../server/recorder.ts";
import type { Application } from "../server/types.ts";
import { MemorySink, rawRequest, waitFor } from "./_helpers.ts";
import {
  bodyText,
  echoApp,
  environOf,
  noise,
  SseReader,
  stateOf,
  textApp,
  withInspector,
} from "./_inspector.ts";

async function getJson<T>(url: string | URL, init?: RequestInit): Promise<T> {
  const response = await fetch(url, init);
  const text = await response.text();
  equal(response.status, 200, `${url}: ${text}`);
  return JSON.parse(text) as T;
}

async function status(url: string | URL, init?: RequestInit): Promise<[number, string]> {
  const response = await fetch(url, init);
  return [response.status, await response.text()];
}

Deno.test("GET /api/exchanges lists newest first, filters and pages over HTTP", async () => {
  await withInspector(echoApp, async ({ app, origin }) => {
    await (await fetch(`${app.url}/one?x=1`)).text();
    await (await fetch(`${app.url}/missing`)).text();
    await (await fetch(`${app.url}/three`, { method: "POST", body: "hi" })).text();
    const all = await getJson<ExchangeList>(`${origin}/api/exchanges`);
    equal(all.total, 3);
    deepEqual(all.exchanges.map((e) => e.target), ["/three", "/missing", "/one?x=1"]);
    deepEqual(all.exchanges.map((e) => e.status), [200, 404, 200]);
    equal(all.exchanges[0]!.requestBytes, 2);
    const posts = await getJson<ExchangeList>(`${origin}/api/exchanges?method=POST`);
    deepEqual(posts.exchanges.map((e) => e.target), ["/three"]);
    const errors = await getJson<ExchangeList>(`${origin}/api/exchanges?status=4xx`);
    deepEqual(errors.exchanges.map((e) => e.target), ["/missing"]);
    const q = await getJson<ExchangeList>(`${origin}/api/exchanges?q=x%3D1`);
    deepEqual(q.exchanges.map((e) => e.target), ["/one?x=1"]);
    const page = await getJson<ExchangeList>(`${origin}/api/exchanges?limit=1&before=3`);
    equal(page.total, 3);
    deepEqual(page.exchanges.map((e) => e.seq), [2]);
    const [code, body] = await status(`${origin}/api/exchanges?status=bad`);
    equal(code, 400);
    match(JSON.parse(body).error, /a class like "4xx" \(got "bad"\)/);
    equal((await status(`${origin}/api/exchanges?limit=0`))[0], 400);
  });
});

Deno.test("GET /api/exchanges/:id answers one exchange with its events and bodies", async () => {
  await withInspector(echoApp, async ({ app, origin }) => {
    await (await fetch(`${app.url}/echo?a=b`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "hello body",
    })).text();
    const detail = await getJson<ExchangeDetail>(`${origin}/api/exchanges/1`);
    equal(detail.method, "POST");
    equal(detail.target, "/echo?a=b");
    const state = stateOf(detail);
    equal(state.environ?.PATH_INFO, "/echo");
    equal(state.environ?.CONTENT_TYPE, "text/plain");
    equal(bodyText(detail.request.body), "hello body");
    equal(bodyText(detail.response.body), "hello body");
    equal(state.statusSet?.status, "200 OK");
    ok(detail.events.some((e) => e.type === "input"));
    equal(detail.events.at(-1)?.type, "end");
    ok(
      state.request?.headers.some(([name, value]) =>
        name === "content-type" && value === "text/plain"
      ),
    );
    const [code, body] = await status(`${origin}/api/exchanges/99`);
    equal(code, 404);
    match(JSON.parse(body).error, /^No exchange "99"/);
    equal((await status(`${origin}/api/nothing`))[0], 404);
  });
});

Deno.test("GET /api/stream sends new exchanges and their events as they happen", async () => {
  const slow: Application = (_environ, start_response) => {
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return (async function* () {
      yield new TextEncoder().encode("a");
      yield new TextEncoder().encode("b");
    })();
  };
  await withInspector(slow, async ({ app, origin }) => {
    const response = await fetch(`${origin}/api/stream`);
    equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const sse = new SseReader(response);
    try {
      await sse.until((_, comments) => comments.includes("connected"), "the first comment");
      equal(await (await fetch(`${app.url}/live`)).text(), "ab");
      await sse.until(
        (messages) =>
          messages.some((m) => m.kind === "event" && m.event.type === "end") &&
          messages.some((m) =>
            m.kind === "exchange" && m.exchange.state === "complete" &&
            m.exchange.target === "/live"
          ),
        "the exchange's end",
      );
      const first = sse.messages[0] as Extract<StreamMessage, { kind: "exchange" }>;
      equal(first.kind, "exchange");
      equal(first.exchange.id, "1");
      const events = sse.messages.filter((m) => m.kind === "event");
      deepEqual(events.map((m) => m.event.type), [
        "request",
        "environ",
        "call",
        "start_response",
        "chunk",
        "headers_sent",
        "chunk",
        "close",
        "end",
      ]);
      const chunks = events.filter((m) => m.event.type === "chunk");
      deepEqual(chunks.map((m) => m.event.data), [
        { index: 0, bytes: { stream: "response", offset: 0, size: 1, kept: 1 } },
        { index: 1, bytes: { stream: "response", offset: 1, size: 1, kept: 1 } },
      ]);
      // Each byte once: with the event that added it.
      deepEqual(chunks.map((m) => m.bytes), ["YQ==", "Yg=="]);
      deepEqual(events.map((m) => m.index), events.map((_, i) => i));

      const [cleared] = await status(`${origin}/api/clear`, {
        method: "POST",
        headers: { origin },
      });
      equal(cleared, 200);
      await sse.until((messages) => messages.at(-1)?.kind === "clear", "the clear message");
    } finally {
      await sse.cancel();
    }
  });
});

Deno.test("GET /api/stream says what the store dropped, once per batch", async () => {
  await withInspector(textApp, async ({ app, origin }) => {
    const sse = new SseReader(await fetch(`${origin}/api/stream`));
    try {
      await sse.until((_, comments) => comments.includes("connected"), "the first comment");
      for (let i = 1; i <= 5; i++) await (await fetch(`${app.url}/${i}`)).text();
      await sse.until(
        (messages) => messages.some((m) => m.kind === "evict" && m.before === 4),
        "the eviction of exchanges 1 to 3",
      );
      const evictions = sse.messages.filter((m) => m.kind === "evict");
      ok(evictions.length <= 3, `${evictions.length} evict messages for 3 evictions`);
      const list = await getJson<ExchangeList>(`${origin}/api/exchanges`);
      deepEqual(list.exchanges.map((e) => e.target), ["/5", "/4"]);
      equal(list.maxExchanges, 2);
    } finally {
      await sse.cancel();
    }
  }, { maxExchanges: 2 });
});

Deno.test("GET /api/stream sends a keep-alive comment, and stops on disconnect", async () => {
  await withInspector(textApp, async ({ origin, inspector }) => {
    const sse = new SseReader(await fetch(`${origin}/api/stream`));
    try {
      await sse.until((_, comments) => comments.includes("ping"), "a heartbeat");
      ok(inspector.store.listening);
    } finally {
      await sse.cancel();
    }
    await waitFor(() => !inspector.store.listening, 5000, "the stream's listener to go");
  }, { heartbeatMs: 20 });
});

Deno.test("GET /api/har and /api/exchanges/:id/har export HAR 1.2", async () => {
  await withInspector(textApp, async ({ app, origin }) => {
    await (await fetch(`${app.url}/first`)).text();
    await (await fetch(`${app.url}/second`)).text();
    const response = await fetch(`${origin}/api/har`);
    match(response.headers.get("content-disposition")!, /attachment; filename=".*\.har"/);
    const all = await response.json() as Har;
    equal(all.log.version, "1.2");
    deepEqual(all.log.entries.map((e) => new URL(e.request.url).pathname), ["/first", "/second"]);
    const one = await getJson<Har>(`${origin}/api/exchanges/2/har`);
    equal(one.log.entries.length, 1);
    equal(one.log.entries[0]!.response.content.text, "GET /second");
    equal((await status(`${origin}/api/exchanges/7/har`))[0], 404);
  });
});

Deno.test("POST /api/clear forgets every exchange; GET is not allowed", async () => {
  await withInspector(textApp, async ({ app, origin }) => {
    await (await fetch(app.url)).text();
    await (await fetch(app.url)).text();
    const result = await getJson<{ cleared: number }>(`${origin}/api/clear`, {
      method: "POST",
      headers: { origin },
    });
    deepEqual(result, { cleared: 2 });
    equal((await getJson<ExchangeList>(`${origin}/api/exchanges`)).total, 0);
    const [code] = await status(`${origin}/api/clear`);
    equal(code, 405);
  });
});

Deno.test("POST /api/exchanges/:id/replay re-sends the request, edited, linked to its original", async () => {
  await withInspector(echoApp, async ({ app, origin }) => {
    await (await fetch(`${app.url}/orig?x=1`, {
      method: "POST",
      headers: { "content-type": "text/plain", "x-custom": "kept" },
      body: "original body",
    })).text();

    const same = await getJson<{ id: string; status: number }>(
      `${origin}/api/exchanges/1/replay`,
      { method: "POST", headers: { origin }, body: "{}" },
    );
    deepEqual(same, { id: "2", status: 200, changes: [] });
    const replayed = await getJson<ExchangeDetail>(`${origin}/api/exchanges/2`);
    equal(replayed.replayOf, "1");
    equal(replayed.method, "POST");
    equal(replayed.target, "/orig?x=1");
    equal(bodyText(replayed.request.body), "original body");
    equal(environOf(replayed).HTTP_X_CUSTOM, "kept");
    match(String(environOf(replayed).HTTP_X_WSGI_INSPECTOR_REPLAY), /^1; /);
    equal(replayed.state, "complete");

    const edited = await getJson<ReplayResult>(
      `${origin}/api/exchanges/1/replay`,
      {
        method: "POST",
        headers: { origin, "content-type": "application/json" },
        body: JSON.stringify({
          method: "PUT",
          target: "/missing?y=2",
          headers: [["Content-Type", "application/json"]],
          body: '{"edited":true}',
        }),
      },
    );
    equal(edited.id, "3");
    equal(edited.status, 404);
    const third = await getJson<ExchangeDetail>(`${origin}/api/exchanges/3`);
    equal(third.replayOf, "1");
    equal(third.method, "PUT");
    equal(third.target, "/missing?y=2");
    equal(environOf(third).CONTENT_TYPE, "application/json");
    equal(environOf(third).HTTP_X_CUSTOM, undefined, "edited headers replace the original's");
    equal(bodyText(third.response.body), '{"edited":true}');

    const binary = await getJson<{ id: string }>(`${origin}/api/exchanges/3/replay`, {
      method: "POST",
      headers: { origin },
      body: JSON.stringify({ bodyBase64: btoa("\x00\x01\xff") }),
    });
    const fourth = await getJson<ExchangeDetail>(`${origin}/api/exchanges/${binary.id}`);
    equal(fourth.replayOf, "3");
    equal(fourth.request.body.bytes, btoa("\x00\x01\xff"));

    const list = await getJson<ExchangeList>(`${origin}/api/exchanges`);
    deepEqual(list.exchanges.map((e) => e.replayOf), ["3", "1", "1", undefined]);

    for (
      const [body, pattern] of [
        ["not json", /must be JSON/],
        ['{"target":"http://evil.example/"}', /target must be origin-form/],
        ['{"headers":[["a"]]}', /headers must be a list/],
      ] as const
    ) {
      const [code, text] = await status(`${origin}/api/exchanges/1/replay`, {
        method: "POST",
        headers: { origin },
        body,
      });
      equal(code, 400, text);
      match(text, pattern);
    }
    equal(
      (await status(`${origin}/api/exchanges/42/replay`, { method: "POST", headers: { origin } }))[
        0
      ],
      404,
    );
  });
});

Deno.test("POST /api/exchanges/:id/replay refuses a body that was captured only in part", async () => {
  await withInspector(echoApp, async ({ app, origin }) => {
    await (await fetch(app.url, { method: "POST", body: "x".repeat(100) })).text();
    const [code, text] = await status(`${origin}/api/exchanges/1/replay`, {
      method: "POST",
      headers: { origin },
    });
    equal(code, 409);
    match(text, /captured only up to 10 of 100 bytes/);
    const [ok2] = await status(`${origin}/api/exchanges/1/replay`, {
      method: "POST",
      headers: { origin },
      body: JSON.stringify({ body: "short" }),
    });
    equal(ok2, 200);
  }, { maxBodyBytes: 10 });
});

Deno.test("the side port refuses a Host that is not a loopback name (DNS rebinding)", async () => {
  await withInspector(textApp, async ({ inspector, origin }) => {
    const port = inspector.port!;
    for (
      const host of [`evil.example:${port}`, `127.0.0.1.nip.io:${port}`, `192.168.1.9:${port}`]
    ) {
      const response = await rawRequest(
        port,
        `GET /api/exchanges HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      );
      equal(response.status, 403, host);
      match(new TextDecoder().decode(response.body), /DNS rebinding/);
    }
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `127.1.2.3:${port}`]) {
      const response = await rawRequest(
        port,
        `GET /api/exchanges HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      );
      equal(response.status, 200, host);
    }
    equal((await status(`${origin}/`))[0], 200);
  });
});

Deno.test("the side port refuses clear and replay without its own Origin (CSRF)", async () => {
  await withInspector(textApp, async ({ app, origin }) => {
    await (await fetch(app.url)).text();
    const origins: Record<string, string>[] = [{}, { origin: "http://evil.example" }, {
      origin: "null",
    }];
    for (const headers of origins) {
      for (const path of ["/api/clear", "/api/exchanges/1/replay"]) {
        const [code, text] = await status(`${origin}${path}`, {
          method: "POST",
          headers,
          body: "{}",
        });
        equal(code, 403);
        match(text, /CSRF/);
      }
    }
    equal((await getJson<ExchangeList>(`${origin}/api/exchanges`)).total, 1, "nothing was changed");
  });
});

Deno.test("the side port asks for its token in token mode as a bearer header, never a cookie", async () => {
  await withInspector(textApp, async ({ url, origin, inspector }) => {
    const token = inspector.token!;
    match(token, /^[\w-]{43}$/);
    equal(url, `${origin}/?token=${token}`);
    const bearer = { authorization: `Bearer ${token}` };
    const [denied, text] = await status(`${origin}/api/exchanges`);
    equal(denied, 401);
    match(text, /access token/);
    // Not in the query, not in a cookie: only the header opens the API.
    equal((await status(`${origin}/api/exchanges?token=${token}`))[0], 401);
    equal((await status(`${origin}/api/exchanges`, { headers: { cookie: `t=${token}` } }))[0], 401);
    equal(
      (await status(`${origin}/api/exchanges`, { headers: { authorization: "Bearer x" } }))[0],
      401,
    );
    equal((await status(`${origin}/api/exchanges`, { headers: bearer }))[0], 200);
    const stream = await fetch(`${origin}/api/stream`, { headers: bearer });
    equal(stream.status, 200);
    await stream.body?.cancel();

    // The page's shell and script hold no data: served without the token, and no cookie is set.
    for (const path of ["/", `/?token=${token}`, "/app.js"]) {
      const page = await fetch(`${origin}${path}`, { redirect: "manual" });
      await page.body?.cancel();
      equal(page.status, 200, path);
      equal(page.headers.get("set-cookie"), null, path);
    }
    const [stale, staleText] = await status(`${origin}/?token=old`);
    equal(stale, 401, "a page URL with a wrong token says so at once");
    match(staleText, /token in this URL is not the inspector's/);

    // The token does not replace the Origin check.
    equal((await status(`${origin}/api/clear`, { method: "POST", headers: bearer }))[0], 403);
    equal(
      (await status(`${origin}/api/clear`, { method: "POST", headers: { ...bearer, origin } }))[0],
      200,
    );
  }, { token: true });
});

Deno.test("createInspector() asks for a token exactly when bound off loopback", () => {
  equal(createInspector({ port: 0 }).token, undefined);
  ok(createInspector({ hostname: "0.0.0.0", port: 0 }).token);
  ok(createInspector({ hostname: "", port: 0 }).token);
  equal(createInspector({ hostname: "192.168.1.5", port: 0, token: "fixed" }).token, "fixed");
  let error: unknown;
  try {
    createInspector({ hostname: "0.0.0.0", token: false });
  } catch (e) {
    error = e;
  }
  ok(error instanceof RangeError);
  match((error as Error).message, /without an access token/);
  ok(needsToken("0.0.0.0") && needsToken("10.0.0.2") && !needsToken("localhost"));
  ok(isLoopback("127.0.0.1") && isLoopback("[::1]") && isLoopback("LOCALHOST"));
  ok(!isLoopback("localhost.evil.example") && !isLoopback("127.0.0.1.nip.io"));
  deepEqual(parseHost("[::1]:8001"), { name: "::1", port: "8001" });
});

Deno.test("Guard accepts the bound host, and any IP literal when bound to every interface", async () => {
  const check = async (guard: Guard, host: string) => {
    const response = guard.check(
      new Request(`http://${host}/api/exchanges`, { headers: { host, authorization: "Bearer t" } }),
    );
    await response?.body?.cancel();
    return response?.status ?? 200;
  };
  const lan = new Guard({ hostname: "192.168.1.5", port: 8001, token: "t" });
  equal(await check(lan, "192.168.1.5:8001"), 200);
  equal(await check(lan, "127.0.0.1:8001"), 200);
  equal(await check(lan, "192.168.1.6:8001"), 403);
  equal(await check(lan, "evil.example:8001"), 403);
  const any = new Guard({ hostname: "0.0.0.0", port: 8001, token: "t" });
  equal(await check(any, "10.1.2.3:8001"), 200);
  equal(await check(any, "[fe80::1]:8001"), 200);
  equal(await check(any, "evil.example:8001"), 403);
});

Deno.test("the side port serves the page and its script, or a placeholder without one", async () => {
  await withInspector(textApp, async ({ origin }) => {
    const page = await fetch(`${origin}/`);
    equal(page.headers.get("content-type"), "text/html; charset=utf-8");
    equal(page.headers.get("x-frame-options"), "DENY");
    equal(await page.text(), "<!doctype html><p>page</p>");
    const js = await fetch(`${origin}/app.js`);
    equal(js.headers.get("content-type"), "text/javascript; charset=utf-8");
    equal(await js.text(), "console.log(1)");
  });
  const api = createApi({ store: new ExchangeStore() });
  const placeholder = await api.fetch(new Request("http://127.0.0.1:8001/"));
  match(await placeholder.text(), /\/api\/exchanges/);
  let calls = 0;
  const failing = createApi({
    store: new ExchangeStore(),
    page: () => Promise.reject(new Error(`bundle failed ${++calls}`)),
  });
  const errorPage = await failing.fetch(new Request("http://127.0.0.1:8001/"));
  equal(errorPage.status, 500);
  match(await errorPage.text(), /Cannot build the inspector page: bundle failed/);
  api.close();
  failing.close();
});

/** A app server with and without a recorder, answering the same requests. */
async function responseBytes(app: Application, recorder: Recorder | undefined, init: {
  path: string;
  body?: Uint8Array<ArrayBuffer>;
}): Promise<{ status: number; headers: [string, string][]; body: Uint8Array }> {
  const server = serve(app, { port: 0, log: false, errors: new MemorySink(), recorder });
  try {
    const response = await fetch(server.url + init.path, {
      method: init.body ? "POST" : "GET",
      body: init.body,
    });
    const headers = [...response.headers].filter(([name]) => name !== "date");
    return { status: response.status, headers, body: new Uint8Array(await response.arrayBuffer()) };
  } finally {
    await server.shutdown();
  }
}

Deno.test("recording never changes what the client gets, even past the body cap", async () => {
  const big = noise(3 * 1024 * 1024 + 17, 7);
  const streamed: Application = (_environ, start_response) => {
    start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
    return (async function* () {
      for (let i = 0; i < big.length; i += 65536) yield big.subarray(i, i + 65536);
    })();
  };
  const array: Application = (_environ, start_response) => {
    start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
    return [big.subarray(0, 1000), big.subarray(1000)];
  };
  const upload = noise(2 * 1024 * 1024 + 5, 9);
  for (
    const [name, app, init] of [
      ["streamed", streamed, { path: "/s" }],
      ["array", array, { path: "/a" }],
      ["echo of an upload", echoApp, { path: "/e", body: upload }],
    ] as const
  ) {
    const store = new ExchangeStore({ maxBodyBytes: 1024 });
    const off = await responseBytes(app, undefined, init);
    const on = await responseBytes(app, store, init);
    equal(on.status, off.status, name);
    deepEqual(on.headers, off.headers, name);
    equal(on.body.length, off.body.length, name);
    ok(on.body.every((byte, i) => byte === off.body[i]), `${name}: same bytes`);
    const recorded = store.list().exchanges[0]!;
    equal(recorded.responseBytes, off.body.length, name);
    ok(recorded.truncated, name);
  }
});

Deno.test("a recorder that throws does not fail the exchange", async () => {
  const throwing: Recorder[] = [
    {
      begin() {
        throw new Error("begin broke");
      },
    },
    {
      begin: () => ({
        record() {
          throw new Error("record broke");
        },
      }),
    },
  ];
  for (const recorder of throwing) {
    const sink = new MemorySink();
    const server = serve(echoApp, { port: 0, log: false, errors: sink, recorder });
    try {
      const response = await fetch(server.url, { method: "POST", body: "still here" });
      equal(response.status, 200);
      equal(await response.text(), "still here");
      match(sink.text, /Recorder failed/);
    } finally {
      await server.shutdown();
    }
  }
  // The store's own listeners may throw too: reported, never in the client's way.
  const errors: unknown[] = [];
  const store = new ExchangeStore({ onError: (e) => errors.push(e) });
  store.subscribe(() => {
    throw new Error("listener broke");
  });
  const server = serve(textApp, { port: 0, log: false, errors: new MemorySink(), recorder: store });
  try {
    equal(await (await fetch(server.url + "/x")).text(), "GET /x");
  } finally {
    await server.shutdown();
  }
  ok(errors.length > 0);
  equal(store.list().exchanges[0]?.state, "complete");
});

Deno.test("the inspector's own traffic is never recorded", async () => {
  await withInspector(textApp, async ({ origin, inspector }) => {
    await (await fetch(`${origin}/api/exchanges`)).text();
    await (await fetch(`${origin}/`)).text();
    equal(inspector.store.size, 0);
  });
});

Deno.test("replay answers 502 when the app server is gone", async () => {
  const inspector = createInspector({ port: 0, page: () => Promise.resolve({ html: "", js: "" }) });
  const app = serve(textApp, { port: 0, log: false, recorder: inspector.recorder });
  const { url } = await inspector.listen(app.url);
  const origin = new URL(url).origin;
  try {
    await (await fetch(app.url)).text();
    await app.shutdown();
    const [code, text] = await status(`${origin}/api/exchanges/1/replay`, {
      method: "POST",
      headers: { origin },
    });
    equal(code, 502);
    match(text, /did not answer/);
  } finally {
    await inspector.shutdown();
  }
  await rejects(fetch(`${origin}/api/exchanges`));
});

/** Reads a child's stdout until `pattern` matches, returning the text so far. */
async function readUntil(
  reader: ReadableStreamDefaultReader<string>,
  pattern: RegExp,
  seen: { text: string },
): Promise<RegExpMatchArray> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const m = seen.text.match(pattern);
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${pattern}`);
    const { done, value } = await reader.read();
    if (done) throw new Error(`The CLI exited before printing ${pattern}`);
    seen.text += value;
  }
}

Deno.test("the CLI prints the inspector's URL, and its API records the app's requests", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "mod.ts", "--port", "0", "--inspector-port", "0", "--quiet"],
    cwd: new URL("../", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stderr = new Response(child.stderr).text();
  const seen = { text: "" };
  let failed = true;
  try {
    const appUrl = (await readUntil(stdout, /Serving HTTP on (http:\/\/\S+)/, seen))[1]!;
    const inspectorUrl = (await readUntil(stdout, /Inspector on (http:\/\/\S+)/, seen))[1]!;
    equal(new URL(inspectorUrl).hostname, "127.0.0.1");
    equal(await (await fetch(`${appUrl}/from-test`)).text(), "<h1>Hello,web</h1>");
    // The app runs in a child process whose events follow the answer by a few milliseconds.
    let list = await getJson<ExchangeList>(new URL("/api/exchanges", inspectorUrl));
    for (let i = 0; i < 100 && list.exchanges[0]?.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 20));
      list = await getJson<ExchangeList>(new URL("/api/exchanges", inspectorUrl));
    }
    deepEqual(list.exchanges.map((e) => [e.target, e.status]), [["/from-test", 200]]);
    failed = false;
  } finally {
    child.kill("SIGTERM");
    const { code } = await child.status;
    for (;;) {
      const { done, value } = await stdout.read();
      if (done) break;
      seen.text += value;
    }
    const errors = await stderr;
    if (failed) console.error(`CLI stdout:\n${seen.text}\nCLI stderr:\n${errors}`);
    equal(code, 0, `the CLI exits cleanly on SIGTERM\n${seen.text}\n${errors}`);
  }
});
