/**
 * The store as a unit: what it keeps (count, memory budget, per-exchange
 * caps), what it marks truncated, its list, its index's summaries against
 * the reducer's, replay tickets, and HAR export from its details. Exchanges
 * are recorded through the real gateway (`toFetch`) in memory.
 *
 * @module
 */

import { deepEqual, equal, match, ok, throws } from "node:assert/strict";
import { toFetch } from "../server/gateway.ts";
import type { Application } from "../server/types.ts";
import { ExchangeStore, type StoreMessage } from "../inspector/store.ts";
import { detailFromHar, harEntry, toHar } from "../inspector/har.ts";
import { reduce, summarize } from "../inspector/timeline.ts";
import type { ExchangeDetail } from "../inspector/protocol.ts";
import { bodyText, echoApp, environOf, noise, stateOf, textApp } from "./_inspector.ts";
import { MemorySink } from "./_helpers.ts";

const encoder = new TextEncoder();

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

/** Answers `size` bytes of noise seeded by the path. */
const sizedApp = (size: number): Application => (environ, start_response) => {
  start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
  return [noise(size, Number(environ.PATH_INFO.slice(1)) || 1)];
};

/** The summary the store's index gives, and the one the reducer computes from the events. */
function bothSummaries(detail: ExchangeDetail) {
  const { events: _e, request: _q, response: _r, ...indexed } = detail;
  return [indexed, summarize(reduce(detail.events), detail)] as const;
}

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
  equal(store.get("5")?.request.target, "/5");
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
  const state = stateOf(detail);
  deepEqual(state.request?.peer, { hostname: "127.0.0.1", port: 40000 });
  equal(state.statusSet?.status, "200 OK");
  equal(state.statusSet?.excInfo, false);
  deepEqual(state.headersSent?.headers, [
    ["Content-Type", "text/plain; charset=utf-8"],
    ["Set-Cookie", "seen=1; Path=/; HttpOnly"],
  ]);
  equal(bodyText(detail.response.body), "GET /hi");
  deepEqual(detail.events[4]!.data, {
    index: 0,
    bytes: { stream: "response", offset: 0, size: 7, kept: 7 },
  });
  deepEqual(detail.events[7]!.data, { status: 200, bytes: 7, dropped_events: 0 });
  deepEqual(detail.events[2]!.data, { app: "application" });
  // The whole detail is JSON.
  deepEqual(JSON.parse(JSON.stringify(detail)), detail);
  const [indexed, reduced] = bothSummaries(detail);
  deepEqual(indexed, reduced);
});

Deno.test("ExchangeStore snapshots the environ as built, describing objects", async () => {
  const store = new ExchangeStore();
  await exchange(store, (environ, start_response) => {
    environ.PATH_INFO = "/changed-by-the-app";
    start_response("204 No Content", []);
    return [];
  }, "http://127.0.0.1:8000/a%20b?q=1");
  const environ = environOf(store.get("1")!.detail());
  equal(environ.PATH_INFO, "/a b");
  equal(environ.QUERY_STRING, "q=1");
  deepEqual(environ["wsgi.version"], [1, 0]);
  equal(environ["wsgi.multithread"], false);
  match(String(environ["wsgi.input"]), /^<wsgi\.input/);
  equal(typeof environ["wsgi.errors"], "string");
});

Deno.test("ExchangeStore records any environ value as JSON-safe data", () => {
  const store = new ExchangeStore();
  const rec = store.begin(new Request("http://127.0.0.1/"));
  rec.record("environ", {
    environ: {
      a: "x",
      n: 1,
      inf: Infinity,
      nan: NaN,
      u: undefined,
      bare: Object.create(null),
      f: function named() {},
      list: [1, "two", { toString: () => "three" }, [true, null]],
      big: 10n,
      get broken(): string {
        throw new Error("no");
      },
      "": "empty key",
      "ключ": "значение ✓",
    },
  });
  const environ = environOf(store.get("1")!.detail());
  deepEqual(environ, {
    a: "x",
    n: 1,
    inf: "Infinity",
    nan: "NaN",
    u: null,
    bare: "[object Object]",
    f: "[function named]",
    list: [1, "two", "three", [true, null]],
    big: "10",
    broken: "<unreadable: Error: no>",
    "": "empty key",
    "ключ": "значение ✓",
  });
});

Deno.test("ExchangeStore caps captured bodies per stream and marks the exchange truncated", async () => {
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
  deepEqual(input.data, {
    method: "read",
    size: null,
    bytes: { stream: "request", offset: 0, size: 5000, kept: 1000 },
  });
  const sent = store.get("1")!.requestBody();
  equal(sent.complete, false);
  equal(sent.size, 5000);
  equal(sent.read, 5000);
  equal(sent.bytes.length, 1000);
});

