/**
 * An entry this inspector exported (it has `_timeline`), checked before its
 * detail is rebuilt ({@linkcode detailFromHar}): the rebuild trusts its
 * input, and a HAR file is input from anywhere. HAR export then import gives
 * the same detail, its id aside, and a replay link, which would name an
 * exchange of another store (it is dropped).
 *
 * Apart from `har_import.ts`, which writes a detail into the store, and from
 * `har_foreign_entry.ts`, which reads another tool's entry: this is the one
 * place that knows the shape of `_timeline`. What
 * {@linkcode detailFromExportedHar} checks, each with a message naming the
 * field (the field checkers are `har_fields.ts`):
 *
 * - `_timeline` is an array whose first event is `request`;
 * - each event is an object with a known `type`, a time `t` within a year of
 *   the arrival, and the `data` of its type: strings, `[name, value]` header
 *   pairs, whole counts (indexes, dropped events and the generation within a
 *   `u32`, ports within 65535), status codes from 100 to 999 (`end`'s may be
 *   0: none sent), an arrival from 1970 to the end of 9999, environ values
 *   that are strings, finite numbers, booleans, null or arrays of those
 *   (nested at most four deep), and byte parts (`input`, `input_rest`,
 *   `write`, `chunk`) on their own stream, with `kept` at most `size`;
 * - the byte parts of each stream come back to back, stay within 2^53 - 1,
 *   and add up to the entry's HAR fields: the request body to
 *   `request.bodySize` (when there is one), the body sent to
 *   `response.content.size`;
 * - `request.postData.text`, `response.content.text` and `_responsePrefix`
 *   are strings, and base64 when they say so (counted, not decoded);
 * - `_id` is a string (`"0"` when there is none).
 *
 * @module
 */

import { detailFromHar, type HarEntry } from "./har.ts";
import { base64Size } from "./har_body.ts";
import {
  arr,
  bool,
  date,
  MAX_BYTES,
  MAX_U32,
  num,
  obj,
  refuse,
  since,
  statusCode,
  str,
  want,
  whole,
} from "./har_fields.ts";
import {
  EVENT_TYPES,
  type EventType,
  type ExchangeDetail,
  type Pair,
  partOf,
  type WireEvent,
} from "./protocol.ts";
import { reduce } from "./timeline.ts";

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

/** Checks a HAR text field: a string, and base64 when it says so (counted, not decoded). */
function checkText(text: unknown, base64: boolean, where: string): void {
  if (text === undefined) return;
  const s = str(text, where);
  if (base64 && base64Size(s) === undefined) refuse(where, "base64, as its encoding says", s);
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
 * The detail of an entry this inspector exported, each field checked first;
 * with the first `maxBodyBytes` of each stream (the bytes a store with that
 * cap keeps: the rest is never decoded), and every true size.
 *
 * @param e the entry, already known to be an object with `_timeline`
 * @throws {EntryError} naming the first field that is not what it must be
 */
export function detailFromExportedHar(
  e: Record<string, unknown>,
  maxBodyBytes: number,
): ExchangeDetail {
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
