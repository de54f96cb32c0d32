/**
 * The record format (`inspector/record.ts`, `docs/record.md`): every event
 * type through a frame and back, odd strings, broken frames, and frames
 * written by another process and read by the store.
 *
 * @module
 */

import assert, { deepEqual, equal, match, ok, throws } from "node:assert/strict";
import type { EventMap, EventType } from "../server/recorder.ts";
import { ExchangeWriter, FrameBuffer } from "../inspector/capture.ts";
import {
  decodeFrame,
  ENVIRON_KEYS,
  FORMAT_VERSION,
  FrameEncoder,
  FrameSplitter,
  HEADER_SIZE,
  TYPE_CODE,
} from "../inspector/record.ts";
import { EVENT_TYPES, type ExchangeDetail, type WireEvent } from "../inspector/protocol.ts";
import { ExchangeStore } from "../inspector/store.ts";
import { cutUtf8 } from "../inspector/utf8.ts";
import { toFetch } from "../server/gateway.ts";
import { recordExchanges } from "./fixtures/record_exchanges.ts";
import { deriveEnviron } from "../server/environ_rule.ts";

const limits = { maxBodyBytes: 8, maxEvents: 100, maxText: 64 * 1024 };

/** Writes events through a writer into a fresh buffer; returns the frames' bytes. */
function write(events: [EventType, EventMap[EventType]][], t0 = 1000): Uint8Array {
  const errors: unknown[] = [];
  const buffer = new FrameBuffer((e) => errors.push(e), 16);
  const writer = new ExchangeWriter(buffer, 7, t0, limits);
  for (const [i, [type, data]] of events.entries()) writer.record(type, data as never, t0 + i);
  deepEqual(errors, []);
  return buffer.take();
}

/** Reads back every frame of `bytes`. */
function read(bytes: Uint8Array): { id: number; event: WireEvent; kept: Uint8Array }[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = [];
  for (let at = 0; at < bytes.length;) {
    const frame = decodeFrame(bytes, view, at);
    const ref = "bytes" in frame.event.data && typeof frame.event.data.bytes === "object"
      ? frame.event.data.bytes
      : undefined;
    out.push({
      id: frame.id,
      event: frame.event,
      kept: ref ? bytes.slice(frame.bytesAt, frame.bytesAt + ref.kept) : new Uint8Array(0),
    });
    at += frame.length;
  }
  return out;
}

const bytes = (text: string) => new TextEncoder().encode(text);

