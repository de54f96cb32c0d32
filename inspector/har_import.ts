/**
 * HAR import: the entries of an HTTP Archive loaded into the store as
 * exchanges, to view and replay (`POST /api/import`, or a `.har` file dropped
 * on the page). Each entry becomes a record like any other: its events are
 * written as frames by the writer the store records with
 * ({@linkcode ExchangeWriter}, with the store's caps), so the list, the
 * detail, replay, HAR export and the body search read it as they read a
 * recorded one. It is marked imported (`ExchangeSummary.imported`).
 *
 * Two kinds of entry:
 *
 * - one this inspector exported (it has `_timeline`): its detail is rebuilt
 *   ({@linkcode detailFromHar}) and every event written again, with its time;
 *   so HAR export then import gives the same detail (its id aside, and a
 *   replay link, which would name an exchange of another store);
 * - any other HAR (a browser's, a proxy's): a timeline is made from what HAR
 *   says: the request (method, path and query of `url`, headers, arrival),
 *   its `postData` as the body the app read, the response's status and
 *   headers as `start_response` and `headers_sent`, its `content` as one
 *   chunk, and the end at `time`. HTTP/2 pseudo-headers (`:authority`) are
 *   left out, `:authority` becoming `Host` when there is none. An entry with
 *   no response (status 0) ends in an abort.
 *
 * A HAR file is input from anywhere: every field is checked for its type
 * and range before anything of its entry is written (arrivals from 1970 to
 * the end of 9999, event times within a year of the arrival, status codes
 * from 100 to 999, byte counts whole and at most 2^53 - 1, a
 * `_timeline`'s byte parts back to back and adding up to the entry's
 * `request.bodySize` and `response.content.size`), and an entry that is not
 * what HAR says is skipped with a message naming the entry and the field;
 * the others are loaded. Bytes past what the file carries are never made
 * up, nor allocated: an exchange truncated in the file keeps its sizes, and
 * only the bytes the file has. Of the bytes it has, only those the store
 * keeps (its `maxBodyBytes` of each stream) are decoded: a body's true size
 * is counted from its text (`har_body.ts`), so a body of hundreds of
 * megabytes costs the store's cap, not its size, and keeps its size.
 *
 * An entry is written whole into a buffer of its own first, then handed to
 * the store ({@linkcode ExchangeStore.importFrames}), so an entry the store
 * cannot hold (a frame over half its memory) is skipped with nothing of it
 * kept. Like recording, an import may evict the oldest exchanges, recorded
 * or imported, to make room, and says how many
 * ({@linkcode ImportResult.evicted}); it never evicts its own entries: those
 * past what the store holds (`maxExchanges`, or its memory) are skipped.
 *
 * @module
 */

import { ExchangeWriter, FrameBuffer } from "./capture.ts";
import { detailFromHar, type HarEntry } from "./har.ts";
import { base64Size, type BodyPrefix, bodyPrefix } from "./har_body.ts";
import {
  type BytesRef,
  EVENT_TYPES,
  type EventType,
  type ExchangeDetail,
  type ImportResult,
  type Pair,
  type WireEvent,
} from "./protocol.ts";
import { align8 } from "./ring.ts";
import type { ExchangeStore } from "./store.ts";
import { reduce } from "./timeline.ts";

/** A value that is not what HAR (or this inspector's `_timeline`) says, with where. */
class Bad extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Throws the message that `where` must be `what`, quoting (the start of) what it is. */
function refuse(where: string, what: string, got: unknown): never {
  // A long string is cut before it is quoted: a HAR text may be megabytes.
  const shown = JSON.stringify(typeof got === "string" ? got.slice(0, 61) : got);
  throw new Bad(
    `${where} must be ${what} (got ${
      shown === undefined ? String(got) : shown.length > 60 ? shown.slice(0, 57) + "..." : shown
    })`,
  );
}

function want(ok: boolean, where: string, what: string, got: unknown): void {
  if (!ok) refuse(where, what, got);
}

