import { deepEqual, equal, match, ok, throws } from "node:assert/strict";
import { toFetch } from "../server/gateway.ts";
import type { Application } from "../server/types.ts";
import { Capture, ExchangeStore, snapshotEnviron, type StoreMessage } from "../inspector/store.ts";
import { harEntry, toHar } from "../inspector/har.ts";
import { echoApp, noise, textApp } from "./_inspector.ts";
import { MemorySink } from "./_helpers.ts";

const encoder = new TextEncoder();
const decode = (base64: string) => new TextDecoder().decode(Uint8Array.fromBase64(base64));

/** Runs one request through the gateway with `store` recording, and reads the response. */
async function exchange(
  store: ExchangeStore,
  app: Application,
  url = "http://127.0.0.1:8000/",
  init?: RequestInit,
): Promise<Uint8Array> {
  const response = await toFetch(app, { recorder: store, errors: new MemorySink() })(
    new Request(url, init),
    { remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 40000 } },
  );
  return new Uint8Array(await response.arrayBuffer());
}

/** Streams `n` chunks of `size` bytes. */
const streamApp = (n: number, size: number): Application => (_environ, start_response) => {
  start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
  return (async function* () {
    for (let i = 0; i < n; i++) yield new Uint8Array(size).fill(i % 256);
  })();
};

Deno.test("Capture keeps the first cap bytes, counts the rest, and copies what it keeps", () => {
  const capture = new Capture(5);
  const buffer = encoder.encode("abc");
  equal(capture.add(buffer), 0);
  buffer.set(encoder.encode("XYZ")); // the caller reuses its buffer
  equal(capture.add(encoder.encode("defg")), 3);
  equal(capture.add(encoder.encode("hi")), 7);
  equal(capture.size, 9);
  equal(capture.length, 5);
  ok(capture.truncated);
  equal(new TextDecoder().decode(capture.slice(0)), "abcde");
  deepEqual(capture.body(3, 7), { size: 4, bytes: btoa("de"), truncated: true });
  deepEqual(new Capture(10).body(0), { size: 0, bytes: "", truncated: false });
});

Deno.test("Captures that share slabs keep their own bytes as they grow past a slab and a small buffer", () => {
  // Interleaved captures growing from 1 byte to past 64 KiB: each must read back exactly what it got.
  const captures = [new Capture(1 << 20), new Capture(1 << 20), new Capture(100_000)];
  const expected: number[][] = captures.map(() => []);
  for (let step = 0; step < 400; step++) {
    const which = step % captures.length;
    const size = [1, 7, 31, 33, 200, 1000, 5000][step % 7]!;
    const bytes = new Uint8Array(size).map((_, i) => (step * 31 + i) % 251);
    captures[which]!.add(bytes);
    bytes.fill(0); // the caller reuses its buffer
    for (const b of new Uint8Array(size).map((_, i) => (step * 31 + i) % 251)) {
      if (expected[which]!.length < [1 << 20, 1 << 20, 100_000][which]!) expected[which]!.push(b);
    }
  }
  for (const [i, capture] of captures.entries()) {
    deepEqual([...capture.slice(0)], expected[i]);
    equal(capture.length, expected[i]!.length);
  }
  ok(captures[2]!.truncated && !captures[0]!.truncated);
});

Deno.test("ExchangeStore keeps the last maxExchanges exchanges, newest first", async () => {
  const store = new ExchangeStore({ maxExchanges: 3 });
  for (let i = 1; i <= 5; i++) await exchange(store, textApp, `http://127.0.0.1:8000/${i}`);
  equal(store.size, 3);
  const { total, exchanges } = store.list();
  equal(total, 3);
  deepEqual(exchanges.map((e) => e.target), ["/5", "/4", "/3"]);
  deepEqual(exchanges.map((e) => e.id), ["5", "4", "3"]);
  equal(store.get("2"), undefined);
  equal(store.get("nope"), undefined);
  equal(store.get("5")?.target, "/5");
});