Deno.test("record: every event type goes through a frame and back", () => {
  const peer = { hostname: "::1", port: 65535 };
  const cases: [EventType, EventMap[EventType], WireEvent["data"], string?][] = [
    ["request", {
      method: "POST",
      target: "/a?b=1",
      version: "HTTP/1.1",
      peer,
      headers: [["host", "x"], ["x-empty", ""]],
    }, {
      method: "POST",
      target: "/a?b=1",
      version: "HTTP/1.1",
      peer,
      headers: [["host", "x"], ["x-empty", ""]],
      startedAt: performance.timeOrigin + 1000,
    }],
    ["environ", { environ: { PATH_INFO: "/", "my.key": 1.5, flag: true, none: null } }, {
      environ: { PATH_INFO: "/", "my.key": 1.5, flag: true, none: null },
    }],
    ["call", { app: "application" }, { app: "application" }],
    ["input", { method: "readline", size: 4, bytes: bytes("abc\n") }, {
      method: "readline",
      size: 4,
      bytes: { stream: "request", offset: 0, size: 4, kept: 4 },
    }, "abc\n"],
    ["input", { method: "iterate", bytes: bytes("defghij") }, {
      method: "iterate",
      size: null,
      bytes: { stream: "request", offset: 4, size: 7, kept: 4 },
    }, "defg"],
    ["start_response", {
      status: "200 OK",
      headers: [["Content-Type", "text/plain"]],
      exc_info: true,
    }, { status: "200 OK", headers: [["Content-Type", "text/plain"]], exc_info: true }],
    ["start_response", {
      status: 404,
      headers: [["a", 1], "b"],
      exc_info: false,
      error: "status must be a string",
    }, {
      status: "404",
      headers: [["a", "1"], ["b", ""]],
      exc_info: false,
      error: "status must be a string",
    }],
    ["write", { index: 0, bytes: bytes("12345") }, {
      index: 0,
      bytes: { stream: "response", offset: 0, size: 5, kept: 5 },
    }, "12345"],
    ["chunk", { index: 3, bytes: bytes("67890") }, {
      index: 3,
      bytes: { stream: "response", offset: 5, size: 5, kept: 3 },
    }, "678"],
    ["headers_sent", { status: 200, status_line: "200 Fine", headers: [] }, {
      status: 200,
      status_line: "200 Fine",
      headers: [],
    }],
    // The cap (8) counts UTF-8 bytes: "ok ✓\n" takes 7 of them, the next text one.
    ["errors", { text: "ok ✓\n" }, { text: "ok ✓\n", size: 5 }],
    ["errors", { text: "and more" }, { text: "a", size: 8 }],
    ["error", { where: "iterable", name: "TypeError", message: "bad", stack: "at x" }, {
      where: "iterable",
      name: "TypeError",
      message: "bad",
      stack: "at x",
    }],
    ["error", { where: "gateway", name: "Error", message: "" }, {
      where: "gateway",
      name: "Error",
      message: "",
    }],
    ["lint", { rule: "body.type", message: "m" }, { rule: "body.type", message: "m" }],
    ["close", { called: true }, { called: true }],
    ["close", { called: false }, { called: false }],
    ["end", { status: 204, bytes: 0 }, { status: 204, bytes: 0, dropped_events: 0 }],
    ["abort", { reason: "client disconnected", bytes: 2 ** 40 }, {
      reason: "client disconnected",
      bytes: 2 ** 40,
      dropped_events: 0,
    }],
    ["input_rest", { bytes: bytes("xyz"), complete: true }, {
      bytes: { stream: "request", offset: 11, size: 3, kept: 0 },
      complete: true,
    }, ""],
  ];
  const covered = new Set(cases.map(([type]) => type));
  deepEqual([...EVENT_TYPES].filter((type) => !covered.has(type)), [], "every type is tried");
  const frames = read(write(cases.map(([type, data]) => [type, data])));
  equal(frames.length, cases.length);
  for (const [i, [type, , data, kept]] of cases.entries()) {
    const frame = frames[i]!;
    equal(frame.id, 7);
    deepEqual(frame.event, { type, t: i, data }, `${type} #${i}`);
    equal(new TextDecoder().decode(frame.kept), kept ?? "", `${type} #${i} kept bytes`);
  }
});

Deno.test("record: odd strings come back as they went: non-latin-1, empty, control characters, huge", () => {
  const huge = "é".repeat(1 << 20); // latin-1, one byte each
  const hugeUtf8 = "🙂".repeat(100_000); // UTF-16 pairs, four UTF-8 bytes each
  const odd = [
    "",
    "plain",
    "\x00\x01\r\n\t\x7f",
    "ÿ latin-1 top",
    "非 latin-1: 日本語",
    "emoji 🙂 and a lone surrogate \ud800 here",
    huge,
    hugeUtf8,
  ];
  const frames = read(write([
    ["request", {
      method: odd[4]!,
      target: odd[2]!,
      version: "",
      headers: odd.map((s, i) => [`h${i}`, s]),
    }],
    ["environ", { environ: Object.fromEntries(odd.map((s, i) => [s.slice(0, 40) + i, s])) }],
    ["error", {
      where: odd[3]! as "gateway",
      name: odd[5]!,
      message: huge.slice(0, 60_000),
      stack: odd[5],
    }],
  ]));
  const expected = (s: string) => s.replace("\ud800", "\ufffd");
  const request = frames[0]!.event;
  ok(request.type === "request");
  equal(request.data.method, odd[4]);
  equal(request.data.target, odd[2]);
  deepEqual(request.data.headers, odd.map((s, i) => [`h${i}`, expected(s)]));
  const environ = frames[1]!.event;
  ok(environ.type === "environ");
  deepEqual(
    environ.data.environ,
    Object.fromEntries(odd.map((s, i) => [s.slice(0, 40) + i, expected(s)].map(expected))),
  );
  const error = frames[2]!.event;
  ok(error.type === "error");
  equal(error.data.where, odd[3]);
  equal(error.data.message.length, 60_000);
  equal(error.data.stack, expected(odd[5]!));
});