/** The largest byte count or offset: past it, a number loses its last digits. */
const MAX_BYTES = Number.MAX_SAFE_INTEGER;
/** The largest count the record format holds in a `u32` (event index, dropped events, generation). */
const MAX_U32 = 2 ** 32 - 1;
/** How far from its arrival an event may be: a year, in ms. */
const MAX_MS = 365 * 24 * 60 * 60 * 1000;
/** The latest arrival: the end of the year 9999 (HAR's dates have four-digit years). */
const MAX_DATE = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

const str = (v: unknown, where: string): string => {
  want(typeof v === "string", where, "a string", v);
  return v as string;
};
const num = (v: unknown, where: string): number => {
  want(typeof v === "number" && Number.isFinite(v), where, "a finite number", v);
  return v as number;
};
/** A whole number from 0 to `max`. */
const whole = (v: unknown, where: string, max = MAX_BYTES): number => {
  const n = num(v, where);
  want(Number.isInteger(n) && n >= 0 && n <= max, where, `a whole number from 0 to ${max}`, n);
  return n;
};
/** An arrival, epoch ms, that a `Date` holds and HAR writes with a four-digit year. */
const date = (v: unknown, where: string): number => {
  const n = num(v, where);
  want(n >= 0 && n <= MAX_DATE, where, "a time from 1970 to the end of 9999, in ms since 1970", n);
  return n;
};
/** A time from an exchange's arrival, in ms. */
const since = (v: unknown, where: string): number => {
  const n = num(v, where);
  want(Math.abs(n) <= MAX_MS, where, "a time from the arrival in ms, at most a year either way", n);
  return n;
};
/** A status code (three digits), or 0 where `zero` says what 0 means. */
const statusCode = (v: unknown, where: string, zero?: string): number => {
  const n = num(v, where);
  want(
    (Number.isInteger(n) && n >= 100 && n <= 999) || (zero !== undefined && n === 0),
    where,
    zero === undefined
      ? "a status code from 100 to 999"
      : `0 (${zero}) or a status code from 100 to 999`,
    n,
  );
  return n;
};
const bool = (v: unknown, where: string): boolean => {
  want(typeof v === "boolean", where, "true or false", v);
  return v as boolean;
};
const obj = (v: unknown, where: string): Record<string, unknown> => {
  want(isObject(v), where, "an object", v);
  return v as Record<string, unknown>;
};
const arr = (v: unknown, where: string): unknown[] => {
  want(Array.isArray(v), where, "an array", v);
  return v as unknown[];
};

function pairList(v: unknown, where: string): Pair[] {
  return arr(v, where).map((p, i) => {
    const pair = arr(p, `${where}[${i}]`);
    want(pair.length === 2, `${where}[${i}]`, "a [name, value] pair", p);
    return [str(pair[0], `${where}[${i}][0]`), str(pair[1], `${where}[${i}][1]`)];
  });
}

function bytesRef(v: unknown, where: string, stream: "request" | "response"): void {
  const ref = obj(v, where);
  want(ref.stream === stream, `${where}.stream`, JSON.stringify(stream), ref.stream);
  const offset = whole(ref.offset, `${where}.offset`);
  whole(ref.size, `${where}.size`, MAX_BYTES - offset);
  whole(ref.kept, `${where}.kept`, ref.size as number);
}

function environValue(v: unknown, where: string, depth: number): void {
  if (v === null || typeof v === "string" || typeof v === "boolean") return;
  if (typeof v === "number") return void num(v, where);
  want(Array.isArray(v) && depth < 4, where, "a string, number, boolean, null or array", v);
  (v as unknown[]).forEach((x, i) => environValue(x, `${where}[${i}]`, depth + 1));
}

