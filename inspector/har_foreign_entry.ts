/**
 * An entry of another tool's HAR (a browser's, a proxy's: no `_timeline`)
 * as an exchange's detail: a timeline is made from what HAR says. The
 * request (method, path and query of `url`, headers, arrival), its
 * `postData` as the body the app read, the response's status and headers as
 * `start_response` and `headers_sent`, its `content` as one chunk, and the
 * end at `time`. HTTP/2 pseudo-headers (`:authority`) are left out,
 * `:authority` becoming `Host` when there is none. An entry with no response
 * (status 0) ends in an abort.
 *
 * Apart from `har_import.ts`, which writes a detail into the store, and from
 * `har_exported_entry.ts`, which checks an entry this inspector exported:
 * this is the one place that reads HAR as other tools write it. Each field
 * read is checked (`har_fields.ts`) and a body is decoded only as far as the
 * store keeps it (`har_body.ts`).
 *
 * @module
 */

import { type BodyPrefix, bodyPrefix } from "./har_body.ts";
import {
  arr,
  isObject,
  MAX_DATE,
  MAX_MS,
  num,
  obj,
  refuse,
  statusCode,
  str,
  want,
} from "./har_fields.ts";
import type { ExchangeDetail, Pair, WireEvent } from "./protocol.ts";
import { reduce } from "./timeline.ts";

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

/**
 * An exchange's detail from an entry of another tool's HAR: a timeline made
 * from what HAR says, with the first `maxBodyBytes` of each body.
 *
 * @param e the entry, already known to be an object without `_timeline`
 * @throws {EntryError} naming the first field that is not what it must be
 */
export function detailFromForeignHar(
  e: Record<string, unknown>,
  maxBodyBytes: number,
): ExchangeDetail {
  const request = obj(e.request, "request");
  const response = obj(e.response, "response");
  const method = str(request.method, "request.method");
  const url = str(request.url, "request.url");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    refuse("request.url", "an absolute URL", url);
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