Deno.test("record: the well-known environ keys are one byte each, and an unknown key code is refused", () => {
  const frame = write([["environ", { environ: { [ENVIRON_KEYS[0]!]: "GET" } }]]);
  // header, u32 count, u8 key code, u8 tag, u32 length, "GET"
  equal(frame.length, HEADER_SIZE + 4 + 1 + 1 + 4 + 3);
  equal(frame[HEADER_SIZE + 4], 1);
  frame[HEADER_SIZE + 4] = 250;
  throws(
    () => decodeFrame(frame, new DataView(frame.buffer), 0),
    /unknown environ key code 250/,
  );
});

Deno.test("cutUtf8() keeps whole characters within a byte cap and counts every byte", () => {
  deepEqual(cutUtf8("abc", 3), { kept: "abc", size: 3 });
  deepEqual(cutUtf8("abc", 2), { kept: "ab", size: 3 });
  // é is 2 bytes, € 3, an emoji (a surrogate pair) 4: never cut inside one.
  deepEqual(cutUtf8("a\u00e9\u20ac", 2), { kept: "a", size: 6 });
  deepEqual(cutUtf8("a\u{1F600}b", 4), { kept: "a", size: 6 });
  deepEqual(cutUtf8("a\u{1F600}b", 5), { kept: "a\u{1F600}", size: 6 });
  // A lone surrogate is written as U+FFFD: 3 bytes.
  deepEqual(cutUtf8("\ud800x", 3), { kept: "\ud800", size: 4 });
  deepEqual(cutUtf8("", 0), { kept: "", size: 0 });
  deepEqual(cutUtf8("xyz", 0), { kept: "", size: 3 });
});

Deno.test("record: a cut, foreign or unknown frame is refused with a clear error", () => {
  const frame = write([["call", { app: "application" }]]);
  const view = new DataView(frame.buffer);
  throws(() => decodeFrame(frame.subarray(0, 10), view, 0), /a frame header needs 20 bytes/);
  throws(() => decodeFrame(frame.subarray(0, frame.length - 2), view, 0), /does not fit/);
  const foreign = frame.slice();
  new DataView(foreign.buffer).setUint16(6, FORMAT_VERSION + 1, true);
  throws(() => decodeFrame(foreign, new DataView(foreign.buffer), 0), /format version 2/);
  const unknown = frame.slice();
  unknown[4] = 99;
  throws(() => decodeFrame(unknown, new DataView(unknown.buffer), 0), /unknown event type code 99/);
  const lying = frame.slice();
  new DataView(lying.buffer).setUint32(HEADER_SIZE, 1000, true); // the string's length
  throws(() => decodeFrame(lying, new DataView(lying.buffer), 0), /runs past the end of its frame/);
  equal(TYPE_CODE.call, 3);
});

Deno.test("FrameSplitter joins frames cut across reads", () => {
  const frames = write([["call", { app: "a" }], ["close", { called: true }], [
    "lint",
    { rule: "r", message: "m" },
  ]]);
  const splitter = new FrameSplitter();
  const whole: number[] = [];
  for (let i = 0; i < frames.length; i += 7) {
    const run = splitter.push(frames.subarray(i, i + 7));
    whole.push(...run);
  }
  equal(splitter.pending, 0);
  deepEqual(new Uint8Array(whole), frames);
  throws(() => new FrameSplitter().push(new Uint8Array([3, 0, 0, 0])), /shorter than its header/);
});

/** A detail without what differs from one recording to the next: times and arrivals. */
function timeless(detail: ExchangeDetail) {
  return {
    ...detail,
    startedAt: 0,
    duration: detail.duration === null ? null : 0,
    events: detail.events.map((e) => {
      const event = { ...e, t: 0 } as WireEvent;
      if (event.type === "request") event.data = { ...event.data, startedAt: 0 };
      return event;
    }),
  };
}

