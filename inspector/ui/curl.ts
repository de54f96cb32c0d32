/**
 * "Copy as curl": a recorded request as a shell command that sends it again.
 *
 * **Where it goes.** To the app's own URL, as the inspector knows it (the
 * URL replays go to, `GET /api/server`'s `appUrl`), plus the recorded
 * target; never to a place the record names. A record is attacker-controlled
 * (any web page can make a browser send one, and a HAR can hold anything):
 * its `Host` header is sent as a header (`-H 'host: …'`), so that the app
 * sees what it saw, and never becomes the URL's authority (a `Host` of
 * `127.0.0.1:8000@evil.example` would send curl to evil.example). And
 * straight there: `--noproxy '*'` keeps out a proxy set in the environment
 * (`http_proxy`, `ALL_PROXY`), to which curl would send even a loopback
 * request, cookies and all.
 *
 * **What it sends.** The recorded method, target, headers and body, as
 * replay does, and nothing curl would add: `-q` keeps a `~/.curlrc` out,
 * the target goes as `--request-target`, which curl sends as it is (in the
 * URL, curl would percent-encode a non-ASCII path, `/café` as
 * `/caf%c3%a9`, make several requests of `[1-3]` and `{a,b}`, and resolve
 * `..`), a header with an empty value goes as `-H 'name;'`
 * (curl drops `-H 'name:'`), and each header curl sends of its own accord
 * that the record lacks is removed with `-H 'Name:'` (`Host`, `User-Agent`,
 * `Accept`; with a body also the form `Content-Type` of `--data*` and the
 * `Expect: 100-continue` of a large body). curl frames the body itself with
 * its own `Content-Length` (a recorded one, or `Transfer-Encoding`, is left
 * out; a body-less request's goes as 0, as replay sends it). A
 * record that breaks the rules replay applies (`../request_rules.ts`: a
 * method that is not an HTTP token, a target that is not origin-form, a
 * header with CR, LF, NUL or another control character) is refused with the
 * rule, rather than handed to curl, which would write it out as a second
 * request. Every word is quoted for a POSIX shell.
 *
 * **What a paste runs.** The command is pasted into a terminal, where a
 * control character is a key, not text: a DEL erases the quote before it,
 * a Ctrl-U the line, an `ESC [201~` ends a bracketed paste so that the rest
 * is typed, a TAB completes, a CR ends the line. So the command holds only
 * printable characters, spaces, and LF inside a quoted body (a new line of
 * the same word): a body with any other control character goes through
 * `base64 -d`, and a header's TAB or latin-1 byte (a header value's
 * characters are its bytes) goes as `"$(printf '\ooo')"`, which is also
 * the byte itself where the character, pasted as UTF-8, would be two.
 *
 * @module
 */

import { checkHeader, checkMethod, checkTarget } from "../request_rules.ts";
import type { TimelineState } from "../timeline.ts";
import { strictUtf8 } from "./bytes.ts";

/** Quotes a word for a POSIX shell. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * Characters a pasted command must not hold (a terminal reads them as keys):
 * the C0 controls but LF, DEL, and the C1 controls.
 */
// deno-lint-ignore no-control-regex -- finding control characters is the point
const PASTE_UNSAFE = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;

/**
 * Quotes a word of bytes (a header: each character a byte, as `Deno.serve`
 * read it) for a POSIX shell: printable ASCII quoted as by
 * {@linkcode shellQuote}, each other byte (TAB, latin-1) as
 * `"$(printf '\ooo')"`, so that the command holds only printable ASCII and
 * the shell passes curl the byte itself.
 *
 * @example
 * ```ts
 * import { shellQuoteBytes } from "./curl.ts";
 * console.assert(shellQuoteBytes("x: caf\xe9 au lait") === `'x: caf'"$(printf '\\351')"' au lait'`);
 * ```
 */
export function shellQuoteBytes(word: string): string {
  return word.split(/([^\x20-\x7e])/).map((part, i) =>
    i % 2 === 0
      ? part === "" ? "" : shellQuote(part)
      : `"$(printf '\\${part.charCodeAt(0).toString(8).padStart(3, "0")}')"`
  ).join("") || "''";
}

/** The body's framing: curl frames the body it sends (a `Content-Length`, never chunked). */
const FRAMING = new Set(["content-length", "transfer-encoding"]);

/** Headers curl sends of its own accord (curl 7.88: `Host`, `User-Agent: curl/7.88.1`, `Accept`). */
const CURL_OWN = ["Host", "User-Agent", "Accept"];

/**
 * Headers curl adds with a body: `--data*` a form `Content-Type`, and a body
 * past a threshold (1 MiB in curl 7.88, 1 KiB in older ones) `Expect: 100-continue`.
 */
const CURL_OWN_WITH_BODY = ["Content-Type", "Expect"];

/**
 * The largest body sent as an argument (`--data-raw`): one argument is capped
 * (128 KiB on Linux, `MAX_ARG_STRLEN`; all of them 1 MiB on macOS), and a
 * longer one makes the shell fail with "Argument list too long". A larger
 * body goes through `printf`, a shell builtin that no such cap applies to.
 */
const ARGUMENT_BYTES = 64 * 1024;

/** What a curl command is made of: the reducer's state, the request body, where the app is. */
export interface CurlSource {
  state: TimelineState;
  /** The kept bytes of the request body (what the app read, then what was drained). */
  body: Uint8Array;
  /**
   * The app's own URL (`http://127.0.0.1:8000`), as the inspector knows it:
   * the command sends the request there, whatever the record says.
   */
  appUrl: string;
}