/** Checks one `_timeline` event's shape, by its type. */
function checkEvent(e: unknown, where: string): WireEvent {
  const event = obj(e, where);
  const type = str(event.type, `${where}.type`) as EventType;
  want(EVENT_TYPES.includes(type), `${where}.type`, "an event type", type);
  since(event.t, `${where}.t`);
  const d = obj(event.data, `${where}.data`);
  const at = (key: string) => `${where}.data.${key}`;
  switch (type) {
    case "request": {
      str(d.method, at("method"));
      str(d.target, at("target"));
      str(d.version, at("version"));
      pairList(d.headers, at("headers"));
      date(d.startedAt, at("startedAt"));
      if (d.peer !== null) {
        const peer = obj(d.peer, at("peer"));
        str(peer.hostname, at("peer.hostname"));
        whole(peer.port, at("peer.port"), 65535);
      }
      if (d.generation !== undefined) whole(d.generation, at("generation"), MAX_U32);
      if (d.ref !== undefined) str(d.ref, at("ref"));
      break;
    }
    case "environ":
      for (const [key, value] of Object.entries(obj(d.environ, at("environ")))) {
        environValue(value, at(`environ.${key}`), 0);
      }
      break;
    case "call":
      str(d.app, at("app"));
      break;
    case "input":
      want(
        ["read", "readline", "readlines", "iterate"].includes(d.method as string),
        at("method"),
        "read, readline, readlines or iterate",
        d.method,
      );
      if (d.size !== null) {
        const size = num(d.size, at("size"));
        want(
          Number.isInteger(size) && Math.abs(size) <= MAX_BYTES,
          at("size"),
          "null or a whole number (-1: all)",
          size,
        );
      }
      bytesRef(d.bytes, at("bytes"), "request");
      break;
    case "input_rest":
      bytesRef(d.bytes, at("bytes"), "request");
      bool(d.complete, at("complete"));
      break;
    case "start_response":
      str(d.status, at("status"));
      pairList(d.headers, at("headers"));
      bool(d.exc_info, at("exc_info"));
      if (d.error !== undefined) str(d.error, at("error"));
      break;
    case "write":
    case "chunk":
      whole(d.index, at("index"), MAX_U32);
      bytesRef(d.bytes, at("bytes"), "response");
      break;
    case "headers_sent":
      statusCode(d.status, at("status"));
      str(d.status_line, at("status_line"));
      pairList(d.headers, at("headers"));
      break;
    case "errors":
      str(d.text, at("text"));
      whole(d.size, at("size"));
      break;
    case "error":
      str(d.where, at("where"));
      str(d.name, at("name"));
      str(d.message, at("message"));
      if (d.stack !== undefined) str(d.stack, at("stack"));
      break;
    case "lint":
      str(d.rule, at("rule"));
      str(d.message, at("message"));
      break;
    case "close":
      bool(d.called, at("called"));
      break;
    case "end":
      statusCode(d.status, at("status"), "none sent");
      whole(d.bytes, at("bytes"));
      whole(d.dropped_events, at("dropped_events"), MAX_U32);
      break;
    case "abort":
      str(d.reason, at("reason"));
      whole(d.bytes, at("bytes"));
      whole(d.dropped_events, at("dropped_events"), MAX_U32);
      break;
  }
  return e as WireEvent;
}

/** HAR's `{ name, value }` list as pairs. */
function nameValues(v: unknown, where: string): Pair[] {
  return arr(v, where).map((p, i) => {
    const pair = obj(p, `${where}[${i}]`);
    return [str(pair.name, `${where}[${i}].name`), str(pair.value, `${where}[${i}].value`)];
  });
}

/**
 * The first `keep` bytes of a HAR text field (base64 when it says so, else
 * UTF-8) and its true size: only the bytes kept are decoded.
 */
function textPrefix(text: unknown, base64: boolean, where: string, keep: number): BodyPrefix {
  if (text === undefined) return { bytes: new Uint8Array(0), size: 0 };
  const s = str(text, where);
  return bodyPrefix(s, base64, keep) ?? refuse(where, "base64, as its encoding says", s);
}

/** Checks a HAR text field: a string, and base64 when it says so (counted, not decoded). */
function checkText(text: unknown, base64: boolean, where: string): void {
  if (text === undefined) return;
  const s = str(text, where);
  if (base64 && base64Size(s) === undefined) refuse(where, "base64, as its encoding says", s);
}

