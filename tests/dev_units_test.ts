/**
 * The dev loop's parts in memory: the channel's framing, the event codec's
 * round trip, the debug page's loopback rule, load errors and code frames.
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { toFetch } from "../server/gateway.ts";
import { ChannelWriter, MessageSplitter, RECORD } from "../server/dev/channel.ts";
import { decodeEvent, encodeEvent, type EventExtras } from "../server/dev/codec.ts";
import { debugPage, isLoopback } from "../server/dev/debug_page.ts";
import { fromImportError } from "../server/dev/load_error.ts";
import { formatCodeFrame } from "../server/dev/code_frame.ts";
import type { EventMap, EventType } from "../server/recorder.ts";

Deno.test("ChannelWriter and MessageSplitter: messages survive any split of the byte stream", async () => {
  const written: Uint8Array[] = [];
  const writer = new ChannelWriter({
    write: (p) => {
      written.push(p.slice());
      return Promise.resolve(p.length);
    },
  }, 0);
  const sent: number[][] = [];
  for (let i = 0; i < 300; i++) {
    const payload = Uint8Array.from({ length: i % 50 }, (_, j) => (i + j) & 0xff);
    sent.push([...payload]);
    writer.send(RECORD, payload);
  }
  await writer.drain();
  const stream = new Uint8Array(written.reduce((n, w) => n + w.length, 0));
  let at = 0;
  for (const w of written) {
    stream.set(w, at);
    at += w.length;
  }
  for (const size of [1, 7, 4096, stream.length]) {
    const got: number[][] = [];
    const splitter = new MessageSplitter((kind, payload) => {
      equal(kind, RECORD);
      got.push([...payload]);
    });
    for (let i = 0; i < stream.length; i += size) splitter.push(stream.subarray(i, i + size));
    deepEqual(got, sent, `chunks of ${size} bytes`);
  }
});

Deno.test("encodeEvent() and decodeEvent() round-trip every event type, latin-1 and UTF-8 alike", () => {
  const bytes = new Uint8Array([0, 1, 2, 255]);
  const cases: [EventType, unknown][] = [
    ["request", {
      method: "GET",
      target: "/caf\u00e9?q=\u2603",
      version: "HTTP/1.1",
      peer: { hostname: "127.0.0.1", port: 51234 },
      headers: [["host", "x"], ["x-snow", "\u2603"]],
    }],
    ["environ", {
      environ: {
        REQUEST_METHOD: "GET",
        PATH_INFO: "/caf\u00c3\u00a9",
        "wsgi.version": [1, 0],
        "wsgi.multiprocess": true,
        "wsgi.run_once": false,
        CONTENT_LENGTH: null,
        "x.custom key": "a much longer value than twelve characters, ASCII only",
        "wsgi.input": "<wsgi.input>",
      },
    }],
    ["call", { app: "application" }],
    ["input", { method: "readline", size: 10, bytes }],
    ["start_response", {
      status: "200 OK",
      headers: [["Content-Type", "text/plain"]],
      exc_info: true,
    }],
    ["start_response", {
      status: 200,
      headers: "nope",
      exc_info: false,
      error: "status must be...",
    }],
    ["write", { index: 2, bytes }],
    ["chunk", { index: 0, bytes }],
    ["headers_sent", { status: 404, status_line: "404 Not Found", headers: [["a", "b"]] }],
    ["errors", { text: "warning: \u2603\n" }],
    ["error", {
      where: "application",
      name: "TypeError",
      message: "bad",
      stack: "TypeError: bad\n  at x",
    }],
    ["error", { where: "gateway", name: "Error", message: "no stack" }],
    ["lint", { rule: "start_response.once", message: "twice" }],
    ["close", { called: true }],
    ["end", { status: 200, bytes: 18 }],
    ["abort", { reason: "client disconnected", bytes: 3 }],
  ];
  const extras: EventExtras = { arrival: 1_700_000_000_123.5, ref: "2.1.7", keep: -1 };
  for (const [type, data] of cases) {
    const buf = new Uint8Array(64);
    const out = {
      buf,
      view: new DataView(buf.buffer),
      at: 0,
      need(n: number) {
        if (this.at + n <= this.buf.length) return;
        const next = new Uint8Array((this.at + n) * 2);
        next.set(this.buf);
        this.buf = next;
        this.view = new DataView(next.buffer);
      },
    };
    encodeEvent(out, 7, type, 12.25, data as EventMap[typeof type], extras);
    const e = decodeEvent(out.buf.subarray(0, out.at));
    equal(e.exchange, 7);
    equal(e.type, type);
    equal(e.t, 12.25);
    const expected = type === "start_response" && (data as { error?: string }).error
      ? { status: "200", headers: "nope", exc_info: false, error: "status must be..." }
      : data;
    deepEqual(
      JSON.parse(JSON.stringify(e.data, (_k, v) => v instanceof Uint8Array ? [...v] : v)),
      JSON.parse(JSON.stringify(expected, (_k, v) => v instanceof Uint8Array ? [...v] : v)),
      type,
    );
    if (type === "request") {
      equal(e.arrival, extras.arrival);
      equal(e.ref, "2.1.7");
    }
  }
});

Deno.test("debugPage() shows the debug page to a loopback client only, unless anyClient", async () => {
  const app = () => {
    throw new Error("secret internals");
  };
  const ask = async (hostname: string, anyClient = false) => {
    const handler = toFetch(app, {
      debug: debugPage({ anyClient }),
      errors: { write() {}, flush() {} },
    });
    const response = await handler(new Request("http://x/", { headers: { accept: "text/html" } }), {
      remoteAddr: { transport: "tcp", hostname, port: 5000 },
    });
    return { status: response.status, text: await response.text() };
  };
  const local = await ask("127.0.0.1");
  equal(local.status, 500);
  match(local.text, /secret internals/);
  const remote = await ask("192.0.2.9");
  equal(remote.status, 500);
  equal(remote.text, "500 Internal Server Error\n", "no internals off loopback");
  match((await ask("192.0.2.9", true)).text, /secret internals/);
  ok(isLoopback("::1") && isLoopback("127.8.0.1") && !isLoopback("10.0.0.1"));
});

Deno.test("fromImportError() finds the place of a syntax error and of a throw at import", () => {
  const syntax = new TypeError(
    "SyntaxError: Expression expected\n  |\n3 |   return [1 +];\n  |              ~\n    at file:///tmp/x/app.ts:3:14",
  );
  const s = fromImportError(syntax, "app.ts");
  equal(s.kind, "syntax error");
  equal(s.file, "/tmp/x/app.ts");
  equal(s.line, 3);
  equal(s.column, 14);
  equal(s.message, "SyntaxError: Expression expected");
  const thrown = new Error("boom");
  thrown.stack =
    "Error: boom\n    at f (file:///srv/own/child.ts:9:1)\n    at file:///tmp/x/lib.ts:2:7";
  const t = fromImportError(thrown, "app.ts", (url) => url.includes("/srv/own/"));
  equal(t.kind, "error at import");
  equal(t.file, "/tmp/x/lib.ts");
  equal(t.line, 2);
  equal(t.message, "Error: boom");
});

Deno.test("formatCodeFrame() marks the line and puts a caret under the column, tabs included", () => {
  const text = formatCodeFrame("one\n\tconst x = 1 +;\nthree", 2, 15, 1);
  // The caret is under the ";" (column 15, the tab shown as two spaces).
  equal(text, "  1 | one\n> 2 |   const x = 1 +;\n    |                ^\n  3 | three");
});

Deno.test("decodeEvent() reuses a string that comes again at the same place, and never a stale one", () => {
  const extras: EventExtras = { arrival: 0, ref: "1.1.1", keep: -1 };
  const encode = (method: string, agent: string) => {
    const buf = new Uint8Array(4096);
    const out = { buf, view: new DataView(buf.buffer), at: 0, need() {} };
    encodeEvent(out, 1, "request", 0, {
      method,
      target: "/",
      version: "HTTP/1.1",
      headers: [["user-agent", agent]],
    }, extras);
    return buf.slice(0, out.at);
  };
  const decode = (bytes: Uint8Array) => decodeEvent(bytes).data as EventMap["request"];
  const a = decode(encode("GET", "curl/8"));
  const b = decode(encode("GET", "curl/8"));
  equal(b.method, "GET");
  equal(b.headers[0]![1], "curl/8");
  const c = decode(encode("PUT", "curl/9"));
  equal(c.method, "PUT", "a new value at the place is read, not the memo");
  equal(c.headers[0]![1], "curl/9");
  equal(decode(encode("GET", "caf\u00e9")).headers[0]![1], "caf\u00e9");
  equal(a.method, "GET");
});