Deno.test("record: a store reads the frames another process wrote, as if recorded in-process", async () => {
  const child = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./fixtures/record_child.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const remote = new ExchangeStore({ maxBodyBytes: 4096 });
  const splitter = new FrameSplitter();
  let reads = 0;
  for await (const chunk of child.stdout) {
    reads++;
    const frames = splitter.push(chunk);
    if (frames.length > 0) remote.ingest(frames, 1);
  }
  const status = await child.status;
  const stderr = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
  ok(status.success, stderr);
  equal(splitter.pending, 0, "the stream ended on a frame boundary");
  ok(reads > 1, "the frames came in several reads");

  const local = new ExchangeStore({ maxBodyBytes: 4096 });
  await recordExchanges((app) =>
    toFetch(app, { recorder: local, errors: { write() {}, flush() {} } })
  );
  equal(remote.size, 4);
  deepEqual(
    remote.list().exchanges.map((e) => [e.target, e.status, e.state]),
    [["/boom", 200, "error"], ["/stream", 200, "complete"], ["/echo", 201, "complete"], [
      "/hello?q=%C3%A9",
      200,
      "complete",
    ]],
  );
  for (const id of ["1", "2", "3", "4"]) {
    const theirs = remote.get(id)!.detail();
    const ours = local.get(id)!.detail();
    // Stacks differ by path (the child ran the same code); the rest is the same.
    for (const detail of [theirs, ours]) {
      for (const e of detail.events) if (e.type === "error") e.data.stack = "(stack)";
    }
    deepEqual(timeless(theirs), timeless(ours), `exchange ${id}`);
  }
  match(
    new TextDecoder().decode(Uint8Array.fromBase64(remote.get("2")!.detail().response.body.bytes)),
    /^01234 — done 🙂$/,
  );
});

Deno.test("ExchangeStore.ingest() maps each writer's ids apart, and drops frames of exchanges it never began", () => {
  const store = new ExchangeStore();
  const one = write([["request", {
    method: "GET",
    target: "/one",
    version: "HTTP/1.1",
    headers: [],
  }], [
    "end",
    { status: 200, bytes: 0 },
  ]]);
  const orphan = write([["close", { called: true }]]);
  store.ingest(one, 1);
  store.ingest(one, 2); // another process, same writer id 7: another exchange
  store.ingest(orphan, 3);
  deepEqual(store.list().exchanges.map((e) => [e.id, e.target, e.state]), [
    ["2", "/one", "complete"],
    ["1", "/one", "complete"],
  ]);
  throws(() => store.ingest(one.subarray(0, 30), 1), /does not fit/);
});

Deno.test("record: a request frame's generation and reference survive the pipe; ingest refuses what is not a frame", () => {
  const buffer = new FrameBuffer(undefined, 16);
  const writer = new ExchangeWriter(buffer, 9, 1000, limits);
  writer.generation = 12;
  writer.ref = "12.3.9 \u2603";
  writer.record("request", {
    method: "GET",
    target: "/g",
    version: "HTTP/1.1",
    peer: { hostname: "127.0.0.1", port: 1 },
    headers: [["host", "h"]],
  }, 1000);
  writer.record("end", { status: 200, bytes: 0 }, 1001);
  const frames = buffer.take();
  const [request] = read(frames);
  equal(request!.event.type, "request");
  if (request!.event.type === "request") {
    equal(request!.event.data.generation, 12);
    equal(request!.event.data.ref, "12.3.9 \u2603");
  }
  const store = new ExchangeStore();
  const intake = store.intake();
  intake.ingest(frames);
  const [summary] = store.list().exchanges;
  equal(summary?.generation, 12);
  equal(summary?.ref, "12.3.9 \u2603");
  equal(intake.open, 0);
  const requestLength = new DataView(frames.buffer).getUint32(0, true);
  const broken = frames.slice(0, requestLength);
  broken[6] = 2; // format version 2
  throws(() => store.ingest(broken, 5), /format version 2/);
  broken[6] = 1;
  broken[4] = 99;
  throws(() => store.ingest(broken, 5), /unknown type code 99/);
  broken[4] = 1;
  new DataView(broken.buffer).setUint32(20 + 8, 1000, true); // the method's length runs past the frame
  throws(() => store.ingest(broken, 5), /runs past the end of its frame/);
  equal(store.list().total, 1, "nothing of a refused frame is kept");
});

