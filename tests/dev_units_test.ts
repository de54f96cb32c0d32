/**
 * The dev loop's parts in memory: the channel's framing, an app process's
 * recorder and the supervisor's intake across it, the error pages' loopback
 * rule, load errors and code frames.
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { toFetch } from "../server/gateway.ts";
import {
  ChannelWriter,
  HEARTBEAT,
  MessageSplitter,
  readChannel,
  RECORD,
} from "../server/dev/channel.ts";
import { debugPage } from "../server/dev/debug_page.ts";
import { isLoopback, showsInternals } from "../server/dev/internals.ts";
import { appHandler, RECORD_WAIT, recordPaced } from "../server/dev/child.ts";
import type { ChildConfig } from "../server/dev/child_config.ts";
import { fromImportError, type LoadError } from "../server/dev/load_error.ts";
import { formatCodeFrame } from "../server/dev/code_frame.ts";
import type { Application, Environ } from "../server/types.ts";
import { createAppRecorder } from "../inspector/app_recorder.ts";
import { ExchangeStore } from "../inspector/store.ts";
import { REDACTED } from "../inspector/redact.ts";
import type { ExchangeDetail } from "../inspector/protocol.ts";
import { environOf, stateOf } from "./_inspector.ts";
import { MemorySink } from "./_helpers.ts";

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

Deno.test("readChannel() reads straight into the splitter: small and large messages (1 MiB, past its buffer) survive reads of any size", async () => {
  const sizes = [3, 70_000, 1, 1024 * 1024, 200, 300_000, 0, 65_531, 5];
  const messages = sizes.map((n, i) =>
    Uint8Array.from({ length: n }, (_, j) => (i * 31 + j) & 0xff)
  );
  const stream = new Uint8Array(messages.reduce((n, m) => n + 5 + m.length, 0));
  const view = new DataView(stream.buffer);
  let at = 0;
  for (const m of messages) {
    view.setUint32(at, 5 + m.length, true);
    stream[at + 4] = RECORD;
    stream.set(m, at + 5);
    at += 5 + m.length;
  }
  for (const readSize of [1000, 64 * 1024, 999_999, stream.length]) {
    let pos = 0;
    const conn = {
      read: (p: Uint8Array) => {
        if (pos === stream.length) return Promise.resolve(null);
        const n = Math.min(p.length, readSize, stream.length - pos);
        p.set(stream.subarray(pos, pos + n));
        pos += n;
        return Promise.resolve(n);
      },
    };
    const got: Uint8Array[] = [];
    await readChannel(conn, (kind, payload) => {
      equal(kind, RECORD);
      got.push(payload.slice());
    });
    deepEqual(got, messages, `reads of up to ${readSize} bytes`);
  }
});

Deno.test("ChannelWriter.record() joins small frames queued back to back into one RECORD message", async () => {
  const written: Uint8Array[] = [];
  const writer = new ChannelWriter({
    write: (p) => {
      written.push(p.slice());
      return Promise.resolve(p.length);
    },
  }, 0);
  writer.record(Uint8Array.of(1, 2));
  writer.record(Uint8Array.of(3));
  writer.send(HEARTBEAT);
  writer.record(Uint8Array.of(4, 5, 6));
  writer.record(new Uint8Array(70 * 1024).fill(7));
  writer.record(Uint8Array.of(8));
  await writer.drain();
  const got: [number, number[]][] = [];
  const splitter = new MessageSplitter((kind, payload) => got.push([kind, [...payload]]));
  for (const w of written) splitter.push(w);
  deepEqual(got.map(([kind, payload]) => [kind, payload.length]), [
    [RECORD, 3],
    [HEARTBEAT, 0],
    [RECORD, 3],
    [RECORD, 70 * 1024],
    [RECORD, 1],
  ], "frames join a message while it stays under 64 KiB; one past it goes out");
  deepEqual(got[0]![1], [1, 2, 3]);
  deepEqual(got[4]![1], [8]);
});

/**
 * An app process's recorder whose frames cross a channel (in memory) into
 * `store`'s intake (which hides `secret`, if given).
 */