Deno.test("ExchangeStore records the timeline of an exchange and its summary", async () => {
  const store = new ExchangeStore();
  const body = await exchange(store, textApp, "http://127.0.0.1:8000/hi?x=1");
  equal(new TextDecoder().decode(body), "GET /hi");
  const detail = store.get("1")!.detail();
  deepEqual(detail.events.map((e) => e.type), [
    "request",
    "environ",
    "call",
    "start_response",
    "chunk",
    "close",
    "headers_sent",
    "end",
  ]);
  for (let i = 1; i < detail.events.length; i++) {
    ok(detail.events[i]!.t >= detail.events[i - 1]!.t, "event times never go back");
  }
  equal(detail.method, "GET");
  equal(detail.target, "/hi?x=1");
  equal(detail.status, 200);
  equal(detail.statusLine, "200 OK");
  equal(detail.state, "complete");
  equal(detail.responseBytes, 7);
  equal(detail.truncated, false);
  ok(detail.duration !== null && detail.duration >= 0);
  ok(Math.abs(detail.startedAt - Date.now()) < 60_000);
  deepEqual(detail.request.peer, { hostname: "127.0.0.1", port: 40000 });
  equal(detail.startResponse?.status, "200 OK");
  equal(detail.startResponse?.excInfo, false);
  deepEqual(detail.response.headers, [
    ["Content-Type", "text/plain; charset=utf-8"],
    ["Set-Cookie", "seen=1; Path=/; HttpOnly"],
  ]);
  equal(decode(detail.response.body.bytes), "GET /hi");
  deepEqual(detail.response.chunkOffsets, [0]);
  deepEqual(detail.events[4]!.data, {
    index: 0,
    bytes: { size: 7, bytes: btoa("GET /hi"), truncated: false },
  });
  deepEqual(detail.events[7]!.data, { status: 200, bytes: 7 });
  deepEqual(detail.events[2]!.data, { app: "application" });
  // The whole detail is JSON.
  deepEqual(JSON.parse(JSON.stringify(detail)), detail);
});

Deno.test("ExchangeStore snapshots the environ as built, describing objects", async () => {
  const store = new ExchangeStore();
  await exchange(store, (environ, start_response) => {
    environ.PATH_INFO = "/changed-by-the-app";
    start_response("204 No Content", []);
    return [];
  }, "http://127.0.0.1:8000/a%20b?q=1");
  const environ = store.get("1")!.detail().environ!;
  equal(environ.PATH_INFO, "/a b");
  equal(environ.QUERY_STRING, "q=1");
  deepEqual(environ["wsgi.version"], [1, 0]);
  equal(environ["wsgi.multithread"], false);
  match(String(environ["wsgi.input"]), /^<wsgi\.input/);
  equal(typeof environ["wsgi.errors"], "string");
});

Deno.test("snapshotEnviron() makes every value JSON-safe", () => {
  const snap = snapshotEnviron({
    a: "x",
    n: 1,
    inf: Infinity,
    u: undefined,
    bare: Object.create(null),
    f: function named() {},
    list: [1, "two", { toString: () => "three" }],
    get broken(): string {
      throw new Error("no");
    },
  });
  deepEqual(snap, {
    a: "x",
    n: 1,
    inf: "Infinity",
    u: null,
    bare: "[object Object]",
    f: "[function named]",
    list: [1, "two", "three"],
    broken: "<unreadable: Error: no>",
  });
});

Deno.test("ExchangeStore caps captured bodies per direction and marks the exchange truncated", async () => {
  const store = new ExchangeStore({ maxBodyBytes: 1000 });
  const upload = noise(5000);
  const body = await exchange(store, echoApp, "http://127.0.0.1:8000/up", {
    method: "POST",
    body: upload,
  });
  deepEqual(body, upload, "the client still gets every byte");
  const detail = store.get("1")!.detail();
  ok(detail.truncated);
  equal(detail.requestBytes, 5000);
  equal(detail.responseBytes, 5000);
  equal(detail.request.body.size, 5000);
  ok(detail.request.body.truncated);
  deepEqual(Uint8Array.fromBase64(detail.request.body.bytes), upload.subarray(0, 1000));
  equal(detail.response.body.size, 5000);
  ok(detail.response.body.truncated);
  deepEqual(Uint8Array.fromBase64(detail.response.body.bytes), upload.subarray(0, 1000));
  const input = detail.events.find((e) => e.type === "input")!;
  equal(input.data.method, "read");
  deepEqual((input.data.bytes as { size: number }).size, 5000);
});

Deno.test("ExchangeStore records a streaming response chunk by chunk, with offsets", async () => {
  const store = new ExchangeStore({ maxBodyBytes: 250 });
  const body = await exchange(store, streamApp(5, 100));
  equal(body.length, 500);
  const detail = store.get("1")!.detail();
  deepEqual(detail.response.chunkOffsets, [0, 100, 200, 300, 400]);
  const chunks = detail.events.filter((e) => e.type === "chunk").map((e) =>
    e.data.bytes as { size: number; bytes: string; truncated: boolean }
  );
  deepEqual(chunks.map((c) => [c.size, Uint8Array.fromBase64(c.bytes).length, c.truncated]), [
    [100, 100, false],
    [100, 100, false],
    [100, 50, true],
    [100, 0, true],
    [100, 0, true],
  ]);
  equal(detail.responseBytes, 500);
  ok(detail.truncated);
});

