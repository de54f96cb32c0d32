/**
 * HAR 1.2 export: recorded exchanges as an HTTP Archive, the format browser
 * dev tools, proxies and load tools read.
 *
 * Every field HAR 1.2 requires is present. What the gateway cannot know is
 * given HAR's "unknown" values: `headersSize: -1` (Deno hands over parsed
 * headers, not their bytes), and `timings.send: 0` (the request had arrived
 * when the gateway saw it). `timings.wait` is the time until the status and
 * headers left for the client, `receive` the rest, so the timings add up to
 * `time`. `postData` is what the application read from `wsgi.input`, present
 * when it read anything. Bodies that are not UTF-8 text travel as base64 with
 * `encoding: "base64"` (`_encoding` for `postData`, which HAR gives no such
 * field). Custom fields start with `_`, as HAR asks: `_id`, `_replayOf`,
 * `_truncated`.
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

import type { Base64, CapturedBody, ExchangeDetail } from "./protocol.ts";

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
}

/** A HAR 1.2 document. */
export interface Har {
  log: {
    version: "1.2";
    creator: { name: string; version: string };
    entries: HarEntry[];
  };
}

/** The `creator` of exported archives. */
export const HAR_CREATOR = { name: "wsgi-deno inspector", version: "0.1.0" };

const round = (ms: number) => Math.round(ms * 1000) / 1000;

function header(headers: [string, string][], name: string): string | undefined {
  for (const [n, v] of headers) if (n.toLowerCase() === name) return v;
  return undefined;
}

const pairs = (headers: [string, string][]): HarNameValue[] =>
  headers.map(([name, value]) => ({ name, value }));

function params(text: string): HarNameValue[] {
  return [...new URLSearchParams(text)].map(([name, value]) => ({ name, value }));
}

/** Parses `Cookie` request headers into HAR cookies. */
function requestCookies(headers: [string, string][]): HarCookie[] {
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
function responseCookies(headers: [string, string][]): HarCookie[] {
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

const utf8 = new TextDecoder("utf-8", { fatal: true });
const TEXT_TYPE =
  /^(text\/|application\/([\w.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded))/i;
// deno-lint-ignore no-control-regex
const BINARY_CONTROLS = /[\x00-\x08\x0e-\x1f]/;

/** Bytes as HAR text: UTF-8 when they are text, else base64. */
function bodyText(bytes: Base64, mimeType: string): { text: string; base64: boolean } {
  const raw = Uint8Array.fromBase64(bytes);
  try {
    const text = utf8.decode(raw);
    if (TEXT_TYPE.test(mimeType) || !BINARY_CONTROLS.test(text)) return { text, base64: false };
  } catch {
    // Not UTF-8: base64 below.
  }
  return { text: bytes, base64: true };
}

function truncation(body: CapturedBody): string | undefined {
  return body.truncated
    ? `truncated: ${Uint8Array.fromBase64(body.bytes).length} of ${body.size} bytes captured`
    : undefined;
}

/** The absolute URL of the request, from its environ and `Host`. */
function requestUrl(exchange: ExchangeDetail): string {
  const environ = exchange.environ ?? {};
  const scheme = typeof environ["wsgi.url_scheme"] === "string"
    ? environ["wsgi.url_scheme"]
    : "http";
  let host = header(exchange.request.headers, "host");
  if (host === undefined && typeof environ.SERVER_NAME === "string") {
    host = environ.SERVER_PORT
      ? `${environ.SERVER_NAME}:${environ.SERVER_PORT}`
      : environ.SERVER_NAME;
  }
  return `${scheme}://${host || "localhost"}${exchange.target || "/"}`;
}

/** The `t` of the first event of a type, if any. */
function eventTime(exchange: ExchangeDetail, type: string): number | undefined {
  return exchange.events.find((e) => e.type === type)?.t;
}

/**
 * One exchange as a HAR entry.
 *
 * @param exchange an exchange as the API serves it (its `events` give the timings)
 */
export function harEntry(exchange: ExchangeDetail): HarEntry {
  const request = exchange.request;
  const response = exchange.response;
  const time = round(exchange.duration ?? exchange.events.at(-1)?.t ?? 0);
  const sentAt = eventTime(exchange, "headers_sent") ?? exchange.startResponse?.t ?? time;
  const wait = round(Math.min(sentAt, time));
  const query = exchange.target.indexOf("?");
  const requestType = header(request.headers, "content-type") ?? "";
  const contentLength = Number(header(request.headers, "content-length"));

  const harRequest: HarRequest = {
    method: exchange.method,
    url: requestUrl(exchange),
    httpVersion: request.version,
    cookies: requestCookies(request.headers),
    headers: pairs(request.headers),
    queryString: query === -1 ? [] : params(exchange.target.slice(query + 1)),
    headersSize: -1,
    bodySize: request.body.size > 0
      ? request.body.size
      : Number.isFinite(contentLength)
      ? contentLength
      : 0,
  };
  if (request.body.size > 0) {
    const { text, base64 } = bodyText(request.body.bytes, requestType);
    harRequest.postData = {
      mimeType: requestType,
      params: !base64 && /^application\/x-www-form-urlencoded/i.test(requestType)
        ? params(text)
        : [],
      text,
    };
    if (base64) harRequest.postData._encoding = "base64";
    const comment = truncation(request.body);
    if (comment) harRequest.postData.comment = comment;
  }

  const mimeType = header(response.headers, "content-type") ?? "x-unknown";
  const content: HarResponse["content"] = { size: response.body.size, mimeType };
  const { text, base64 } = bodyText(response.body.bytes, mimeType);
  content.text = text;
  if (base64) content.encoding = "base64";
  const comment = truncation(response.body);
  if (comment) content.comment = comment;

  const statusLine = exchange.statusLine ?? "";
  const harResponse: HarResponse = {
    status: exchange.status ?? 0,
    statusText: statusLine.slice(statusLine.indexOf(" ") + 1),
    httpVersion: request.version,
    cookies: responseCookies(response.headers),
    headers: pairs(response.headers),
    content,
    redirectURL: header(response.headers, "location") ?? "",
    headersSize: -1,
    bodySize: exchange.responseBytes,
  };
  if (exchange.status === null) harResponse.comment = `no response was sent (${exchange.state})`;

  const entry: HarEntry = {
    startedDateTime: new Date(exchange.startedAt).toISOString(),
    time,
    request: harRequest,
    response: harResponse,
    cache: {},
    timings: { send: 0, wait, receive: round(time - wait) },
    _id: exchange.id,
  };
  if (exchange.state !== "complete") entry.comment = exchange.state;
  if (exchange.replayOf !== undefined) entry._replayOf = exchange.replayOf;
  if (exchange.truncated) entry._truncated = true;
  return entry;
}

/**
 * Exchanges as a HAR 1.2 document, in the order given (pass them oldest
 * first, as HAR readers expect).
 */
export function toHar(exchanges: Iterable<ExchangeDetail>): Har {
  const entries: HarEntry[] = [];
  for (const exchange of exchanges) entries.push(harEntry(exchange));
  return { log: { version: "1.2", creator: { ...HAR_CREATOR }, entries } };
}