Deno.test("ExchangeStore.intake(secret) hides the secret in request and environ frames, latin-1 or UTF-8", () => {
  const secret = "p\u00e4ssw\u00f6rt";
  const buffer = new FrameBuffer(undefined, 16);
  const writer = new ExchangeWriter(buffer, 1, 1000, limits);
  writer.record("request", {
    method: "GET",
    target: `/?k=${secret}`, // latin-1 in the frame
    version: "HTTP/1.1",
    headers: [["x-a", `\u2603${secret}`]], // UTF-8 in the frame
  }, 1000);
  writer.record("environ", { environ: { QUERY_STRING: `k=${secret}`, "wsgi.x": 1 } }, 1000);
  writer.record("end", { status: 200, bytes: 0 }, 1002);
  const store = new ExchangeStore();
  store.intake(secret).ingest(buffer.take());
  const detail = store.get("1")!.detail();
  const json = JSON.stringify(detail);
  ok(!json.includes(secret) && !json.includes("\\u00e4ss"), json);
  equal(detail.target, "/?k=[inspector-token]");
  const request = detail.events[0]!;
  if (request.type === "request") {
    deepEqual(request.data.headers, [["x-a", "\u2603[inspector-token]"]]);
  }
  const environ = detail.events[1]!;
  if (environ.type === "environ") {
    deepEqual(environ.data.environ, { QUERY_STRING: "k=[inspector-token]", "wsgi.x": 1 });
  }
});

Deno.test("record: environs that differ from the one before (values, keys, objects) come back exactly", () => {
  const input = (n: number) => ({ toString: () => `<wsgi.input: ${n} bytes left>` });
  const base = {
    REQUEST_METHOD: "GET",
    PATH_INFO: "/a",
    QUERY_STRING: "",
    "wsgi.version": Object.freeze([1, 0]),
    "wsgi.input": input(0),
    REMOTE_PORT: "1000",
    HTTP_HOST: "h",
  };
  const environs: Record<string, unknown>[] = [
    base,
    { ...base },
    { ...base, REMOTE_PORT: "1001" },
    { ...base, PATH_INFO: "/a/much/longer/path/than/before", "wsgi.input": input(12) },
    { ...base, HTTP_X_EXTRA: "extra", "x.custom": 1.5 },
    { REQUEST_METHOD: "POST" },
    base,
    { ...base, HTTP_HOST: "ç".repeat(600), CONTENT_LENGTH: "3" },
    { ...base, HTTP_HOST: "h🙂" },
    base,
  ];
  const frames = read(write(environs.map((environ) => ["environ", { environ }])));
  equal(frames.length, environs.length);
  for (const [i, environ] of environs.entries()) {
    const event = frames[i]!.event;
    ok(event.type === "environ");
    deepEqual(
      event.data.environ,
      Object.fromEntries(
        Object.entries(environ).map((
          [k, v],
        ) => [k, typeof v === "object" && !Array.isArray(v) ? String(v) : v]),
      ),
      `environ #${i}`,
    );
  }
});

Deno.test("record: a string remembered while the sink moved its frame comes back right the next time", () => {
  // A sink that moves the frame begun to the start of a new buffer, as the
  // store's ring does at the end of a lap.
  const sink = {
    more(enc: FrameEncoder, need: number) {
      const length = enc.pos - enc.start;
      const buf = new Uint8Array(length + need + 256);
      buf.set(enc.buf.subarray(enc.start, enc.pos));
      enc.buf = buf;
      enc.view = new DataView(buf.buffer);
      enc.start = 0;
      enc.pos = length;
      enc.limit = buf.length;
    },
  };
  const first = new Uint8Array(64);
  const enc = new FrameEncoder(sink, first);
  enc.limit = first.length;
  enc.pos = enc.start = 30; // the frame's string will not fit before 64: the sink moves it
  enc.begin(TYPE_CODE.call, 0, 1, 0);
  enc.strAt("application-with-a-long-name", 36);
  enc.end();
  equal(enc.start, 0);
  deepEqual(decodeFrame(enc.buf, enc.view, 0).event.data, { app: "application-with-a-long-name" });
  const at = enc.pos;
  enc.begin(TYPE_CODE.call, 0, 2, 0);
  enc.strAt("application-with-a-long-name", 36); // copied from the memo this time
  enc.end();
  deepEqual(decodeFrame(enc.buf, enc.view, at).event.data, { app: "application-with-a-long-name" });
});

