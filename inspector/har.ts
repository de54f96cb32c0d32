/**
 * HAR 1.2 export: recorded exchanges as an HTTP Archive, the format browser
 * dev tools, proxies and load tools read. Built from the one reducer
 * (`timeline.ts`) over the exchange's wire events and streams.
 *
 * Every field HAR 1.2 requires is present. What the gateway cannot know is
 * given HAR's "unknown" values: `headersSize: -1` (Deno hands over parsed
 * headers, not their bytes), and `timings.send: 0` (the request had arrived
 * when the gateway saw it). `timings.wait` is the time until the status and
 * headers left for the client, `receive` the rest, so the timings add up to
 * `time`. `postData` is the request body as the client sent it (what the app
 * read, and what was drained after the response), present when there was
 * one. Bodies that are not UTF-8 text travel as base64 with
 * `encoding: "base64"` (`_encoding` for `postData`, which HAR gives no such
 * field).
 *
 * Custom fields start with `_`, as HAR asks, and carry what the gateway saw,
 * so that an import can rebuild the exchange's detail
 * ({@linkcode detailFromHar} does): `_id`, `_replayOf`, `_truncated`,
 * `_timeline` (every wire event, with byte references into the two streams;
 * its `end` or `abort` counts the events dropped past the event cap, which an
 * import keeps), `_requestRead` (bytes of `postData` the app itself read) and
 * `_responsePrefix` (base64 of bytes the app produced before the response
 * that was sent, e.g. the body a 500 page replaced; absent when none).
 *
 * @example
 * ```ts
 * import { toHar } from "./har.ts";
 * import { ExchangeStore } from "./store.ts";
 * import { toFetch } from "../server/gateway.ts";
 *
 * const store = new ExchangeStore();
 * const handler = toFetch((_environ, start_response) => {
 *   start_response("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("hi")];
 * }, { recorder: store });
 * await (await handler(new Request("http://localhost/?a=1"))).text();
 * const har = toHar([...store.exchanges()].map((e) => e.detail()));
 * console.assert(har.log.entries[0]?.response.content.text === "hi");
 * ```
 *
 * @module
 */

import { type BodyPrefix, bodyPrefix } from "./har_body.ts";
import type { Base64, ExchangeDetail, Pair, WireEvent } from "./protocol.ts";
import { reduce, summarize, type TimelineState } from "./timeline.ts";

/** A HAR name/value pair (headers, query string, form parameters). */
export interface HarNameValue {
  name: string;
  value: string;
}

/** A HAR cookie. */
export interface HarCookie {
  name: string;
  value: string;
  path?: string;
  domain?: string;
  expires?: string;
  httpOnly?: boolean;
  secure?: boolean;
}

/** A HAR request. */
export interface HarRequest {
  method: string;
  url: string;
  httpVersion: string;
  cookies: HarCookie[];
  headers: HarNameValue[];
  queryString: HarNameValue[];
  postData?: {
    mimeType: string;
    params: HarNameValue[];
    text: string;
    /** `"base64"` when `text` is base64 (not a HAR 1.2 field, hence the `_`). */
    _encoding?: "base64";
    comment?: string;
  };
  headersSize: number;
  bodySize: number;
}

/** A HAR response. */
export interface HarResponse {
  status: number;
  statusText: string;
  httpVersion: string;
  cookies: HarCookie[];
  headers: HarNameValue[];
  content: {
    size: number;
    mimeType: string;
    text?: string;
    encoding?: "base64";
    comment?: string;
  };
  redirectURL: string;
  headersSize: number;
  bodySize: number;
  comment?: string;
}

/** One HAR entry: a request and its response. */
export interface HarEntry {
  startedDateTime: string;
  time: number;
  request: HarRequest;
  response: HarResponse;
  cache: Record<string, never>;
  timings: { send: number; wait: number; receive: number };
  comment?: string;
  _id: string;
  _replayOf?: string;
  _truncated?: boolean;
  /** Every wire event of the exchange, in order. */
  _timeline: WireEvent[];
  /** Bytes of `postData` that the application itself read. */
  _requestRead?: number;
  /** Base64 of the bytes produced before the response that was sent (a replaced response). */
  _responsePrefix?: Base64;
}

