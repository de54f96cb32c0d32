/**
 * The gateway's fast paths keep its behaviour: a complete body handed to
 * `Response` as text when that is exact, the synchronous answer of an array
 * body, and the request log formatted when the sink flushes. Each case checks
 * what a client or a log reader sees, in memory and over a socket.
 */

import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import { type Application, type Header, toFetch } from "../mod.ts";
import {
  BufferedSink,
  formatLogLine,
  lineLogger,
  type LogEntry,
  logEntry,
  type LogLine,
} from "../server/log.ts";
import { checkHeaders, checkStatus, ProtocolError } from "../server/rules.ts";
import { EventLog, MemorySink, rawRequest, text, utf8, withServer } from "./_helpers.ts";

const bytesOf = (...values: number[]) => new Uint8Array(values);

/** Bodies and content types where a text handover could go wrong, and what must come out. */
const bodies: { name: string; type?: string; body: Uint8Array }[] = [
  { name: "ASCII HTML", type: "text/html", body: utf8("<h1>Hello,web</h1>") },
  { name: "UTF-8 text", type: "text/plain; charset=utf-8", body: utf8("café ☕ 🐍") },
  { name: "a leading BOM", type: "text/html", body: bytesOf(0xef, 0xbb, 0xbf, 0x41) },
  { name: "invalid UTF-8 labelled text", type: "text/html", body: bytesOf(0x41, 0xff, 0xfe, 0x42) },
  { name: "latin-1 labelled text", type: "text/plain; charset=latin-1", body: bytesOf(0x63, 0xe9) },
  { name: "a real U+FFFD", type: "text/plain", body: utf8("a\uFFFDb") },
  { name: "a lone surrogate's bytes", type: "text/plain", body: bytesOf(0xed, 0xa0, 0x80) },
  { name: "binary", type: "image/png", body: bytesOf(0x89, 0x50, 0x4e, 0x47, 0, 0xff) },
  { name: "no Content-Type", body: utf8("plain") },
  { name: "mixed-case type", type: "Text/HTML; Charset=UTF-8", body: utf8("<p>x</p>") },
  { name: "JSON", type: "application/json", body: utf8('{"a":"é"}') },
  { name: "a +json type", type: "application/vnd.api+json", body: utf8("{}") },
  { name: "text over 64 KiB", type: "text/plain", body: utf8("x".repeat(70_000)) },
  { name: "NUL bytes", type: "text/plain", body: bytesOf(0x61, 0, 0x62) },
  { name: "short, one byte over ASCII", type: "text/plain", body: bytesOf(0x61, 0x80, 0x62) },
];

const serving =
  (type: string | undefined, body: Uint8Array): Application => (_e, start_response) => {
    const headers: Header[] = type === undefined ? [] : [["Content-Type", type]];
    start_response("200 OK", headers);
    return [body];
  };

Deno.test("toFetch() hands a complete body to the client byte for byte, text or not", async (t) => {
  for (const { name, type, body } of bodies) {
    await t.step(name, async () => {
      const response = await toFetch(serving(type, body))(new Request("http://localhost/"));
      deepEqual(new Uint8Array(await response.arrayBuffer()), body);
      equal(response.headers.get("content-type"), type ?? null);
    });
  }
});

Deno.test("serve() sends a complete body byte for byte, with its own Content-Type and length", async (t) => {
  for (const { name, type, body } of bodies) {
    await t.step(name, async () => {
      await withServer(serving(type, body), async (server) => {
        const response = await fetch(server.url);
        deepEqual(new Uint8Array(await response.arrayBuffer()), body);
        equal(response.headers.get("content-type"), type ?? null);
        equal(response.headers.get("content-length"), String(body.length));
      });
    });
  }
});

Deno.test("toFetch() answers with a Promise, also for a synchronous app, and never throws", async () => {
  const handler = toFetch(serving("text/plain", utf8("hi")));
  const answer = handler(new Request("http://localhost/"));
  ok(answer instanceof Promise);
  equal(await (await answer).text(), "hi");
  // A request the gateway cannot even read: a rejected Promise, not a synchronous throw.
  const broken = handler(null as unknown as Request);
  ok(broken instanceof Promise);
  await rejects(broken, TypeError);
});