Deno.test("ExchangeStore records a streaming response chunk by chunk, with offsets", async () => {
  const store = new ExchangeStore({ maxBodyBytes: 250 });
  const body = await exchange(store, streamApp(5, 100));
  equal(body.length, 500);
  const detail = store.get("1")!.detail();
  const chunks = detail.events.filter((e) => e.type === "chunk").map((e) => e.data.bytes);
  deepEqual(chunks.map((c) => [c.offset, c.size, c.kept]), [
    [0, 100, 100],
    [100, 100, 100],
    [200, 100, 50],
    [300, 100, 0],
    [400, 100, 0],
  ]);
  equal(detail.responseBytes, 500);
  ok(detail.truncated);
  const kept = Uint8Array.fromBase64(detail.response.body.bytes);
  equal(kept.length, 250);
  ok(kept.subarray(200).every((b) => b === 2), "the third chunk's first half is there");
});

Deno.test("ExchangeStore keeps at most maxEvents events, and always the last steps", async () => {
  const store = new ExchangeStore({ maxEvents: 10 });
  await exchange(store, streamApp(50, 1));
  const detail = store.get("1")!.detail();
  // request, environ, call, start_response, chunk 0, headers_sent, chunks 1-4; then close, end.
  equal(detail.events.length, 10 + 2);
  deepEqual(detail.events.slice(-2).map((e) => e.type), ["close", "end"]);
  const end = detail.events.at(-1)!;
  equal(end.type === "end" && end.data.dropped_events, 45);
  ok(detail.truncated);
  equal(detail.state, "complete");
  equal(detail.responseBytes, 50);
  const [indexed, reduced] = bothSummaries(detail);
  deepEqual(indexed, reduced);
});

Deno.test("ExchangeStore records wsgi.errors text, errors and the 500 page that replaced the response", async () => {
  const store = new ExchangeStore();
  await exchange(store, (environ, start_response) => {
    environ["wsgi.errors"].write("about to fail\n");
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    throw new TypeError("boom");
  });
  const detail = store.get("1")!.detail();
  const state = stateOf(detail);
  equal(state.errorsText, "about to fail\n");
  equal(detail.errors, 1);
  equal(detail.state, "error");
  equal(detail.status, 500);
  equal(state.statusSet?.status.slice(0, 3), "500");
  const error = state.errors[0]!;
  equal(error.where, "application");
  equal(error.message, "boom");
  match(String(error.stack), /TypeError: boom/);
  equal(detail.response.body.size - state.response.bodyStart, detail.responseBytes);
  const [indexed, reduced] = bothSummaries(detail);
  deepEqual(indexed, reduced);
});

Deno.test("ExchangeStore marks cut wsgi.errors text as truncated", async () => {
  const store = new ExchangeStore({ maxBodyBytes: 10 });
  await exchange(store, (environ, start_response) => {
    environ["wsgi.errors"].write("0123456789abcdef");
    start_response("204 No Content", []);
    return [];
  });
  const detail = store.get("1")!.detail();
  equal(stateOf(detail).errorsText, "0123456789");
  equal(stateOf(detail).errorsSize, 16);
  ok(detail.truncated);
});

Deno.test("ExchangeStore caps wsgi.errors text by its UTF-8 bytes: a cap of a quarter of the memory still fits", async () => {
  // Three bytes a character: counted by characters, the kept text would take 3/4 of the ring.
  const failures: unknown[] = [];
  const store = new ExchangeStore({
    maxBodyBytes: 16 * 1024,
    memory: 64 * 1024,
    onError: (error) => failures.push(error),
  });
  await exchange(store, (environ, start_response) => {
    environ["wsgi.errors"].write("\u20ac".repeat(16 * 1024));
    environ["wsgi.errors"].write("more");
    start_response("204 No Content", []);
    return [];
  });
  deepEqual(failures, []);
  const detail = store.get("1")!.detail();
  const state = stateOf(detail);
  equal(state.errorsText, "\u20ac".repeat(Math.floor(16 * 1024 / 3)));
  equal(state.errorsSize, 16 * 1024 + 4);
  equal(state.finished?.state, "complete");
  ok(detail.truncated);
  // Latin-1 text counts a byte a character below 0x80, two above (its UTF-8 size).
  const plain = new ExchangeStore({ maxBodyBytes: 10 });
  await exchange(plain, (environ, start_response) => {
    environ["wsgi.errors"].write("abc\u00e9\u00e9\u00e9defgh");
    start_response("204 No Content", []);
    return [];
  });
  equal(stateOf(plain.get("1")!.detail()).errorsText, "abc\u00e9\u00e9\u00e9d");
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
  ok(messages.some((m) => m.kind === "exchange" && m.seq === 2));
  const last = messages.filter((m) => m.kind === "event").at(-1)!;
  ok(last.kind === "event" && store.eventMessageOf(last.seq, last.index, last.at));
  equal(store.clear(), 2);
  equal(messages.at(-1)?.kind, "clear");
  equal(store.size, 0);
  equal(store.list().total, 0);
  equal(store.get("1"), undefined);
  ok(last.kind === "event" && !store.eventMessageOf(last.seq, last.index, last.at));
  await exchange(store, textApp);
  deepEqual(store.list().exchanges.map((e) => e.id), ["3"]);
  unsubscribe();
  ok(!store.listening);
});