/** A HAR 1.2 document. */
export interface Har {
  log: {
    version: "1.2";
    creator: { name: string; version: string };
    entries: HarEntry[];
    /** Which exchanges were left out, and why (see {@linkcode exportHar}). */
    comment?: string;
  };
}

/** An exchange whose detail is read only as its entry is made (a kept exchange of the store). */
export interface HarSource {
  readonly id: string;
  detail(): ExchangeDetail;
}

/** The `creator` of exported archives. */
export const HAR_CREATOR = { name: "wsgi-deno inspector", version: "0.1.0" };

const round = (ms: number) => Math.round(ms * 1000) / 1000;

function header(headers: Pair[], name: string): string | undefined {
  for (const [n, v] of headers) if (n.toLowerCase() === name) return v;
  return undefined;
}

const pairs = (headers: Pair[]): HarNameValue[] =>
  headers.map(([name, value]) => ({ name, value }));

function params(text: string): HarNameValue[] {
  return [...new URLSearchParams(text)].map(([name, value]) => ({ name, value }));
}

/** Parses `Cookie` request headers into HAR cookies. */
function requestCookies(headers: Pair[]): HarCookie[] {
  const out: HarCookie[] = [];
  for (const [name, value] of headers) {
    if (name.toLowerCase() !== "cookie") continue;
    for (const part of value.split(";")) {
      const eq = part.indexOf("=");
      if (part.trim() === "") continue;
      out.push(
        eq === -1
          ? { name: part.trim(), value: "" }
          : { name: part.slice(0, eq).trim(), value: part.slice(eq + 1).trim() },
      );
    }
  }
  return out;
}