Deno.test("an async close() is awaited before the response; if it fails, the answer is a 500", async (t) => {
  await t.step("resolves", async () => {
    const steps: string[] = [];
    const recorder = new EventLog();
    const handler = toFetch((_e, start_response) => {
      start_response("200 OK", [["Content-Type", "text/plain"]]);
      return Object.assign([utf8("body")], {
        close: async () => {
          await new Promise((r) => setTimeout(r, 5));
          steps.push("closed");
        },
      });
    }, { recorder, errors: new MemorySink() });
    const response = await handler(new Request("http://localhost/"));
    steps.push("answered");
    equal(await response.text(), "body");
    deepEqual(steps, ["closed", "answered"]);
    deepEqual(recorder.types().slice(-4), ["chunk", "close", "headers_sent", "end"]);
  });
  await t.step("rejects", async () => {
    const errors = new MemorySink();
    const recorder = new EventLog();
    const handler = toFetch((_e, start_response) => {
      start_response("200 OK", [["Content-Type", "text/plain"]]);
      return Object.assign([utf8("body")], {
        close: () => Promise.reject(new Error("close broke")),
      });
    }, { recorder, errors, debug: true });
    const response = await handler(new Request("http://localhost/"));
    equal(response.status, 500);
    match(await response.text(), /close broke/);
    match(errors.text, /Error in close .*close broke/);
  });
  await t.step("throws synchronously", async () => {
    const errors = new MemorySink();
    const handler = toFetch((_e, start_response) => {
      start_response("200 OK", []);
      return Object.assign([utf8("body")], {
        close: () => {
          throw new Error("close threw");
        },
      });
    }, { errors, debug: true });
    const response = await handler(new Request("http://localhost/"));
    equal(response.status, 500);
    match(await response.text(), /close threw/);
  });
});

Deno.test("the request log gives the target as sent, and the time the exchange ended", async (t) => {
  const cases: [url: string, target: string][] = [
    ["http://localhost", "/"],
    ["http://localhost/a?", "/a"],
    ["http://localhost/a?b=1", "/a?b=1"],
    ["http://localhost/a%20b?c=%2F", "/a%20b?c=%2F"],
  ];
  for (const [url, target] of cases) {
    await t.step(url, async () => {
      const entries: LogEntry[] = [];
      const before = Date.now();
      const handler = toFetch(serving("text/plain", utf8("x")), { log: (e) => entries.push(e) });
      await (await handler(new Request(url))).text();
      equal(entries.length, 1);
      equal(entries[0]!.target, target);
      equal(entries[0]!.status, 200);
      ok(entries[0]!.time! >= before - 1 && entries[0]!.time! <= Date.now() + 1);
    });
  }
});

/** A file that keeps what is written to it. */
class MemoryFile {
  chunks: Uint8Array[] = [];
  writeSync(p: Uint8Array): number {
    this.chunks.push(p.slice());
    return p.length;
  }
  get text(): string {
    const decoder = new TextDecoder();
    return this.chunks.map((c) => decoder.decode(c, { stream: true })).join("") + decoder.decode();
  }
}

const entry = (over: Partial<LogEntry> = {}): LogEntry => ({
  remote: "127.0.0.1:51234",
  method: "GET",
  target: "/caf\xc3\xa9?q=1",
  status: 200,
  bytes: 18,
  duration: 0.4123,
  outcome: "end",
  time: Date.UTC(2026, 10, 24, 11, 30, 48),
  ...over,
});

/** The same exchange as `entry()`, as the gateway fills it in for the log. */
const line = (over: Partial<LogLine> = {}): LogLine => {
  const { remote: _remote, ...rest } = entry();
  return { host: "127.0.0.1", port: 51234, ...rest, ...over };
};