/**
 * An exchange's detail from an entry of another tool's HAR: a timeline made
 * from what HAR says, with the first `maxBodyBytes` of each body.
 */
function detailFromForeignHar(e: Record<string, unknown>, maxBodyBytes: number): ExchangeDetail {
  const request = obj(e.request, "request");
  const response = obj(e.response, "response");
  const method = str(request.method, "request.method");
  const url = str(request.url, "request.url");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Bad(`request.url must be an absolute URL (got ${JSON.stringify(url)})`);
  }
  const started = Date.parse(str(e.startedDateTime, "startedDateTime"));
  want(
    started >= 0 && started <= MAX_DATE,
    "startedDateTime",
    "an ISO 8601 date from 1970 to the end of 9999",
    e.startedDateTime,
  );
  // HAR has no negative times but -1 for "unknown": read as 0.
  const time = e.time === undefined ? 0 : Math.max(0, num(e.time, "time"));
  want(time <= MAX_MS, "time", "at most a year, in ms", e.time);
  const timings = isObject(e.timings) ? e.timings : {};
  const wait = typeof timings.wait === "number" && timings.wait >= 0
    ? Math.min(timings.wait, time)
    : time;
  let headers = nameValues(request.headers ?? [], "request.headers");
  const authority = headers.find(([n]) => n === ":authority")?.[1];
  headers = headers.filter(([n]) => !n.startsWith(":"));
  if (!headers.some(([n]) => n.toLowerCase() === "host")) {
    headers.unshift(["host", authority ?? parsed.host]);
  }
  const version = typeof request.httpVersion === "string" && /^HTTP\/1\.[01]$/i.test(
      request.httpVersion,
    )
    ? request.httpVersion.toUpperCase()
    : "HTTP/1.1";
  const post = request.postData === undefined
    ? undefined
    : obj(request.postData, "request.postData");
  const body = post === undefined
    ? { bytes: new Uint8Array(0), size: 0 }
    : textPrefix(post.text, post._encoding === "base64", "request.postData.text", maxBodyBytes);
  const status = statusCode(response.status, "response.status", "no response");
  const statusText = typeof response.statusText === "string" ? response.statusText : "";
  const responseHeaders = nameValues(response.headers ?? [], "response.headers").filter(([n]) =>
    !n.startsWith(":")
  );
  const content = obj(response.content ?? {}, "response.content");
  const sent = textPrefix(
    content.text,
    content.encoding === "base64",
    "response.content.text",
    maxBodyBytes,
  );

  const events: WireEvent[] = [{
    type: "request",
    t: 0,
    data: {
      method,
      target: parsed.pathname + parsed.search,
      version,
      peer: null,
      headers,
      startedAt: started,
    },
  }];
  if (body.size > 0) {
    events.push({
      type: "input",
      t: 0,
      data: {
        method: "read",
        size: null,
        bytes: { stream: "request", offset: 0, size: body.size, kept: body.bytes.length },
      },
    });
  }
  if (status !== 0) {
    const statusLine = `${status} ${statusText}`.trim();
    events.push(
      {
        type: "start_response",
        t: wait,
        data: { status: statusLine, headers: responseHeaders, exc_info: false },
      },
      {
        type: "headers_sent",
        t: wait,
        data: { status, status_line: statusLine, headers: responseHeaders },
      },
    );
    if (sent.size > 0) {
      events.push({
        type: "chunk",
        t: wait,
        data: {
          index: 0,
          bytes: { stream: "response", offset: 0, size: sent.size, kept: sent.bytes.length },
        },
      });
    }
    events.push({ type: "end", t: time, data: { status, bytes: sent.size, dropped_events: 0 } });
  } else {
    events.push({
      type: "abort",
      t: time,
      data: { reason: "no response in the HAR file", bytes: 0, dropped_events: 0 },
    });
  }
  const state = reduce(events);
  return {
    id: "0",
    seq: 0,
    startedAt: started,
    method,
    target: parsed.pathname + parsed.search,
    status: state.headersSent?.status ?? null,
    statusLine: state.headersSent?.statusLine ?? null,
    duration: time,
    requestBytes: body.size,
    responseBytes: sent.size,
    state: state.finished?.state ?? "pending",
    truncated: state.truncated,
    errors: 0,
    events,
    request: { body: bodyOf(body) },
    response: { body: bodyOf(sent) },
  };
}