Deno.test("ExchangeStore keeps at most maxEvents events, and always the last steps", async () => {
  const store = new ExchangeStore({ maxEvents: 10 });
  await exchange(store, streamApp(50, 1));
  const detail = store.get("1")!.detail();
  // request, environ, call, start_response, chunk 0, headers_sent, chunks 1-4; then close, end.
  equal(detail.events.length, 10 + 2);
  deepEqual(detail.events.slice(-2).map((e) => e.type), ["close", "end"]);
  equal(detail.droppedEvents, 45);
  ok(detail.droppedEvents! > 0);
  ok(detail.truncated);
  equal(detail.state, "complete");
  equal(detail.responseBytes, 50);
});

Deno.test("ExchangeStore records wsgi.errors text, errors and the 500 page that replaced the response", async () => {
  const store = new ExchangeStore();
  await exchange(store, (environ, start_response) => {
    environ["wsgi.errors"].write("about to fail\n");
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    throw new TypeError("boom");
  });
  const detail = store.get("1")!.detail();
  equal(detail.errorsText, "about to fail\n");
  equal(detail.errors, 1);
  equal(detail.state, "error");
  equal(detail.status, 500);
  equal(detail.startResponse?.status.slice(0, 3), "500");
  const error = detail.events.find((e) => e.type === "error")!;
  equal(error.data.where, "application");
  equal(error.data.message, "boom");
  match(String(error.data.stack), /TypeError: boom/);
  equal(detail.response.body.size, detail.responseBytes);
});

Deno.test("ExchangeStore.list() filters by method, status and path text, and pages", async () => {
  const store = new ExchangeStore();
  await exchange(store, echoApp, "http://127.0.0.1:8000/a?who=alice", {
    method: "POST",
    body: "1",
  });
  await exchange(store, echoApp, "http://127.0.0.1:8000/missing");
  await exchange(store, echoApp, "http://127.0.0.1:8000/b?who=Bob");
  await exchange(store, echoApp, "http://127.0.0.1:8000/c");
  deepEqual(store.list({ method: "post" }).exchanges.map((e) => e.target), ["/a?who=alice"]);
  deepEqual(store.list({ status: "404" }).exchanges.map((e) => e.target), ["/missing"]);
  deepEqual(store.list({ status: "4xx" }).exchanges.map((e) => e.target), ["/missing"]);
  equal(store.list({ status: "2XX" }).total, 3);
  deepEqual(store.list({ q: "WHO=" }).exchanges.map((e) => e.target), [
    "/b?who=Bob",
    "/a?who=alice",
  ]);
  const first = store.list({ limit: 2 });
  equal(first.total, 4);
  deepEqual(first.exchanges.map((e) => e.seq), [4, 3]);
  const next = store.list({ limit: 2, before: first.exchanges.at(-1)!.seq });
  deepEqual(next.exchanges.map((e) => e.seq), [2, 1]);
  throws(() => store.list({ status: "teapot" }), RangeError);
});

Deno.test("ExchangeStore.clear() drops everything, tells listeners, and ids stay unique", async () => {
  const store = new ExchangeStore();
  const messages: StoreMessage[] = [];
  const unsubscribe = store.subscribe((m) => messages.push(m));
  await exchange(store, textApp);
  await exchange(store, textApp);
  ok(messages.some((m) => m.kind === "exchange" && m.exchange.id === "2"));
  ok(messages.some((m) => m.kind === "event" && m.exchange.types[m.index] === "end"));
  equal(store.clear(), 2);
  equal(messages.at(-1)?.kind, "clear");
  equal(store.size, 0);
  equal(store.list().total, 0);
  equal(store.get("1"), undefined);
  await exchange(store, textApp);
  deepEqual(store.list().exchanges.map((e) => e.id), ["3"]);
  unsubscribe();
  ok(!store.listening);
});

Deno.test("ExchangeStore never throws from record(), whatever it is given", () => {
  const errors: unknown[] = [];
  const store = new ExchangeStore({ onError: (e) => errors.push(e) });
  const rec = store.begin(new Request("http://127.0.0.1/"))!;
  rec.record("start_response", { status: 200, headers: "nope", exc_info: false, error: "bad" });
  rec.record("chunk", { index: 0, bytes: null as unknown as Uint8Array });
  rec.record("end", { status: 200, bytes: 0 }); // ignored: this exchange is no longer recorded
  equal(errors.length, 1);
  equal(store.failures, 1);
  const detail = store.get("1")!.detail();
  deepEqual(detail.events.map((e) => e.type), ["start_response"]);
  deepEqual(detail.events[0]!.data, {
    status: 200,
    headers: "nope",
    exc_info: false,
    error: "bad",
  });
  equal(detail.state, "pending");
});

Deno.test("ExchangeStore links a request carrying a replay ticket to its original", async () => {
  const store = new ExchangeStore();
  await exchange(store, textApp);
  const ticket = store.replayTicket("1");
  // Without the ticket's header, no link; a forged value does not link either.
  await exchange(store, textApp, "http://127.0.0.1:8000/", {
    headers: { [ticket.header[0]]: "1; forged" },
  });
  await exchange(store, textApp, "http://127.0.0.1:8000/again", {
    headers: [ticket.header],
  });
  ticket.release();
  equal(ticket.exchange?.id, "3");
  deepEqual(store.list().exchanges.map((e) => e.replayOf), [
    "1",
    undefined,
    undefined,
  ]);
});