Deno.test("BufferedSink writes log lines and text in the order they came, as formatLogLine() has them", () => {
  const file = new MemoryFile();
  const sink = new BufferedSink(file, 60_000);
  const lines: [LogLine, boolean][] = [
    [line({ target: "/a?b=1" }), false],
    [line(), false],
    [line({ status: 0, outcome: "aborted", host: undefined, duration: 12.35 }), false],
    [
      line({
        host: "::1",
        port: 443,
        method: "PROPFIND",
        bytes: 12_345_678_901,
        duration: 1234.56,
      }),
      false,
    ],
    [line({ target: "/x", outcome: "cut", status: 500, duration: 0 }), true],
    [line({ target: "/" + "a".repeat(200_000) }), false],
    // Digits written straight into the buffer: every width, and tenths rounded as formatLogLine() does.
    ...[0, 0.04, 0.05, 0.15, 0.95, 9.96, 12.35, 99.95, 100, 1e6 + 0.25].map((duration, i) =>
      [line({ target: "/d", duration, bytes: 10 ** i - 1, status: 200 + i * 40 }), false] as [
        LogLine,
        boolean,
      ]
    ),
  ];
  let expected = "";
  for (const [i, [l, color]] of lines.entries()) {
    sink.write(`text ${i} é\n`);
    sink.writeLogLine(l, color);
    expected += `text ${i} é\n${formatLogLine(logEntry(l), color)}`;
  }
  sink.flush();
  equal(file.text, expected);
  sink.flush();
  equal(file.text, expected);
});

Deno.test("lineLogger() queues lines in a BufferedSink, and formats at once for other sinks", () => {
  const file = new MemoryFile();
  const buffered = new BufferedSink(file, 60_000);
  const memory = new MemorySink();
  const e = entry();
  lineLogger(true, buffered, false)(line());
  lineLogger(true, memory, false)(line());
  equal(memory.text, formatLogLine(e));
  buffered.flush();
  equal(file.text, formatLogLine(e));
  match(
    formatLogLine(e),
    /^127\.0\.0\.1:51234 - - \[\d\d\/Nov\/2026 \d\d:\d\d:48\] "GET \/caf\xc3\xa9\?q=1 HTTP\/1\.1" 200 18 0\.4ms\n$/,
  );
  equal(
    formatLogLine(entry({ status: 0, outcome: "cut", remote: undefined, bytes: 5 })).split("] ")[1],
    '"GET /caf\xc3\xa9?q=1 HTTP/1.1" - 5 0.4ms (cut)\n',
  );
  const plain = (over: Partial<LogLine>) => {
    const file = new MemoryFile();
    const sink = new BufferedSink(file, 60_000);
    sink.writeLogLine(line({ target: "/", ...over }));
    sink.flush();
    return file.text.split("] ")[1];
  };
  equal(plain({ duration: 0.04, bytes: 0 }), '"GET / HTTP/1.1" 200 0 0.0ms\n');
  equal(plain({ duration: 0.25, bytes: 1234567 }), '"GET / HTTP/1.1" 200 1234567 0.3ms\n');
  equal(plain({ duration: 1234.96, status: 404 }), '"GET / HTTP/1.1" 404 18 1235.0ms\n');
});

Deno.test("checkHeaders() and checkStatus() remember the strings that passed, never a pair or status that failed", () => {
  const rule = (f: () => unknown) => {
    try {
      f();
    } catch (error) {
      ok(error instanceof ProtocolError);
      return error.rule;
    }
    return "passed";
  };
  for (let round = 0; round < 2; round++) {
    equal(rule(() => checkHeaders([["X-Fast", "yes"], ["Connection-Id", "7"]])), "passed");
    equal(rule(() => checkStatus("299 Fast")), "passed");
    equal(checkStatus("299 Fast"), 299);
    // A remembered name with a bad value, a remembered value under a bad name, a hop-by-hop name.
    equal(rule(() => checkHeaders([["X-Fast", "yes\r\nX-Evil: 1"]])), "headers.value");
    equal(rule(() => checkHeaders([["X Fast", "yes"]])), "headers.name");
    equal(rule(() => checkHeaders([["Connection", "yes"]])), "headers.hop_by_hop");
    equal(rule(() => checkStatus("299 Fast\n")), "status.control");
    equal(rule(() => checkStatus("199 Early")), "status.range");
  }
});

Deno.test("wsgi.version is one frozen [1, 0], like Python's tuple: shared, and an app cannot change it", async () => {
  const seen: unknown[] = [];
  const fetch = toFetch((environ, start_response) => {
    seen.push(environ["wsgi.version"]);
    let changed = "no";
    try {
      (environ["wsgi.version"] as unknown as number[]).push(2);
      changed = "yes";
    } catch (error) {
      changed = error instanceof TypeError ? "TypeError" : String(error);
    }
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return [utf8(changed)];
  });
  equal(await (await fetch(new Request("http://x/a"))).text(), "TypeError");
  equal(await (await fetch(new Request("http://x/b"))).text(), "TypeError");
  deepEqual(seen[0], [1, 0]);
  equal(seen[0], seen[1]);
  ok(Object.isFrozen(seen[0]));
});