/** Parses `Set-Cookie` response headers into HAR cookies. */
function responseCookies(headers: Pair[]): HarCookie[] {
  const out: HarCookie[] = [];
  for (const [name, value] of headers) {
    if (name.toLowerCase() !== "set-cookie") continue;
    const [first = "", ...attributes] = value.split(";");
    const eq = first.indexOf("=");
    const cookie: HarCookie = eq === -1
      ? { name: first.trim(), value: "" }
      : { name: first.slice(0, eq).trim(), value: first.slice(eq + 1).trim() };
    for (const attribute of attributes) {
      const [key = "", ...rest] = attribute.split("=");
      const v = rest.join("=").trim();
      switch (key.trim().toLowerCase()) {
        case "path":
          cookie.path = v;
          break;
        case "domain":
          cookie.domain = v;
          break;
        case "expires": {
          const date = new Date(v);
          if (!Number.isNaN(date.getTime())) cookie.expires = date.toISOString();
          break;
        }
        case "httponly":
          cookie.httpOnly = true;
          break;
        case "secure":
          cookie.secure = true;
          break;
      }
    }
    out.push(cookie);
  }
  return out;
}

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const TEXT_TYPE =
  /^(text\/|application\/([\w.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded))/i;
// deno-lint-ignore no-control-regex
const BINARY_CONTROLS = /[\x00-\x08\x0e-\x1f]/;

/** Bytes as HAR text: UTF-8 when they are text (and decode back to the same bytes), else base64. */
function bodyText(bytes: Uint8Array, mimeType: string): { text: string; base64: boolean } {
  try {
    const text = utf8.decode(bytes);
    if (TEXT_TYPE.test(mimeType) || !BINARY_CONTROLS.test(text)) return { text, base64: false };
  } catch {
    // Not UTF-8: base64 below.
  }
  return { text: bytes.toBase64(), base64: true };
}

/** The absolute URL of the request, from its environ and `Host`. */
function requestUrl(state: TimelineState): string {
  const environ = state.environ ?? {};
  const scheme = typeof environ["wsgi.url_scheme"] === "string"
    ? environ["wsgi.url_scheme"]
    : "http";
  let host = header(state.request?.headers ?? [], "host");
  if (host === undefined && typeof environ.SERVER_NAME === "string") {
    host = environ.SERVER_PORT
      ? `${environ.SERVER_NAME}:${environ.SERVER_PORT}`
      : environ.SERVER_NAME;
  }
  return `${scheme}://${host || "localhost"}${state.request?.target || "/"}`;
}

/**
 * One exchange as a HAR entry.
 *
 * @param exchange an exchange as the API serves it
 */
export function harEntry(exchange: ExchangeDetail): HarEntry {
  const state = reduce(exchange.events);
  const requestHeaders = state.request?.headers ?? [];
  const responseHeaders = state.headersSent?.headers ?? [];
  const time = round(exchange.duration ?? state.t);
  const sentAt = state.headersSent?.t ?? state.statusSet?.t ?? time;
  const wait = round(Math.min(sentAt, time));
  const target = exchange.target;
  const query = target.indexOf("?");
  const requestType = header(requestHeaders, "content-type") ?? "";
  const contentLength = Number(header(requestHeaders, "content-length"));
  const requestBody = Uint8Array.fromBase64(exchange.request.body.bytes);
  const requestSize = exchange.request.body.size;

  const harRequest: HarRequest = {
    method: exchange.method,
    url: requestUrl(state),
    httpVersion: state.request?.version ?? "HTTP/1.1",
    cookies: requestCookies(requestHeaders),
    headers: pairs(requestHeaders),
    queryString: query === -1 ? [] : params(target.slice(query + 1)),
    headersSize: -1,
    bodySize: requestSize > 0 ? requestSize : Number.isFinite(contentLength) ? contentLength : 0,
  };
  if (requestSize > 0) {
    const { text, base64 } = bodyText(requestBody, requestType);
    harRequest.postData = {
      mimeType: requestType,
      params: !base64 && /^application\/x-www-form-urlencoded/i.test(requestType)
        ? params(text)
        : [],
      text,
    };
    if (base64) harRequest.postData._encoding = "base64";
    if (exchange.request.body.truncated) {
      harRequest.postData.comment =
        `truncated: ${requestBody.length} of ${requestSize} bytes captured`;
    } else if (state.input.restComplete === false) {
      harRequest.postData.comment = `incomplete: the body was read up to ${requestSize} bytes`;
    }
  }

  const produced = Uint8Array.fromBase64(exchange.response.body.bytes);
  const start = state.response.bodyStart;
  const sentBody = produced.subarray(Math.min(start, produced.length));
  const sentSize = exchange.response.body.size - start;
  const mimeType = header(responseHeaders, "content-type") ?? "x-unknown";
  const content: HarResponse["content"] = { size: sentSize, mimeType };
  const { text, base64 } = bodyText(sentBody, mimeType);
  content.text = text;
  if (base64) content.encoding = "base64";
  if (sentBody.length < sentSize) {
    content.comment = `truncated: ${sentBody.length} of ${sentSize} bytes captured`;
  }

  const statusLine = exchange.statusLine ?? "";
  const harResponse: HarResponse = {
    status: exchange.status ?? 0,
    statusText: statusLine.slice(statusLine.indexOf(" ") + 1),
    httpVersion: harRequest.httpVersion,
    cookies: responseCookies(responseHeaders),
    headers: pairs(responseHeaders),
    content,
    redirectURL: header(responseHeaders, "location") ?? "",
    headersSize: -1,
    bodySize: exchange.responseBytes,
  };
  if (exchange.status === null) harResponse.comment = `no response was sent (${exchange.state})`;

  const started = new Date(exchange.startedAt);
  if (Number.isNaN(started.getTime())) {
    throw new RangeError(
      `its arrival (${exchange.startedAt} ms since 1970) is not a time a date can hold`,
    );
  }
  const entry: HarEntry = {
    startedDateTime: started.toISOString(),
    time,
    request: harRequest,
    response: harResponse,
    cache: {},
    timings: { send: 0, wait, receive: round(time - wait) },
    _id: exchange.id,
    _timeline: exchange.events,
  };
  if (exchange.state !== "complete") entry.comment = exchange.state;
  if (exchange.replayOf !== undefined) entry._replayOf = exchange.replayOf;
  if (exchange.truncated) entry._truncated = true;
  if (state.input.rest > 0) entry._requestRead = state.input.read;
  if (start > 0) entry._responsePrefix = produced.subarray(0, start).toBase64();
  return entry;
}

/**
 * Exchanges as a HAR 1.2 document, in the order given (pass them oldest
 * first, as HAR readers expect). One that cannot be exported (its detail
 * cannot be read, or holds what HAR cannot say, such as an arrival no date
 * holds) is left out, and the log's `comment` says which and why: the
 * export of the others never fails because of it.
 */
export function toHar(exchanges: Iterable<ExchangeDetail | HarSource>): Har {
  return exportHar(exchanges).har;
}

/**
 * {@linkcode toHar}, and the exchanges it left out with why (by id).
 */
export function exportHar(
  exchanges: Iterable<ExchangeDetail | HarSource>,
): { har: Har; leftOut: { id: string; reason: string }[] } {
  const entries: HarEntry[] = [];
  const leftOut: { id: string; reason: string }[] = [];
  for (const exchange of exchanges) {
    try {
      const detail = "events" in exchange ? exchange : exchange.detail();
      entries.push(harEntry(detail));
    } catch (error) {
      leftOut.push({
        id: exchange.id,
        reason: error instanceof Error ? error.message : String(error),
      });
    }
  }
  const har: Har = { log: { version: "1.2", creator: { ...HAR_CREATOR }, entries } };
  if (leftOut.length > 0) {
    har.log.comment = `Left out ${leftOut.length} exchange${
      leftOut.length === 1 ? "" : "s"
    } that could not be exported: ${leftOut.map((x) => `#${x.id} (${x.reason})`).join("; ")}`;
  }
  return { har, leftOut };
}

/** Options of {@linkcode detailFromHar}. */
export interface DetailFromHarOptions {
  /**
   * Bytes kept of each stream, request and response (a store's
   * `maxBodyBytes`): only those are decoded; the sizes stay the true ones.
   * All by default.
   */
  maxBodyBytes?: number;
}

/**
 * The first `keep` bytes of a HAR text field (base64 when it says so, else
 * UTF-8) and its size, decoding no more.
 *
 * @throws {TypeError} when it says base64 and is not
 */
function textPrefix(
  text: string | undefined,
  base64: boolean,
  keep: number,
  where: string,
): BodyPrefix {
  const body = bodyPrefix(text ?? "", base64, keep);
  if (body === undefined) {
    throw new TypeError(
      `Cannot rebuild an exchange from this HAR entry: ${where} must be base64, as its encoding says`,
    );
  }
  return body;
}

/**
 * An exchange's detail rebuilt from a HAR entry this inspector exported: its
 * events from `_timeline`, its request stream from `postData`, its response
 * stream from `_responsePrefix` and `content`, its summary through the
 * reducer. The same detail the API served, so a HAR import can show and
 * replay it; with `maxBodyBytes`, only the first bytes of each stream (as a
 * store with that cap keeps them), the rest never decoded.
 *
 * @throws {TypeError} for an entry without `_timeline` (not exported by this inspector), or a body that says base64 and is not
 */
export function detailFromHar(entry: HarEntry, options: DetailFromHarOptions = {}): ExchangeDetail {
  if (!Array.isArray(entry._timeline)) {
    throw new TypeError(
      "Cannot rebuild an exchange from this HAR entry: it has no _timeline (only HAR files this inspector exported carry one)",
    );
  }
  const cap = options.maxBodyBytes ?? Infinity;
  const events = entry._timeline;
  const state = reduce(events);
  const post = entry.request.postData;
  const request = textPrefix(post?.text, post?._encoding === "base64", cap, "request.postData.text")
    .bytes;
  // The response stream: the prefix, then the body sent, kept up to the cap together.
  const prefix = textPrefix(entry._responsePrefix, true, cap, "_responsePrefix").bytes;
  const content = entry.response.content;
  const sent = textPrefix(
    content.text,
    content.encoding === "base64",
    cap - prefix.length,
    "response.content.text",
  ).bytes;
  const response = new Uint8Array(prefix.length + sent.length);
  response.set(prefix);
  response.set(sent, prefix.length);
  const base: { seq: number; id: string; replayOf?: string } = {
    seq: Number(entry._id),
    id: entry._id,
  };
  if (entry._replayOf !== undefined) base.replayOf = entry._replayOf;
  return {
    ...summarize(state, base),
    events,
    request: {
      body: {
        size: state.input.size,
        bytes: request.toBase64(),
        truncated: request.length < state.input.size || state.input.restComplete === false,
      },
    },
    response: {
      body: {
        size: state.response.size,
        bytes: response.toBase64(),
        truncated: response.length < state.response.size,
      },
    },
  };
}