Deno.test("ExchangeStore rejects caps that are not positive integers", () => {
  throws(() => new ExchangeStore({ maxExchanges: 0 }), /maxExchanges must be an integer/);
  throws(() => new ExchangeStore({ maxBodyBytes: -1 }), RangeError);
});

Deno.test("toHar() holds every field HAR 1.2 requires", async () => {
  const store = new ExchangeStore();
  await exchange(store, echoApp, "http://127.0.0.1:8000/form?a=1&b=two%20words", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: "sid=abc; theme=dark" },
    body: "name=Ada&lang=en",
  });
  await exchange(store, textApp, "http://127.0.0.1:8000/text");
  const har = toHar([...store.exchanges()].reverse().map((e) => e.detail()));
  equal(har.log.version, "1.2");
  equal(typeof har.log.creator.name, "string");
  equal(typeof har.log.creator.version, "string");
  equal(har.log.entries.length, 2);
  for (const entry of har.log.entries) {
    ok(!Number.isNaN(Date.parse(entry.startedDateTime)));
    match(entry.startedDateTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    equal(typeof entry.time, "number");
    for (const key of ["method", "url", "httpVersion", "headersSize", "bodySize"] as const) {
      ok(entry.request[key] !== undefined, `request.${key}`);
    }
    ok(Array.isArray(entry.request.cookies));
    ok(Array.isArray(entry.request.headers));
    ok(Array.isArray(entry.request.queryString));
    for (
      const key of [
        "status",
        "statusText",
        "httpVersion",
        "redirectURL",
        "headersSize",
        "bodySize",
      ] as const
    ) ok(entry.response[key] !== undefined, `response.${key}`);
    ok(Array.isArray(entry.response.cookies));
    ok(Array.isArray(entry.response.headers));
    equal(typeof entry.response.content.size, "number");
    equal(typeof entry.response.content.mimeType, "string");
    deepEqual(entry.cache, {});
    const { send, wait, receive } = entry.timings;
    ok(send >= 0 && wait >= 0 && receive >= 0);
    ok(Math.abs(send + wait + receive - entry.time) < 0.01, "timings add up to time");
  }
  const [form, text] = har.log.entries;
  equal(form!.request.method, "POST");
  equal(form!.request.url, "http://127.0.0.1:8000/form?a=1&b=two%20words");
  deepEqual(form!.request.queryString, [{ name: "a", value: "1" }, {
    name: "b",
    value: "two words",
  }]);
  deepEqual(form!.request.cookies, [{ name: "sid", value: "abc" }, {
    name: "theme",
    value: "dark",
  }]);
  deepEqual(form!.request.postData, {
    mimeType: "application/x-www-form-urlencoded",
    params: [{ name: "name", value: "Ada" }, { name: "lang", value: "en" }],
    text: "name=Ada&lang=en",
  });
  equal(form!.request.bodySize, 16);
  equal(form!.response.content.text, "name=Ada&lang=en");
  equal(text!.request.postData, undefined, "no postData when the app read no body");
  equal(text!.response.status, 200);
  equal(text!.response.statusText, "OK");
  equal(text!.response.content.text, "GET /text");
  equal(text!.response.content.encoding, undefined);
  deepEqual(text!.response.cookies, [{ name: "seen", value: "1", path: "/", httpOnly: true }]);
  equal(text!._id, "2");
});

Deno.test("harEntry() sends binary and truncated bodies as base64, and marks pending ones", async () => {
  const store = new ExchangeStore({ maxBodyBytes: 100 });
  const bytes = noise(300);
  await exchange(store, echoApp, "http://127.0.0.1:8000/bin", { method: "PUT", body: bytes });
  const entry = harEntry(store.get("1")!.detail());
  equal(entry.response.content.encoding, "base64");
  deepEqual(Uint8Array.fromBase64(entry.response.content.text!), bytes.subarray(0, 100));
  equal(entry.response.content.size, 300);
  equal(entry.response.bodySize, 300);
  match(entry.response.content.comment!, /truncated: 100 of 300/);
  equal(entry.request.postData?._encoding, "base64");
  equal(entry._truncated, true);

  const rec = store.begin(new Request("http://127.0.0.1/"))!;
  rec.record("request", { method: "GET", target: "/slow", version: "HTTP/1.1", headers: [] });
  const pending = harEntry(store.get("2")!.detail());
  equal(pending.response.status, 0);
  equal(pending.comment, "pending");
  equal(pending.request.url, "http://localhost/slow");
});