/** Refuses to build a command, naming the rule the record breaks. */
function refuse(reason: string): never {
  throw new TypeError(`Cannot copy as curl: ${reason}`);
}

/**
 * The curl command for an exchange's request: method, the app's URL and the
 * recorded target, the recorded headers (`Host` included), and the body as
 * the client sent it. A body that is not UTF-8 text, holds a NUL (no shell
 * word can) or another control character but LF (a key, pasted into a
 * terminal), or is larger than {@linkcode ARGUMENT_BYTES} is piped through
 * `base64 -d`. A body not captured whole is refused, as replay refuses it,
 * and so is a HEAD request with a body (curl cannot send one).
 *
 * @throws {TypeError} when the record breaks a rule of `../request_rules.ts`
 * (the message names it), its body was not captured whole, it is a HEAD
 * with a body, or `appUrl` is not a URL
 *
 * @example
 * ```ts
 * import { curlCommand } from "./curl.ts";
 * import { reduce } from "../timeline.ts";
 * const state = reduce([{
 *   type: "request", t: 0,
 *   data: { method: "POST", target: "/a?b=1", version: "HTTP/1.1", peer: null, headers: [["host", "evil.example"]], startedAt: 0 },
 * }, {
 *   type: "input", t: 1,
 *   data: { method: "read", size: null, bytes: { stream: "request", offset: 0, size: 2, kept: 2 } },
 * }]);
 * const body = new TextEncoder().encode("hi");
 * console.assert(
 *   curlCommand({ state, body, appUrl: "http://127.0.0.1:8000" }) ===
 *     "curl -q -X POST http://127.0.0.1:8000/ --request-target '/a?b=1' -H 'host: evil.example' " +
 *       "-H User-Agent: -H Accept: -H Content-Type: -H Expect: --noproxy '*' --data-raw hi",
 * );
 * ```
 */
export function curlCommand({ state, body, appUrl }: CurlSource): string {
  const method = state.request?.method ?? "GET";
  const target = state.request?.target ?? "/";
  const headers = state.request?.headers ?? [];
  const badMethod = checkMethod(method);
  if (badMethod !== undefined) refuse(badMethod);
  const badTarget = checkTarget(target);
  if (badTarget !== undefined) refuse(badTarget);
  for (const [name, value] of headers) {
    const badHeader = checkHeader(name, value);
    if (badHeader !== undefined) refuse(badHeader);
  }
  let origin: string;
  try {
    origin = new URL(appUrl).origin;
  } catch {
    refuse(`the app's URL is not a URL (got ${JSON.stringify(appUrl)})`);
  }
  const hasBody = state.input.size > 0;
  // As replay: a body kept only in part would be another request.
  const whole = body.length === state.input.size && state.input.restComplete !== false;
  if (hasBody && !whole) {
    refuse(
      `the request body was captured only up to ${body.length} of ${state.input.size}${
        body.length < state.input.size ? "" : "+"
      } bytes; raise --max-body-bytes to record it whole`,
    );
  }
  // curl's --head takes no body, and -X HEAD would wait for a body the answer never has.
  if (hasBody && method === "HEAD") refuse("curl cannot send a HEAD request with a body");
  // -q first: no ~/.curlrc adds headers or options of its own.
  const parts = ["curl", "-q"];
  if (method === "HEAD") parts.push("--head");
  else if (method !== "GET" || hasBody) parts.push("-X", shellQuote(method));
  // The URL is the app's origin alone; the target (origin-form: checkTarget) goes as it is.
  parts.push(shellQuote(`${origin}/`), "--request-target", shellQuote(target));
  parts.push(...headerWords(headers, hasBody), "--noproxy", shellQuote("*"));
  if (!hasBody) return parts.join(" ");
  const text = strictUtf8(body);
  // A control character would be a key in the terminal it is pasted into (a DEL erases the quote).
  if (text !== undefined && !PASTE_UNSAFE.test(text) && body.length <= ARGUMENT_BYTES) {
    parts.push("--data-raw", shellQuote(text));
    return parts.join(" ");
  }
  parts.push("--data-binary", "@-");
  return `printf %s ${shellQuote(body.toBase64())} | base64 -d | ${parts.join(" ")}`;
}

/**
 * The `-H` words: the recorded headers (but the framing ones), then a
 * removal of each header curl would add that the record lacks.
 */
function headerWords(headers: [string, string][], hasBody: boolean): string[] {
  const words: string[] = [];
  const recorded = new Set<string>();
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    // A body-less request keeps its first recorded length, as 0 (replay's framing): curl adds none.
    if (lower === "content-length" && !hasBody && !recorded.has(lower)) {
      words.push("-H", shellQuoteBytes(`${name}: 0`));
    }
    recorded.add(lower);
    if (FRAMING.has(lower)) continue;
    // `Name:` with nothing after it tells curl to drop the header; `Name;` sends it empty.
    words.push("-H", shellQuoteBytes(value.trim() === "" ? `${name};` : `${name}: ${value}`));
  }
  for (const name of hasBody ? [...CURL_OWN, ...CURL_OWN_WITH_BODY] : CURL_OWN) {
    if (!recorded.has(name.toLowerCase())) words.push("-H", shellQuote(`${name}:`));
  }
  return words;
}