/** A body of a detail: its size, the bytes kept (base64), and whether some were not. */
const bodyOf = ({ bytes, size }: BodyPrefix) => ({
  size,
  bytes: bytes.toBase64(),
  truncated: bytes.length < size,
});

/** The part of a stream a byte event carries (`input`, `input_rest`, `write`, `chunk`). */
function partOf(event: WireEvent): BytesRef | undefined {
  switch (event.type) {
    case "input":
    case "input_rest":
    case "write":
    case "chunk":
      return event.data.bytes;
    default:
      return undefined;
  }
}

/**
 * Checks that the byte parts of each stream in a `_timeline` come back to
 * back (each at the stream's size so far, as the writer counts them), and
 * that they add up to what the entry's HAR fields say: the request body to
 * `request.bodySize` (when there is one: with none, an export gives the
 * `Content-Length`), the body sent to `response.content.size`.
 */
function checkStreams(
  timeline: WireEvent[],
  request: Record<string, unknown>,
  response: Record<string, unknown>,
): void {
  const sizes = { request: 0, response: 0 };
  timeline.forEach((event, i) => {
    const ref = partOf(event);
    if (ref === undefined) return;
    const so = sizes[ref.stream];
    want(
      ref.offset === so,
      `_timeline[${i}].data.bytes.offset`,
      `${so}, the ${ref.stream} stream's size before it`,
      ref.offset,
    );
    want(
      so + ref.size <= MAX_BYTES,
      `_timeline[${i}].data.bytes.size`,
      `at most ${MAX_BYTES - so}, for the ${ref.stream} stream to stay countable`,
      ref.size,
    );
    sizes[ref.stream] = so + ref.size;
  });
  const state = reduce(timeline);
  // Refuses the first part that goes past `limit` of its stream, if any, naming what it breaks.
  const refusePast = (stream: "request" | "response", limit: number, within: string) => {
    const i = timeline.findIndex((e) => {
      const ref = partOf(e);
      return ref !== undefined && ref.stream === stream && ref.offset + ref.size > limit;
    });
    if (i < 0) return;
    const ref = partOf(timeline[i]!)!;
    refuse(
      `_timeline[${i}].data.bytes.size`,
      `at most ${limit - ref.offset}, for ${within}`,
      ref.size,
    );
  };
  if (state.input.size > 0) {
    const bodySize = whole(request.bodySize, "request.bodySize");
    refusePast(
      "request",
      bodySize,
      `the request body to stay within request.bodySize (${bodySize} bytes)`,
    );
    want(
      bodySize === state.input.size,
      "request.bodySize",
      `the size of the request body in _timeline (${state.input.size} bytes)`,
      bodySize,
    );
  }
  const content = obj(response.content, "response.content");
  const sent = state.response.size - state.response.bodyStart;
  const contentSize = whole(content.size, "response.content.size");
  if (sent !== contentSize) {
    const limit = state.response.bodyStart + contentSize;
    refusePast(
      "response",
      limit,
      `the body sent to stay within response.content.size (${contentSize} bytes)`,
    );
    refuse(
      "response.content.size",
      `the size of the body sent in _timeline (${sent} bytes)`,
      contentSize,
    );
  }
}

/**
 * An entry's detail: rebuilt from `_timeline`, or made from another tool's
 * HAR; with the first `maxBodyBytes` of each stream (the bytes a store with
 * that cap keeps: the rest is never decoded), and every true size.
 */