Deno.test("ExchangeStore never throws from record(), whatever it is given", () => {
  const errors: unknown[] = [];
  const store = new ExchangeStore({ onError: (e) => errors.push(e) });
  const rec = store.begin(new Request("http://127.0.0.1/"));
  rec.record("start_response", { status: 200, headers: "nope", exc_info: false, error: "bad" });
  rec.record("chunk", { index: 0, bytes: null as unknown as Uint8Array });
  rec.record("end", { status: 200, bytes: 0 }); // ignored: this exchange is no longer recorded
  equal(errors.length, 1);
  equal(store.failures, 1);
  const detail = store.get("1")!.detail();
  deepEqual(detail.events.map((e) => e.type), ["start_response"]);
  deepEqual(detail.events[0]!.data, {
    status: "200",
    headers: [],
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

Deno.test("ExchangeStore rejects caps that are not positive integers, or a body cap over a quarter of the memory", () => {
  throws(() => new ExchangeStore({ maxExchanges: 0 }), /maxExchanges must be an integer/);
  throws(() => new ExchangeStore({ maxBodyBytes: -1 }), RangeError);
  throws(() => new ExchangeStore({ memory: 1000 }), /memory must be an integer of at least/);
  throws(
    () => new ExchangeStore({ memory: 1 << 20, maxBodyBytes: 300_000 }),
    /maxBodyBytes \(300000\) must be at most a quarter of the memory budget \(1048576 bytes\)/,
  );
});

Deno.test("ExchangeStore keeps within its memory budget: the oldest go first, the rest read back exactly", async () => {
  const memory = 256 * 1024;
  const store = new ExchangeStore({ memory, maxBodyBytes: 16 * 1024 });
  const evicted: number[] = [];
  store.subscribe((m) => m.kind === "evict" && evicted.push(m.before));
  for (let i = 1; i <= 100; i++) await exchange(store, sizedApp(10_000), `http://x/${i}`);
  ok(store.size < 100 && store.size > 10, `kept ${store.size} of 100`);
  ok(store.used <= memory, `${store.used} bytes used of ${memory}`);
  const list = store.list({ limit: 1000 });
  deepEqual(list.memory, { budget: memory, used: store.used });
  const seqs = list.exchanges.map((e) => e.seq);
  deepEqual(seqs, Array.from({ length: store.size }, (_, i) => 100 - i), "the newest are kept");
  equal(evicted.at(-1), seqs.at(-1), "listeners were told what went");
  for (const summary of list.exchanges) {
    const detail = store.get(summary.id)!.detail();
    deepEqual(
      Uint8Array.fromBase64(detail.response.body.bytes),
      noise(10_000, summary.seq),
      `exchange ${summary.seq} reads back byte for byte`,
    );
    equal(detail.truncated, false);
  }
});

Deno.test("ExchangeStore grows its ring up to the budget before it evicts anything", async () => {
  const store = new ExchangeStore({ memory: 4 << 20, maxExchanges: 100_000 });
  const first = store.encoder.buf;
  for (let i = 1; i <= 300; i++) await exchange(store, sizedApp(8_000), `http://x/${i}`);
  ok(store.used > 2 << 20, `the ring passed its first megabyte (${store.used} bytes)`);
  // Freed at once (detached), not left resident until the collector finds it.
  equal(first.byteLength, 0, "the buffer the ring grew out of is released");
  equal(store.size, 300, "nothing was evicted");
  for (const seq of [1, 150, 300]) {
    const body = Uint8Array.fromBase64(store.get(String(seq))!.detail().response.body.bytes);
    deepEqual(body, noise(8_000, seq));
  }
});

Deno.test("ExchangeStore evicts a pending exchange that is older than the ring, and drops its later events", async () => {
  const store = new ExchangeStore({ memory: 128 * 1024, maxBodyBytes: 8 * 1024 });
  const pending = store.begin(new Request("http://x/slow"));
  pending.record("request", {
    method: "GET",
    target: "/slow",
    version: "HTTP/1.1",
    headers: [],
  });
  equal(store.list().exchanges[0]?.state, "pending");
  for (let i = 2; i <= 40; i++) await exchange(store, sizedApp(8_000), `http://x/${i}`);
  equal(store.get("1"), undefined, "the pending exchange went first");
  pending.record("end", { status: 200, bytes: 0 });
  equal(store.get("1"), undefined);
  ok(store.list().exchanges.every((e) => e.state === "complete"));
});

Deno.test("ExchangeStore: a writer whose exchange was evicted writes no more bytes, so the exchanges kept stay kept", () => {
  // 64 KiB of ring; three exchanges of 16 KiB of body each fill most of it.
  const store = new ExchangeStore({ memory: 64 * 1024, maxBodyBytes: 16 * 1024, maxExchanges: 3 });
  const open = (target: string) => {
    const writer = store.begin(new Request(`http://x${target}`));
    writer.record("request", { method: "GET", target, version: "HTTP/1.1", headers: [] });
    return writer;
  };
  const gone = open("/gone");
  const kept = ["/b", "/c", "/d"].map(open); // the fourth exchange evicts the first (the count)
  equal(store.get("1"), undefined);
  const body = new Uint8Array(16 * 1024);
  for (const writer of kept) writer.record("chunk", { index: 0, bytes: body });
  // 16 KiB more would take the ring to its start, over the oldest kept exchange's bytes.
  gone.record("chunk", { index: 0, bytes: body });
  gone.record("end", { status: 200, bytes: body.length });
  deepEqual(store.list().exchanges.map((e) => e.target), ["/d", "/c", "/b"]);
});

Deno.test("the store's summaries are the reducer's, for every kind of exchange", async (t) => {
  const store = new ExchangeStore({ maxBodyBytes: 64 });
  const cases: [string, Application, RequestInit?][] = [
    ["complete", textApp],
    ["echo past the cap", echoApp, { method: "POST", body: "x".repeat(200) }],
    ["streamed", streamApp(3, 30)],
    ["error", () => {
      throw new Error("early");
    }],
    ["write()", (_environ, start_response) => {
      const write = start_response("200 OK", [["Content-Type", "text/plain"]]);
      write(encoder.encode("written "));
      return [encoder.encode("and returned")];
    }],
    ["bad chunk, then the 500 page", (_environ, start_response) => {
      start_response("200 OK", [["Content-Type", "text/plain"]]);
      return [encoder.encode("ok"), "not bytes" as unknown as Uint8Array];
    }],
  ];
  for (const [name, app, init] of cases) {
    await t.step(name, async () => {
      await exchange(store, app, "http://127.0.0.1:8000/case", init);
      const detail = store.get(String(store.list().exchanges[0]!.seq))!.detail();
      const [indexed, reduced] = bothSummaries(detail);
      deepEqual(indexed, reduced);
    });
  }
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
    ok(entry._timeline.length > 0, "the gateway's timeline rides along");
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
  equal(text!.request.postData, undefined, "no postData when there was no body");
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

  const rec = store.begin(new Request("http://127.0.0.1/"));
  rec.record("request", { method: "GET", target: "/slow", version: "HTTP/1.1", headers: [] });
  const pending = harEntry(store.get("2")!.detail());
  equal(pending.response.status, 0);
  equal(pending.comment, "pending");
  equal(pending.request.url, "http://localhost/slow");
});

Deno.test("HAR export is lossless: detailFromHar() rebuilds every exchange's detail", async (t) => {
  const store = new ExchangeStore({ maxBodyBytes: 4096 });
  const cases: [string, Application, RequestInit?][] = [
    ["text", textApp],
    ["binary echo", echoApp, { method: "PUT", body: noise(3000, 5) }],
    ["past the cap", echoApp, { method: "POST", body: noise(6000, 6) }],
    ["a replaced response", (_environ, start_response) => {
      start_response("200 OK", [["Content-Type", "text/plain"]]);
      return [encoder.encode("ok"), "not bytes" as unknown as Uint8Array];
    }],
    ["streamed, with wsgi.errors", (environ, start_response) => {
      environ["wsgi.errors"].write("héllo ✓\n");
      start_response("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
      return (async function* () {
        yield encoder.encode("naïve ");
        yield encoder.encode("🙂");
      })();
    }],
  ];
  for (const [name, app, init] of cases) {
    await t.step(name, async () => {
      await exchange(store, app, "http://127.0.0.1:8000/h?x=1", init);
      const detail = store.get(String(store.list().exchanges[0]!.seq))!.detail();
      const entry = JSON.parse(JSON.stringify(harEntry(detail)));
      deepEqual(detailFromHar(entry), detail);
    });
  }
});
