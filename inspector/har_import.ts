/**
 * HAR import: the entries of an HTTP Archive loaded into the store as
 * exchanges, to view and replay (`POST /api/import`, or a `.har` file dropped
 * on the page). Each entry becomes a record like any other: its events are
 * written as frames by the store's own {@linkcode ExchangeWriter}, so the
 * list, the detail, replay, HAR export and the body search read it as they
 * read a recorded one. It is marked imported (`ExchangeSummary.imported`).
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
 * before it is used, and an entry that is not what HAR says is skipped with
 * a message naming the entry and the field; the others are loaded. Bytes
 * past what the file carries are never made up: an exchange truncated in the
 * file keeps its sizes, and only the bytes the file has.
 *
 * @module
 */

import { ExchangeWriter } from "./capture.ts";
import { detailFromHar, type HarEntry } from "./har.ts";
import {
  EVENT_TYPES,
  type EventType,
  type ExchangeDetail,
  type ImportResult,
  type Pair,
  type WireEvent,
} from "./protocol.ts";
import type { ExchangeStore } from "./store.ts";
import { reduce } from "./timeline.ts";

/** A value that is not what HAR (or this inspector's `_timeline`) says, with where. */
class Bad extends Error {}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function want(ok: boolean, where: string, what: string, got: unknown): void {
  if (!ok) {
    const shown = JSON.stringify(got);
    throw new Bad(
      `${where} must be ${what} (got ${
        shown === undefined ? String(got) : shown.length > 60 ? shown.slice(0, 57) + "..." : shown
      })`,
    );
  }
}