Deno.test("serve() sends an array body's headers in the app's order, as the app named them", async (t) => {
  // Names a record would reorder, merge or swallow, should the list ever be
  // handed over as one.
  const cases: [string, Header[]][] = [
    ["distinct names", [["X-B", "1"], ["Content-Type", "text/plain"], ["X-A", "2"], ["Z", "3"]]],
    ["a repeated name", [["Set-Cookie", "a=1"], ["X-A", "2"], ["Set-Cookie", "b=2"]]],
    ["names differing in case", [["X-Case", "1"], ["X-Other", "2"], ["x-case", "3"]]],
    ["a name starting with a digit", [["X-B", "1"], ["1-Digit", "2"], ["0", "3"]]],
    ["__proto__", [["X-B", "1"], ["__proto__", "2"], ["X-A", "3"]]],
    ["inherited names", [["constructor", "1"], ["toString", "2"], ["hasOwnProperty", "3"]]],
    ["more than eight", Array.from({ length: 12 }, (_, i): Header => [`X-H${11 - i}`, `${i}`])],
  ];
  for (const [name, headers] of cases) {
    await t.step(name, async () => {
      await withServer((_e, start_response) => {
        start_response("200 OK", headers);
        return [utf8("ok")];
      }, async (server) => {
        const response = await rawRequest(
          server.port,
          "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        const sent = response.text.slice(0, response.text.indexOf("\r\n\r\n")).split("\r\n")
          .slice(1).map((line) => line.split(": ") as [string, string])
          .filter(([n]) => !/^(content-length|date|connection)$/i.test(n))
          .map(([n, v]) => [n.toLowerCase(), v]);
        deepEqual(sent, headers.map(([n, v]) => [n.toLowerCase(), v]));
        equal(text(response.body), "ok");
      });
    });
  }
});

Deno.test("lineLogger() writes a LogLine as formatLogLine() writes its LogEntry, to any sink", () => {
  const lines = [
    line(),
    line({ host: undefined, status: 0, outcome: "aborted", duration: 12.35 }),
    line({ host: "::1", port: 8, method: "PROPFIND", bytes: 12_345_678_901, duration: 1234.56 }),
    line({ port: 0, target: "/", status: 599, bytes: 0, duration: 0 }),
    line({ port: 65535, status: 404, bytes: 1073741823, duration: 0.05 }),
    line({ target: "/x\x1b[2J\\y", outcome: "cut" }),
    line({ host: "h\x00st", outcome: "timeout" }),
  ];
  const expected = lines.map((l) => formatLogLine(logEntry(l))).join("");
  const file = new MemoryFile();
  const buffered = new BufferedSink(file, 60_000);
  const memory = new MemorySink();
  for (const l of lines) {
    lineLogger(true, buffered, false)(l);
    lineLogger(true, memory, false)(l);
  }
  buffered.flush();
  equal(file.text, expected);
  equal(memory.text, expected);
  match(expected, /^127\.0\.0\.1:51234 - - \[/);
  match(expected, /\n::1:8 - - \[.*"PROPFIND \/caf/);
  match(expected, /\n- - - \[.*" - 18 12\.4ms \(aborted\)\n/);
});

Deno.test("a log function gets a LogEntry of its own for each exchange", async () => {
  const entries: LogEntry[] = [];
  const handler = toFetch(serving("text/plain", utf8("x")), { log: (e) => entries.push(e) });
  const peer = (port: number) => ({
    remoteAddr: { transport: "tcp" as const, hostname: "10.0.0.1", port },
  });
  await (await handler(new Request("http://localhost/a"), peer(1))).text();
  await (await handler(new Request("http://localhost/b"), peer(2))).text();
  equal(entries.length, 2);
  ok(entries[0] !== entries[1]);
  deepEqual(entries.map((e) => [e.remote, e.target]), [["10.0.0.1:1", "/a"], ["10.0.0.1:2", "/b"]]);
  ok(!("host" in entries[0]!));
});