export function entryDetail(entry: unknown, maxBodyBytes = Infinity): ExchangeDetail {
  const e = obj(entry, "the entry");
  if (e._timeline === undefined) return detailFromForeignHar(e, maxBodyBytes);
  const timeline = arr(e._timeline, "_timeline");
  timeline.forEach((event, i) => checkEvent(event, `_timeline[${i}]`));
  want(
    timeline.length > 0 && (timeline[0] as WireEvent).type === "request",
    "_timeline[0]",
    "the request event",
    (timeline[0] as WireEvent | undefined)?.type,
  );
  // What detailFromHar reads besides the timeline.
  const request = obj(e.request, "request");
  if (request.postData !== undefined) {
    const post = obj(request.postData, "request.postData");
    checkText(post.text, post._encoding === "base64", "request.postData.text");
  }
  const response = obj(e.response, "response");
  const content = obj(response.content, "response.content");
  checkText(content.text, content.encoding === "base64", "response.content.text");
  checkText(e._responsePrefix, true, "_responsePrefix");
  checkStreams(timeline as WireEvent[], request, response);
  if (e._id === undefined) e._id = "0";
  str(e._id, "_id");
  const detail = detailFromHar(e as unknown as HarEntry, { maxBodyBytes });
  delete detail.replayOf;
  return detail;
}

/**
 * The payload of one wire event, for the writer: the bytes of a part are
 * those of its stream the file has (a view, maybe shorter than the part, or
 * empty: never more than the file carries).
 */
function payload(
  event: WireEvent,
  request: Uint8Array,
  response: Uint8Array,
  // deno-lint-ignore no-explicit-any
): any {
  const part = (ref: { stream: string; offset: number; size: number }) => {
    const from = ref.stream === "request" ? request : response;
    const start = Math.min(ref.offset, from.length);
    return from.subarray(start, Math.min(start + ref.size, from.length));
  };
  switch (event.type) {
    case "request": {
      const d = event.data;
      return {
        method: d.method,
        target: d.target,
        version: d.version,
        peer: d.peer ?? undefined,
        headers: d.headers,
      };
    }
    case "input":
      return {
        method: event.data.method,
        size: event.data.size ?? undefined,
        bytes: part(event.data.bytes),
      };
    case "input_rest":
      return { bytes: part(event.data.bytes), complete: event.data.complete };
    case "write":
    case "chunk":
      return { index: event.data.index, bytes: part(event.data.bytes) };
    default:
      return event.data;
  }
}

/** One entry's frames, written before the store gets any, and what they take of its ring. */
interface EncodedEntry {
  frames: Uint8Array;
  /** Bytes of the ring the frames take (each aligned to 8). */
  size: number;
  /** The largest frame's bytes (aligned) and event type. */
  largest: { size: number; type: string };
}

/**
 * Writes an exchange's detail as frames, with the store's caps, into a
 * buffer of its own (the same writer the store records with).
 *
 * @throws {Bad} when the writer fails
 */
function encodeEntry(store: ExchangeStore, detail: ExchangeDetail): EncodedEntry {
  const events = detail.events;
  const request = Uint8Array.fromBase64(detail.request.body.bytes);
  const response = Uint8Array.fromBase64(detail.response.body.bytes);
  const first = events[0];
  const startedAt = first?.type === "request" ? first.data.startedAt : detail.startedAt;
  let failure: unknown;
  const buffer = new FrameBuffer((error) => failure ??= error, 4096);
  const t0 = startedAt - performance.timeOrigin;
  const writer = new ExchangeWriter(buffer, 1, t0, store.limits);
  if (first?.type === "request") {
    if (first.data.generation !== undefined) writer.generation = first.data.generation;
    if (first.data.ref !== undefined) writer.ref = first.data.ref;
  }
  for (const event of events) {
    const data = payload(event, request, response);
    // The events the file says were dropped, counted again in its end or abort.
    if (event.type === "end" || event.type === "abort") {
      writer.droppedBefore = event.data.dropped_events;
    }
    const part = partOf(event);
    if (part !== undefined) {
      writer.recordPart(
        event.type as "input" | "input_rest" | "write" | "chunk",
        data,
        part.size,
        t0 + event.t,
      );
    } else writer.record(event.type, data, t0 + event.t);
  }
  if (failure !== undefined) {
    throw new Bad(`cannot be written: ${failure instanceof Error ? failure.message : failure}`);
  }
  const frames = buffer.take();
  const view = new DataView(frames.buffer, frames.byteOffset, frames.byteLength);
  let size = 0;
  const largest = { size: 0, type: "" };
  for (let at = 0; at < frames.length;) {
    const length = view.getUint32(at, true);
    const aligned = align8(length);
    size += aligned;
    if (aligned > largest.size) {
      largest.size = aligned;
      largest.type = EVENT_TYPES[frames[at + 4]! - 1] ?? "unknown";
    }
    at += length;
  }
  return { frames, size, largest };
}