const str = (v: unknown, where: string): string => {
  want(typeof v === "string", where, "a string", v);
  return v as string;
};
const num = (v: unknown, where: string): number => {
  want(typeof v === "number" && Number.isFinite(v), where, "a finite number", v);
  return v as number;
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
  for (const key of ["offset", "size", "kept"]) {
    const n = num(ref[key], `${where}.${key}`);
    want(Number.isInteger(n) && n >= 0, `${where}.${key}`, "a whole number", n);
  }
  want((ref.kept as number) <= (ref.size as number), `${where}.kept`, "at most its size", ref.kept);
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
  num(event.t, `${where}.t`);
  const d = obj(event.data, `${where}.data`);
  const at = (key: string) => `${where}.data.${key}`;
  switch (type) {
    case "request": {
      str(d.method, at("method"));
      str(d.target, at("target"));
      str(d.version, at("version"));
      pairList(d.headers, at("headers"));
      num(d.startedAt, at("startedAt"));
      if (d.peer !== null) {
        const peer = obj(d.peer, at("peer"));
        str(peer.hostname, at("peer.hostname"));
        num(peer.port, at("peer.port"));
      }
      if (d.generation !== undefined) num(d.generation, at("generation"));
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
      if (d.size !== null) num(d.size, at("size"));
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
      num(d.index, at("index"));
      bytesRef(d.bytes, at("bytes"), "response");
      break;
    case "headers_sent":
      num(d.status, at("status"));
      str(d.status_line, at("status_line"));
      pairList(d.headers, at("headers"));
      break;
    case "errors":
      str(d.text, at("text"));
      num(d.size, at("size"));
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
      num(d.status, at("status"));
      num(d.bytes, at("bytes"));
      num(d.dropped_events, at("dropped_events"));
      break;
    case "abort":
      str(d.reason, at("reason"));
      num(d.bytes, at("bytes"));
      num(d.dropped_events, at("dropped_events"));
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

/** Bytes of a HAR text field: base64 when it says so, else UTF-8. */
function textBytes(text: unknown, base64: boolean, where: string): Uint8Array<ArrayBuffer> {
  if (text === undefined) return new Uint8Array(0);
  const s = str(text, where);
  if (!base64) return new TextEncoder().encode(s);
  try {
    return Uint8Array.fromBase64(s);
  } catch {
    throw new Bad(`${where} must be base64, as its encoding says`);
  }
}

/** An exchange's detail from an entry of another tool's HAR: a timeline made from what HAR says. */
function detailFromForeignHar(e: Record<string, unknown>): ExchangeDetail {
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
  want(!Number.isNaN(started), "startedDateTime", "an ISO 8601 date", e.startedDateTime);
  const time = e.time === undefined ? 0 : Math.max(0, num(e.time, "time"));
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
    ? new Uint8Array(0)
    : textBytes(post.text, post._encoding === "base64", "request.postData.text");
  const status = num(response.status, "response.status");
  const statusText = typeof response.statusText === "string" ? response.statusText : "";
  const responseHeaders = nameValues(response.headers ?? [], "response.headers").filter(([n]) =>
    !n.startsWith(":")
  );
  const content = obj(response.content ?? {}, "response.content");
  const sent = textBytes(content.text, content.encoding === "base64", "response.content.text");

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
  if (body.length > 0) {
    events.push({
      type: "input",
      t: 0,
      data: {
        method: "read",
        size: null,
        bytes: { stream: "request", offset: 0, size: body.length, kept: body.length },
      },
    });
  }
  if (status >= 100 && status <= 999) {
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
    if (sent.length > 0) {
      events.push({
        type: "chunk",
        t: wait,
        data: {
          index: 0,
          bytes: { stream: "response", offset: 0, size: sent.length, kept: sent.length },
        },
      });
    }
    events.push({ type: "end", t: time, data: { status, bytes: sent.length, dropped_events: 0 } });
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
    requestBytes: body.length,
    responseBytes: sent.length,
    state: state.finished?.state ?? "pending",
    truncated: false,
    errors: 0,
    events,
    request: { body: { size: body.length, bytes: body.toBase64(), truncated: false } },
    response: { body: { size: sent.length, bytes: sent.toBase64(), truncated: false } },
  };
}

/** An entry's detail: rebuilt from `_timeline`, or made from another tool's HAR. */
export function entryDetail(entry: unknown): ExchangeDetail {
  const e = obj(entry, "the entry");
  if (e._timeline === undefined) return detailFromForeignHar(e);
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
    textBytes(post.text, post._encoding === "base64", "request.postData.text");
  }
  const content = obj(obj(e.response, "response").content, "response.content");
  textBytes(content.text, content.encoding === "base64", "response.content.text");
  textBytes(e._responsePrefix, true, "_responsePrefix");
  if (e._id === undefined) e._id = "0";
  str(e._id, "_id");
  const detail = detailFromHar(e as unknown as HarEntry);
  delete detail.replayOf;
  return detail;
}

/** The payload of one wire event, for the writer: bytes cut from the streams. */
function payload(
  event: WireEvent,
  request: Uint8Array,
  response: Uint8Array,
  // deno-lint-ignore no-explicit-any
): any {
  const slice = (ref: { stream: string; offset: number; size: number }) => {
    const from = ref.stream === "request" ? request : response;
    const out = new Uint8Array(ref.size);
    out.set(
      from.subarray(
        Math.min(ref.offset, from.length),
        Math.min(ref.offset + ref.size, from.length),
      ),
    );
    return out;
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
        bytes: slice(event.data.bytes),
      };
    case "input_rest":
      return { bytes: slice(event.data.bytes), complete: event.data.complete };
    case "write":
    case "chunk":
      return { index: event.data.index, bytes: slice(event.data.bytes) };
    default:
      return event.data;
  }
}

/**
 * Writes one exchange's detail into the store as a new, imported exchange.
 *
 * @returns its id in the store
 */
export function writeDetail(store: ExchangeStore, detail: ExchangeDetail): string {
  const events = detail.events;
  const request = Uint8Array.fromBase64(detail.request.body.bytes);
  const response = Uint8Array.fromBase64(detail.response.body.bytes);
  const first = events[0];
  const startedAt = first?.type === "request" ? first.data.startedAt : detail.startedAt;
  // The store hands out the exchange's seq; the writer is our own, to keep the
  // arrival's time and to keep no more bytes than the file has.
  const opened = store.begin(new Request("http://imported.invalid/"), 0);
  store.markImported(opened.id);
  const cut = (body: { size: number }, bytes: Uint8Array) =>
    bytes.length < body.size ? bytes.length : Infinity;
  const limits = {
    ...store.limits,
    maxBodyBytes: Math.min(
      store.limits.maxBodyBytes,
      cut(detail.request.body, request),
      cut(detail.response.body, response),
    ),
  };
  const t0 = startedAt - performance.timeOrigin;
  const writer = new ExchangeWriter(store, opened.id, t0, limits);
  if (first?.type === "request") {
    if (first.data.generation !== undefined) writer.generation = first.data.generation;
    if (first.data.ref !== undefined) writer.ref = first.data.ref;
  }
  for (const event of events) {
    writer.record(event.type, payload(event, request, response), t0 + event.t);
  }
  return String(opened.id);
}

/**
 * Loads a HAR document's entries into the store, oldest first as the file
 * lists them.
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
  const result: ImportResult = { ids: [], skipped: [] };
  entries.forEach((entry, i) => {
    let detail: ExchangeDetail;
    try {
      detail = entryDetail(entry);
    } catch (error) {
      if (!(error instanceof Bad || error instanceof TypeError)) throw error;
      result.skipped.push({ entry: i, error: `Entry ${i}: ${error.message}` });
      return;
    }
    result.ids.push(writeDetail(store, detail));
  });
  return result;
}