Deno.test("record: a remembered string that just fits before the sink's limit asks for no more room", () => {
  const buf = new Uint8Array(128);
  const enc = new FrameEncoder({ more: () => assert.fail("asked the sink for more room") }, buf);
  enc.limit = buf.length;
  enc.begin(TYPE_CODE.call, 0, 1, 0);
  enc.strAt("application", 36);
  enc.end();
  const at = enc.pos;
  enc.begin(TYPE_CODE.call, 0, 2, 0);
  enc.limit = enc.pos + 4 + "application".length; // exactly the string's room
  enc.strAt("application", 36);
  enc.end();
  deepEqual(decodeFrame(buf, new DataView(buf.buffer), at).event.data, { app: "application" });
});

/** The environ's payload as `docs/record.md` specifies it, written the plain way (no memo). */
function environBytes(environ: Record<string, unknown>): Uint8Array {
  const out: number[] = [];
  const u32 = (n: number) => out.push(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);
  const str = (s: string) => {
    if ([...s].every((c) => c.charCodeAt(0) <= 0xff)) {
      u32(s.length);
      for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i));
    } else {
      const b = new TextEncoder().encode(s);
      u32((b.length | 0x80000000) >>> 0);
      out.push(...b);
    }
  };
  const value = (v: unknown, depth: number) => {
    if (typeof v === "string") out.push(0), str(v);
    else if (typeof v === "number" && Number.isFinite(v)) {
      out.push(1);
      const b = new Uint8Array(8);
      new DataView(b.buffer).setFloat64(0, v, true);
      out.push(...b);
    } else if (typeof v === "boolean") out.push(v ? 2 : 3);
    else if (v === null || v === undefined) out.push(4);
    else if (Array.isArray(v) && depth < 3) {
      out.push(5);
      u32(Math.min(v.length, 100));
      for (const item of v.slice(0, 100)) value(item, depth + 1);
    } else {
      out.push(6);
      str(typeof v === "function" ? `[function ${v.name || "anonymous"}]` : String(v));
    }
  };
  const keys = Object.keys(environ);
  u32(keys.length);
  for (const key of keys) {
    const code = ENVIRON_KEYS.indexOf(key) + 1;
    out.push(code);
    if (code === 0) str(key);
    value(environ[key], 0);
  }
  return new Uint8Array(out);
}

Deno.test("writeEnviron() copies entries equal to the last environ's, and writes every other one anew, byte for byte", () => {
  const described = (text: string) => ({ toString: () => text });
  const list = [1, "a"];
  const base: Record<string, unknown> = {
    REQUEST_METHOD: "GET",
    PATH_INFO: "/a",
    "wsgi.version": Object.freeze([1, 0]),
    "wsgi.input": described("<wsgi.input: 0 bytes left>"),
    "wsgi.errors": described("<wsgi.errors stderr>"),
    "wsgi.file_wrapper": function fileWrapper() {},
    "wsgi.multithread": false,
    REMOTE_ADDR: null,
    HTTP_X_LIST: list,
    "x.number": 0,
    HTTP_HOST: "h",
  };
  const many = Object.fromEntries(Array.from({ length: 80 }, (_, i) => [`x.key${i}`, `v${i}`]));
  const steps: (Record<string, unknown> | (() => void))[] = [
    base,
    base,
    // The same text, once a string and once an object's description: other tags.
    { ...base, "wsgi.errors": "<wsgi.errors stderr>" },
    base,
    // -0 is not 0; a frozen array equal in content; the same array, changed since.
    { ...base, "x.number": -0, "wsgi.version": Object.freeze([1, 0]) },
    () => list.push("b"),
    base,
    // A longer value at one place: the entries after it move.
    { ...base, PATH_INFO: "/a/much/longer/path" },
    base,
    // A function described otherwise, and a value that is not latin-1.
    { ...base, "wsgi.file_wrapper": () => {}, HTTP_HOST: "h🙂" },
    base,
    // More entries, and more bytes, than the memo keeps.
    { ...base, ...many },
    { ...base, ...many, "x.key79": "changed" },
    { ...base, HTTP_X_BIG: "x".repeat(5000) },
    { ...base, HTTP_X_BIG: "y".repeat(5000) },
    { REQUEST_METHOD: "POST" },
    base,
  ];
  // A buffer of 16 bytes that grows: the sink moves the frame while runs are copied.
  const errors: unknown[] = [];
  const buffer = new FrameBuffer((e) => errors.push(e), 16);
  const writer = new ExchangeWriter(buffer, 7, 0, limits);
  for (const [i, step] of steps.entries()) {
    if (typeof step === "function") {
      step();
      continue;
    }
    writer.record("environ", { environ: step }, 0);
    const frame = buffer.take();
    deepEqual(frame.subarray(HEADER_SIZE), environBytes(step), `environ at step ${i}`);
  }
  deepEqual(errors, []);
});

