/**
 * "Copy as curl": a recorded request as a shell command that sends it again.
 *
 * @module
 */

import type { ExchangeDetail } from "../protocol.ts";
import { fromBase64, strictUtf8 } from "./bytes.ts";
import { headerValue } from "./format.ts";

/** Quotes a word for a POSIX shell. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/** Headers curl sets itself, or that would be wrong to repeat. */
const SKIP = new Set(["host", "content-length", "connection", "transfer-encoding", "keep-alive"]);

/**
 * The curl command for an exchange's request: method, URL (from its `Host`
 * header and scheme), headers, and the body the app read. A body that is not
 * UTF-8 text is piped through `base64 -d`.
 *
 * @example
 * ```ts
 * import { curlCommand } from "./curl.ts";
 * const detail = {
 *   method: "POST", target: "/a?b=1", environ: null,
 *   request: { headers: [["host", "127.0.0.1:8000"]], body: { size: 2, bytes: "aGk=", truncated: false } },
 * };
 * console.assert(
 *   curlCommand(detail as never) === "curl -X POST 'http://127.0.0.1:8000/a?b=1' --data-raw hi",
 * );
 * ```
 */
export function curlCommand(detail: ExchangeDetail): string {
  const headers = detail.request.headers;
  const host = headerValue(headers, "host") ?? "127.0.0.1:8000";
  const scheme = typeof detail.environ?.["wsgi.url_scheme"] === "string"
    ? detail.environ["wsgi.url_scheme"]
    : "http";
  const parts = ["curl"];
  const body = fromBase64(detail.request.body.bytes);
  const hasBody = detail.request.body.size > 0;
  if (detail.method === "HEAD") parts.push("--head");
  else if (detail.method !== "GET" || hasBody) parts.push("-X", shellQuote(detail.method));
  parts.push(shellQuote(`${scheme}://${host}${detail.target}`));
  for (const [name, value] of headers) {
    if (SKIP.has(name.toLowerCase())) continue;
    parts.push("-H", shellQuote(`${name}: ${value}`));
  }
  if (!hasBody) return parts.join(" ");
  const text = strictUtf8(body);
  if (text !== undefined && !detail.request.body.truncated) {
    parts.push("--data-raw", shellQuote(text));
    return parts.join(" ");
  }
  parts.push("--data-binary", "@-");
  return `printf %s ${shellQuote(detail.request.body.bytes)} | base64 -d | ${parts.join(" ")}`;
}
