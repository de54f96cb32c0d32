/**
 * "Copy as curl": a recorded request as a shell command that sends it again.
 *
 * @module
 */

import type { TimelineState } from "../timeline.ts";
import { strictUtf8 } from "./bytes.ts";
import { headerValue } from "./format.ts";

/** Quotes a word for a POSIX shell. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Headers curl sets itself, or that would be wrong to repeat. */
const SKIP = new Set(["host", "content-length", "connection", "transfer-encoding", "keep-alive"]);

/** What a curl command is made of: the reducer's state, and the request body as sent. */
export interface CurlSource {
  state: TimelineState;
  /** The kept bytes of the request body (what the app read, then what was drained). */
  body: Uint8Array;
}

/**
 * The curl command for an exchange's request: method, URL (from its `Host`
 * header and scheme), headers, and the body as the client sent it. A body
 * that is not UTF-8 text, or was not captured whole, is piped through
 * `base64 -d`.
 *
 * @example
 * ```ts
 * import { curlCommand } from "./curl.ts";
 * import { reduce } from "../timeline.ts";
 * const state = reduce([{
 *   type: "request", t: 0,
 *   data: { method: "POST", target: "/a?b=1", version: "HTTP/1.1", peer: null, headers: [["host", "127.0.0.1:8000"]], startedAt: 0 },
 * }, {
 *   type: "input", t: 1,
 *   data: { method: "read", size: null, bytes: { stream: "request", offset: 0, size: 2, kept: 2 } },
 * }]);
 * const body = new TextEncoder().encode("hi");
 * console.assert(
 *   curlCommand({ state, body }) === "curl -X POST 'http://127.0.0.1:8000/a?b=1' --data-raw hi",
 * );
 * ```
 */
export function curlCommand({ state, body }: CurlSource): string {
  const method = state.request?.method ?? "GET";
  const headers = state.request?.headers ?? [];
  const host = headerValue(headers, "host") ?? "127.0.0.1:8000";
  const scheme = typeof state.environ?.["wsgi.url_scheme"] === "string"
    ? state.environ["wsgi.url_scheme"]
    : "http";
  const parts = ["curl"];
  const hasBody = state.input.size > 0;
  if (method === "HEAD") parts.push("--head");
  else if (method !== "GET" || hasBody) parts.push("-X", shellQuote(method));
  parts.push(shellQuote(`${scheme}://${host}${state.request?.target ?? "/"}`));
  for (const [name, value] of headers) {
    if (SKIP.has(name.toLowerCase())) continue;
    parts.push("-H", shellQuote(`${name}: ${value}`));
  }
  if (!hasBody) return parts.join(" ");
  const whole = body.length === state.input.size && state.input.restComplete !== false;
  const text = strictUtf8(body);
  if (text !== undefined && whole) {
    parts.push("--data-raw", shellQuote(text));
    return parts.join(" ");
  }
  parts.push("--data-binary", "@-");
  return `printf %s ${shellQuote(body.toBase64())} | base64 -d | ${parts.join(" ")}`;
}