/** A request, and the environ the gateway builds for it, with its derivation (as `RecordedExchange` gives them). */
function derivedEvents(): [EventType, EventMap[EventType]][] {
  const headers: [string, string][] = [["host", "example.com:8080"], ["x-a", "1"]];
  const derivation = {
    rule: deriveEnviron,
    url: "http://example.com:8080/a%20b?q=1",
    serverName: undefined,
    serverPort: undefined,
    urlScheme: "http",
    multiprocess: true,
    dropped: false,
    inputLeft: 5,
  };
  const environ = deriveEnviron(derivation, {
    method: "PUT",
    headers,
    peer: { hostname: "::1", port: 9 },
  });
  return [
    ["request", {
      method: "PUT",
      target: "/a%20b?q=1",
      version: "HTTP/1.1",
      peer: { hostname: "::1", port: 9 },
      headers,
    }],
    ["environ", { environ, derivation }],
  ];
}

Deno.test("record: a derived environ reads back with its request frame and the gateway's rule, and not without", () => {
  const buffer = new FrameBuffer(undefined, 16);
  buffer.derivesEnviron = true;
  const writer = new ExchangeWriter(buffer, 7, 1000, limits);
  for (const [type, data] of derivedEvents()) writer.record(type, data as never, 1000);
  const frames = buffer.take();
  const view = new DataView(frames.buffer);
  const request = decodeFrame(frames, view, 0);
  const at = request.length;
  throws(() => decodeFrame(frames, view, at), /a derived environ .* no rule/);
  throws(() => decodeFrame(frames, view, at, { rule: deriveEnviron }), /no request frame/);
  ok(request.event.type === "request");
  const environ =
    decodeFrame(frames, view, at, { rule: deriveEnviron, request: request.event.data })
      .event;
  ok(environ.type === "environ");
  deepEqual(environ.data.environ, {
    REQUEST_METHOD: "PUT",
    SCRIPT_NAME: "",
    PATH_INFO: "/a b",
    QUERY_STRING: "q=1",
    SERVER_NAME: "example.com",
    SERVER_PORT: "8080",
    SERVER_PROTOCOL: "HTTP/1.1",
    SERVER_SOFTWARE: (environ.data.environ as Record<string, unknown>).SERVER_SOFTWARE,
    GATEWAY_INTERFACE: "CGI/1.1",
    "wsgi.version": [1, 0],
    "wsgi.url_scheme": "http",
    "wsgi.input": "<wsgi.input: 5 bytes left>",
    "wsgi.errors": "<wsgi.errors stderr>",
    "wsgi.multithread": false,
    "wsgi.multiprocess": true,
    "wsgi.run_once": false,
    "wsgi.file_wrapper": "[function fileWrapper]",
    REMOTE_ADDR: "::1",
    REMOTE_PORT: "9",
    HTTP_HOST: "example.com:8080",
    HTTP_X_A: "1",
    RAW_URI: "/a%20b?q=1",
    REQUEST_URI: "/a%20b?q=1",
  });
  // A store given the rule (as the CLI's is, for its app processes) reads it too.
  const store = new ExchangeStore({ environRule: deriveEnviron });
  store.ingest(frames, 1);
  const event = store.get("1")!.detail().events[1]!;
  ok(event.type === "environ");
  deepEqual(event.data.environ, environ.data.environ);
});

Deno.test("ExchangeStore.intake(secret) refuses a derived environ: the token is hidden in whole environs only", () => {
  const buffer = new FrameBuffer(undefined, 16);
  buffer.derivesEnviron = true;
  const writer = new ExchangeWriter(buffer, 1, 1000, limits);
  for (const [type, data] of derivedEvents()) writer.record(type, data as never, 1000);
  const failures: unknown[] = [];
  const store = new ExchangeStore({ environRule: deriveEnviron, onError: (e) => failures.push(e) });
  store.intake("s3cret").ingest(buffer.take());
  match(String(failures[0]), /Cannot take a derived environ in token mode/);
  deepEqual(store.get("1")!.detail().events.map((e) => e.type), ["request"]);
});