function appChannel(store: ExchangeStore, secret?: string) {
  const intake = store.intake(secret);
  const splitter = new MessageSplitter((kind, payload) => {
    equal(kind, RECORD);
    intake.ingest(payload);
  });
  const writer = new ChannelWriter({
    write: (p) => {
      splitter.push(p.slice());
      return Promise.resolve(p.length);
    },
  }, 0);
  const recorder = createAppRecorder({
    settings: { module: "unused", ...store.limits },
    generation: 4,
    worker: 2,
    send(frame, urgent) {
      writer.send(RECORD, frame);
      if (urgent) writer.flushEager(1);
    },
    congested: () => false,
  });
  return { intake, writer, recorder };
}

/** A detail's events without what differs between two recordings of one exchange (times, names). */
function comparable(detail: ExchangeDetail): unknown[] {
  return JSON.parse(JSON.stringify(detail.events, (key, value) => {
    if (key === "t" || key === "startedAt" || key === "generation" || key === "ref") {
      return undefined;
    }
    return value;
  }));
}

Deno.test("an app process's frames cross the channel into the store as the store records in-process", async () => {
  const encoder = new TextEncoder();
  const app: Application = async (environ, start_response) => {
    await environ["wsgi.input"].read(3);
    environ["wsgi.errors"].write("warn \u2603\n");
    start_response("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
    return (async function* () {
      yield encoder.encode("caf\u00e9 ");
      yield encoder.encode("\u2603");
    })();
  };
  const drive = async (handler: (request: Request) => Promise<Response>) => {
    const response = await handler(
      new Request("http://localhost/p?q=\u00e9", { method: "POST", body: "0123456789" }),
    );
    equal(await response.text(), "caf\u00e9 \u2603");
  };
  const direct = new ExchangeStore();
  await drive(toFetch(app, { recorder: direct, log: false }));
  const store = new ExchangeStore();
  const { intake, writer, recorder } = appChannel(store);
  await drive(toFetch(app, { recorder, log: false }));
  // The drain of the unread body comes after the response: let it finish.
  await new Promise((resolve) => setTimeout(resolve, 20));
  await writer.drain();
  const want = direct.get("1")!.detail();
  const got = store.get("1")!.detail();
  const events = comparable(got);
  comparable(want).forEach((event, i) => deepEqual(events[i], event, `event ${i}`));
  equal(events.length, want.events.length);
  deepEqual(got.request, want.request);
  deepEqual(got.response, want.response);
  equal(new TextDecoder().decode(Uint8Array.fromBase64(got.request.body.bytes)), "0123456789");
  equal(stateOf(got).input.read, 3);
  equal(got.state, "complete");
  equal(got.generation, 4);
  equal(got.ref, "4.2.1");
  equal(intake.open, 0);
});

Deno.test("an app process's recorder: refOf, a fault on the one open exchange, redaction, abortOpen", () => {
  const store = new ExchangeStore();
  const { intake, writer, recorder } = appChannel(store, "s3cret");
  const request = (target: string) => ({
    method: "GET",
    target,
    version: "HTTP/1.1",
    peer: undefined,
    headers: [["cookie", "t=s3cret"]] as [string, string][],
  });
  const a = recorder.begin(new Request("http://localhost/"))!;
  a.record("request", request("/a?token=s3cret"));
  const environ = { REQUEST_METHOD: "GET", QUERY_STRING: "token=s3cret" };
  a.record("environ", { environ });
  equal(recorder.refOf(environ), "4.2.1");
  equal(Object.keys(environ).length, 2, "the reference is not an enumerable key");
  equal(recorder.faultOnOpen({ name: "Error", message: "in a timer" }), "4.2.1");
  const b = recorder.begin(new Request("http://localhost/"))!;
  b.record("request", request("/b"));
  equal(recorder.faultOnOpen({ name: "Error", message: "whose?" }), undefined, "two open");
  writer.flush();
  equal(intake.open, 2);
  equal(intake.abortOpen("cut: the app process exited"), 2);
  equal(intake.open, 0);
  const first = store.get("1")!.detail();
  equal(first.target, `/a?token=${REDACTED}`);
  ok(!JSON.stringify(first).includes("s3cret"), JSON.stringify(first));
  equal(environOf(first).QUERY_STRING, `token=${REDACTED}`);
  equal(environ.QUERY_STRING, "token=s3cret", "the app's environ is left as it was");
  const state = stateOf(first);
  deepEqual(state.errors.map((e) => e.message), ["in a timer", "cut: the app process exited"]);
  equal(state.finished?.kind, "abort");
  equal(state.finished?.reason, "cut: the app process exited");
  equal(store.get("2")!.detail().state, "error");
});

Deno.test("the supervisor's intake: open exchanges with their clients; a 504 answered for one is recorded as the gateway records an async hang's", async () => {
  // The gateway's own 504 of an async hang, recorded in-process.
  const own = new ExchangeStore();
  const hang = toFetch(() => new Promise(() => {}), {
    recorder: own,
    timeout: 50,
    log: false,
    errors: new MemorySink(),
  });
  await (await hang(new Request("http://localhost/hang"))).text();
  const ownDetail = own.get("1")!.detail();

  const store = new ExchangeStore();
  const { intake, writer, recorder } = appChannel(store);
  const begin = (target: string, peer: { hostname: string; port: number }) => {
    const x = recorder.begin(new Request(`http://localhost${target}`))!;
    x.record("request", { method: "GET", target, version: "HTTP/1.1", peer, headers: [] });
    x.record("call", { app: "application" });
    return x;
  };
  begin("/spin", { hostname: "127.0.0.1", port: 40001 });
  const sent = begin("/stream", { hostname: "::1", port: 40002 });
  sent.record("headers_sent", { status: 200, status_line: "200 OK", headers: [] });
  await writer.drain();
  const open = intake.openExchanges();
  deepEqual(open.map(({ method, peer, headersSent }) => ({ method, peer, headersSent })), [
    { method: "GET", peer: { hostname: "127.0.0.1", port: 40001 }, headersSent: false },
    { method: "GET", peer: { hostname: "::1", port: 40002 }, headersSent: true },
  ]);
  const body = new TextEncoder().encode("504 Gateway Timeout\n");
  const answer = {
    statusLine: "504 Gateway Timeout",
    headers: [["content-length", String(body.length)]] as [string, string][],
    body,
    error: { name: "TimeoutError", message: "The application did not answer within 1 s (timeout)" },
  };
  ok(intake.answerOpen(open[0]!.id, answer));
  equal(intake.answerOpen(open[0]!.id, answer), false, "answered once");
  equal(intake.open, 1);
  const detail = store.get("1")!.detail();
  equal(detail.status, 504);
  equal(detail.statusLine, ownDetail.statusLine);
  equal(detail.state, ownDetail.state);
  const after = (d: ExchangeDetail) =>
    d.events.slice(d.events.findIndex((e) => e.type === "call") + 1).map((e) => e.type);
  deepEqual(after(detail), after(ownDetail));
  equal(
    new TextDecoder().decode(
      Uint8Array.from(atob(detail.response.body.bytes), (c) => c.charCodeAt(0)),
    ),
    "504 Gateway Timeout\n",
  );
});

Deno.test("an app process's recorder: a reader far behind leaves new exchanges unrecorded, never part of one", async () => {
  let release!: () => void;
  const stuck = new Promise<void>((resolve) => (release = resolve));
  const written: Uint8Array[] = [];
  const writer = new ChannelWriter({
    write: async (p) => {
      await stuck;
      written.push(p.slice());
      return p.length;
    },
  }, 0);
  const store = new ExchangeStore();
  const recorder = createAppRecorder({
    settings: { module: "unused", ...store.limits },
    generation: 1,
    worker: 1,
    send: (frame) => writer.record(frame),
    congested: () => writer.backlog > 200 * 1024,
  });
  const body = new Uint8Array(100 * 1024);
  const handler = toFetch((_environ, start_response) => {
    start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
    return [body];
  }, { recorder, log: false });
  for (let i = 0; i < 5; i++) await (await handler(new Request("http://localhost/"))).arrayBuffer();
  equal(recorder.skipped, 3, "two exchanges fill the backlog; the next three are not recorded");
  ok(writer.backlog < 300 * 1024, `the backlog stays near its limit (${writer.backlog})`);
  release();
  await writer.drain();
  const intake = store.intake();
  const splitter = new MessageSplitter((_kind, payload) => intake.ingest(payload));
  for (const w of written) splitter.push(w);
  deepEqual(store.list().exchanges.map((e) => [e.id, e.state]), [["2", "complete"], [
    "1",
    "complete",
  ]]);
  equal(recorder.skipped, 3);
  // Once the reader caught up, exchanges are recorded again.
  await (await handler(new Request("http://localhost/"))).arrayBuffer();
  equal(recorder.skipped, 3);
});

/** A channel sink whose writes wait for `release()` (each takes at most 64 KiB). */
function heldSink() {
  let release!: () => void;
  let held = new Promise<void>((resolve) => (release = resolve));
  return {
    sink: {
      write: async (p: Uint8Array) => {
        await held;
        return Math.min(p.length, 64 * 1024);
      },
    },
    /** Lets every write through from now on. */
    release: () => release(),
    /** Holds the writes again. */
    hold: () => (held = new Promise<void>((resolve) => (release = resolve))),
  };
}

Deno.test("ChannelWriter.below() resolves true once the reader took the backlog down to the mark, false when it took nothing for stallMs", async () => {
  const { sink, release } = heldSink();
  const writer = new ChannelWriter(sink, 0);
  equal(await writer.below(0, 10), true, "nothing queued: at once");
  writer.send(RECORD, new Uint8Array(1024 * 1024));
  ok(writer.backlog > 1024 * 1024);
  // Taking nothing: the waiter gives up after stallMs.
  equal(await writer.below(256 * 1024, 30), false);
  const waiting = writer.below(256 * 1024, 60_000);
  let settled = false;
  waiting.then(() => (settled = true));
  await new Promise((resolve) => setTimeout(resolve, 20));
  equal(settled, false, "still behind: still waiting");
  release();
  equal(await waiting, true);
  ok(writer.backlog <= 256 * 1024);
  await writer.drain();
  equal(writer.backlog, 0);
});

/** `recordPaced` over a handler that counts its calls and answers "ok", its log kept. */
function pacedOk(writer: ChannelWriter, stallMs: number) {
  const logged: string[] = [];
  let calls = 0;
  const handler = recordPaced(
    () => {
      calls++;
      return Promise.resolve(new Response("ok"));
    },
    writer,
    { stallMs, log: (text) => logged.push(text) },
  );
  return {
    handler,
    logged,
    get calls() {
      return calls;
    },
  };
}

Deno.test("recordPaced(): requests wait while the channel is more than RECORD_WAIT behind, and run once it caught up; a stalled reader lets them go on, said once", async () => {
  const { sink, release, hold } = heldSink();
  const writer = new ChannelWriter(sink, 0);
  const paced = pacedOk(writer, 200);
  const { handler, logged } = paced;
  await (await handler(new Request("http://localhost/"))).text();
  equal(paced.calls, 1, "no backlog: no wait");
  writer.send(RECORD, new Uint8Array(RECORD_WAIT + 1024 * 1024));
  const first = handler(new Request("http://localhost/"));
  const second = handler(new Request("http://localhost/"));
  await new Promise((resolve) => setTimeout(resolve, 50));
  equal(paced.calls, 1, "behind: both wait");
  release();
  await Promise.all([(await first).text(), (await second).text()]);
  equal(paced.calls, 3, "caught up: both ran");
  ok(writer.backlog <= RECORD_WAIT);
  deepEqual(logged, []);
  // A reader that takes nothing: the waiters go on after stallMs, the next ones at once.
  await writer.drain();
  hold();
  writer.send(RECORD, new Uint8Array(RECORD_WAIT + 1024 * 1024));
  await Promise.all([
    handler(new Request("http://localhost/")),
    handler(new Request("http://localhost/")),
  ]);
  equal(paced.calls, 5);
  equal(logged.length, 1, "said once");
  match(logged[0]!, /took no records for 0\.2 s; requests no longer wait for it/);
  await handler(new Request("http://localhost/"));
  equal(paced.calls, 6, "stalled: no wait");
  release();
  await writer.drain();
});

Deno.test("recordPaced(): requests waiting when the channel closes go on at once, and the log says it closed, not that it stalled", async () => {
  let fail!: () => void;
  const failing = new Promise<number>((_, reject) => (fail = () => reject(new Error("gone"))));
  const writer = new ChannelWriter({ write: () => failing }, 0);
  const paced = pacedOk(writer, 60_000);
  const { handler, logged } = paced;
  writer.send(RECORD, new Uint8Array(RECORD_WAIT + 1024 * 1024));
  const waiting = handler(new Request("http://localhost/"));
  await new Promise((resolve) => setTimeout(resolve, 20));
  equal(paced.calls, 0, "behind: it waits");
  fail();
  await (await waiting).text();
  equal(paced.calls, 1, "the channel closed: it went on, long before stallMs");
  equal(writer.closed, true);
  equal(logged.length, 1);
  match(logged[0]!, /the channel to the supervisor closed; requests no longer wait for it/);
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

Deno.test("showsInternals() lets a loopback client see the internals, anyone with anyClient, no one without an environ", async (t) => {
  const environ = (REMOTE_ADDR: string) => ({ REMOTE_ADDR }) as unknown as Environ;
  const cases: [string, Environ | undefined, boolean, boolean][] = [
    ["IPv4 loopback", environ("127.0.0.1"), false, true],
    ["elsewhere in 127.0.0.0/8", environ("127.8.0.1"), false, true],
    ["IPv6 loopback", environ("::1"), false, true],
    ["IPv4-mapped loopback", environ("::ffff:127.0.0.1"), false, true],
    ["a LAN peer", environ("192.168.1.20"), false, false],
    ["an IPv6 peer", environ("2001:db8::1"), false, false],
    ["a peer that only looks like loopback", environ("1127.0.0.1"), false, false],
    ["a LAN peer, with anyClient", environ("192.168.1.20"), true, true],
    ["no environ", undefined, false, false],
    ["no environ, with anyClient", undefined, true, false],
  ];
  for (const [name, env, anyClient, expected] of cases) {
    await t.step(name, () => equal(showsInternals(env, anyClient), expected));
  }
});

Deno.test("appHandler() of an app process whose module does not load: the error page (source, path) for loopback clients only, unless debugAnyClient", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wsgi-loaderror-" });
  try {
    const file = `${dir}/app.ts`;
    await Deno.writeTextFile(
      file,
      "const secret = 'hunter2';\nexport const application = [1 +];\n",
    );
    const error: LoadError = {
      kind: "syntax error",
      module: "app.ts",
      message: "SyntaxError: Expression expected",
      file,
      line: 2,
      column: 33,
    };
    const config: ChildConfig = {
      channel: `${dir}/channel.sock`,
      generation: 1,
      worker: 1,
      module: `file://${file}`,
      shown: "app.ts",
      hostname: "127.0.0.1",
      port: 8000,
      timeout: 0,
      multiprocess: false,
      log: false,
      failed: error,
    };
    const ask = async (hostname: string, accept: string, debugAnyClient = false) => {
      const handler = appHandler({ ...config, debugAnyClient }, { error });
      const response = await handler(
        new Request("http://127.0.0.1:8000/", { headers: { accept } }),
        {
          remoteAddr: { transport: "tcp", hostname, port: 5000 },
        },
      );
      return { status: response.status, text: await response.text() };
    };
    for (const accept of ["text/html", "*/*"]) {
      const local = await ask("127.0.0.1", accept);
      equal(local.status, 500);
      match(local.text, /export const application = \[1 \+\];/, "the code frame, to this machine");
      match(local.text, /app\.ts:2:33/, "its place");
      for (const peer of ["192.0.2.9", "2001:db8::1"]) {
        const remote = await ask(peer, accept);
        equal(remote.status, 500);
        equal(remote.text, "500 Internal Server Error\n", `nothing of the module for ${peer}`);
      }
      match((await ask("192.0.2.9", accept, true)).text, /\[1 \+\]/, "debugAnyClient: shown");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
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