/** Refuses an entry with a frame the store's ring cannot hold (over half its memory). */
function checkFrames(store: ExchangeStore, encoded: EncodedEntry): void {
  if (2 * encoded.largest.size > (store.memory & ~7)) {
    throw new Bad(
      `cannot be kept: its ${encoded.largest.type} event takes ${encoded.largest.size} bytes, more than half of the inspector's memory (${store.memory} bytes); raise --inspector-memory`,
    );
  }
}

/**
 * Loads a HAR document's entries into the store, oldest first as the file
 * lists them: as many as the store holds with one another (the rest are
 * skipped, saying so), evicting the oldest exchanges kept before if need be.
 *
 * @throws {TypeError} when `har` is not a HAR document (no `log.entries`)
 */
export function importHar(store: ExchangeStore, har: unknown): ImportResult {
  const entries = isObject(har) && isObject(har.log) && Array.isArray(har.log.entries)
    ? har.log.entries as unknown[]
    : undefined;
  if (entries === undefined) {
    throw new TypeError(
      "Cannot import: the file is not a HAR document (no log.entries); export one from a browser's network panel or from this inspector",
    );
  }
  const before = store.origins();
  const budget = store.memory & ~7;
  const loaded: string[] = [];
  const skipped: ImportResult["skipped"] = [];
  // Ring bytes this file's entries take, and its largest frame: a lap's end
  // may pad away up to a frame's bytes, so they all stay kept while the two
  // together fit the budget.
  let used = 0;
  let largest = 0;
  let full: string | undefined;
  entries.forEach((entry, i) => {
    if (full === undefined && loaded.length === store.maxExchanges) {
      full =
        `the store keeps at most ${store.maxExchanges} exchanges (--max-exchanges), and this file's entries before it fill it; raise --max-exchanges or split the file`;
    }
    if (full !== undefined) {
      skipped.push({ entry: i, error: `Entry ${i}: not loaded: ${full}` });
      return;
    }
    let encoded: EncodedEntry;
    try {
      encoded = encodeEntry(store, entryDetail(entry, store.maxBodyBytes));
      checkFrames(store, encoded);
      if (encoded.size + encoded.largest.size > budget) {
        throw new Bad(
          `cannot be kept: its events take ${encoded.size} bytes, more than the inspector's memory holds (${store.memory} bytes); raise --inspector-memory`,
        );
      }
    } catch (error) {
      // Whatever went wrong, it is this entry's: the others are still loaded.
      const message = error instanceof Bad
        ? error.message
        : `could not be read (${error instanceof Error ? error.message : String(error)})`;
      skipped.push({ entry: i, error: `Entry ${i}: ${message}` });
      return;
    }
    if (used + encoded.size + Math.max(largest, encoded.largest.size) > budget) {
      full =
        `the inspector's memory (${store.memory} bytes, --inspector-memory) is full with this file's entries before it; raise --inspector-memory or split the file`;
      skipped.push({ entry: i, error: `Entry ${i}: not loaded: ${full}` });
      return;
    }
    used += encoded.size;
    largest = Math.max(largest, encoded.largest.size);
    loaded.push(String(store.importFrames(encoded.frames)));
  });
  const after = store.origins();
  return {
    ids: loaded.filter((id) => store.get(id) !== undefined),
    skipped,
    evicted: {
      recorded: before.recorded - after.recorded,
      imported: before.imported + loaded.length - after.imported,
    },
  };
}
