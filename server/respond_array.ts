/**
 * The fast path: a body that is answered at once, in one `Response` with
 * every byte in it. That is an array of chunks (what nearly every
 * application returns), and also a value of the wrong type, answered with
 * the 500 page that names it; and so is the 500 page itself
 * ({@linkcode fail}), an application that returns an array.
 *
 * Synchronous as long as nothing is: an array body with a plain (or no)
 * `close()` is answered without a single `await`, so the hot path makes no
 * promises of its own.
 *
 * @module
 */

import type { Header, ResponseBody } from "./types.ts";
import type { ErrorSite } from "./recorder.ts";
import { concatBytes } from "./input.ts";
import { bodyError, chunkError, isNullBodyStatus, type ProtocolError } from "./rules.ts";
import { describeError } from "./error_page.ts";
import { closeBody, isThenable } from "./close.ts";
import { type Exchange, NONE } from "./exchange.ts";
import { cutLive } from "./write_stream.ts";

/** Text bodies up to this size go to `Response` as a string (see {@linkcode bodyInit}). */
const TEXT_BODY_MAX = 64 * 1024;
/** Content types whose bodies are (almost always) UTF-8 text. */
const TEXT_TYPE = /^\s*(?:text\/|application\/(?:json|javascript|xml|[^;]*\+(?:json|xml)))/i;
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * What to hand `new Response()` for a complete body: the bytes, or a string
 * that Deno turns back into exactly those bytes.
 *
 * `new Response(bytes)` copies the bytes into a new `ArrayBuffer`, and a new
 * `ArrayBuffer` costs about half a microsecond in Deno 2.9 (some 5% of a
 * hello-world exchange); a string is handed over as it is and encoded to
 * UTF-8 natively. Bytes that are valid UTF-8 decode to a string that encodes
 * back to the very same bytes (`ignoreBOM` keeps a leading BOM in the text).
 * Bytes that are not valid UTF-8 decode with a U+FFFD, and go as bytes (so
 * does text holding a real U+FFFD: needlessly, but correctly). Only for a
 * text Content-Type, so that binary bodies are not decoded in vain, and never
 * without one: Deno would add `text/plain;charset=UTF-8` to a string body.
 */
function bodyInit(bytes: Uint8Array, headers: Header[]): BodyInit {
  if (bytes.length === 0 || bytes.length > TEXT_BODY_MAX) return bytes as BodyInit;
  let text = false;
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!;
    if (name.length === 12 && isContentType(name)) {
      text = value.startsWith("text/") || TEXT_TYPE.test(value);
      break;
    }
  }
  if (!text) return bytes as BodyInit;
  const decoded = utf8.decode(bytes);
  return decoded.indexOf("\uFFFD") === -1 ? decoded : bytes as BodyInit;
}

/** Whether a 12-char header name is `Content-Type`, in any case (the usual spellings without a new string). */
function isContentType(name: string): boolean {
  return name === "Content-Type" || name === "content-type" ||
    name.toLowerCase() === "content-type";
}

/** Header lists up to this long go to `Response` as a record (see {@linkcode headersInit}). */
const RECORD_MAX = 8;

/**
 * What to hand `new Response()` as the headers: a record `{ name: value }`
 * when it means the same list, else the pairs themselves.
 *
 * Deno 2.9 converts a list of pairs pair by pair through WebIDL (a new array
 * for each), and a record's properties straight; both end in the same
 * header list, in the same order. A record cannot hold a name twice
 * (`Set-Cookie`), puts names that are array indices (`"1"`) first, and
 * takes `__proto__` for its prototype: such lists go as pairs. The names
 * and values were checked by `start_response` (tokens, latin-1 strings).
 */
function headersInit(headers: Header[]): HeadersInit {
  const count = headers.length;
  if (count > RECORD_MAX) return headers;
  const record: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    const [name, value] = headers[i]!;
    const first = name.charCodeAt(0);
    if ((first >= 48 && first <= 57) || name === "__proto__") return headers;
    for (let j = 0; j < i; j++) if (headers[j]![0] === name) return headers;
    record[name] = value;
  }
  return record;
}

/**
 * Answers a body that is answered at once: an array of chunks, or a value
 * that is no iterable of chunks at all. Each chunk is checked; the body is
 * closed; then the answer is its bytes, or a 500 page that names what was
 * wrong.
 */
export function respondArray(ex: Exchange, body: ResponseBody): Response | Promise<Response> {
  let problem = Array.isArray(body) ? undefined : bodyError(body);
  let where: ErrorSite = "application";
  let total = 0;
  if (problem === undefined) {
    const chunks = body as unknown[];
    let i = 0;
    for (; i < chunks.length; i++) {
      const chunk = chunks[i];
      if (!(chunk instanceof Uint8Array)) break;
      total += chunk.length;
    }
    ex.onArrayBody(chunks as Uint8Array[], i);
    if (i < chunks.length) {
      problem = chunkError(chunks[i], i, "body chunk");
      where = "iterable";
    }
  }
  // The home of close() for a body answered at once (see ./close.ts): here,
  // before the response is made, so that close() has run when the exchange
  // ends, and one that fails can still be answered with a 500.
  let closing: Promise<void> | undefined;
  try {
    closing = closeBody(ex, body);
  } catch (error) {
    return closeFailed(ex, error, where, problem);
  }
  if (closing !== undefined) {
    const wrong = problem;
    return closing.then(
      () =>
        wrong === undefined ? sendArray(ex, body as Uint8Array[], total) : fail(ex, where, wrong),
      (error) => closeFailed(ex, error, where, wrong),
    );
  }
  return problem === undefined
    ? sendArray(ex, body as Uint8Array[], total)
    : fail(ex, where, problem);
}

/**
 * A `close()` failed: that is the 500 page's to name, unless the body was
 * being refused already (`problem`), which the page names instead.
 */
function closeFailed(
  ex: Exchange,
  error: unknown,
  where: ErrorSite,
  problem: ProtocolError | undefined,
): Response | Promise<Response> {
  if (problem === undefined) return fail(ex, "close", error);
  ex.report("close", error);
  return fail(ex, where, problem);
}

/** Sends a complete body of `total` bytes (after what `write()` queued), once `close()` was called. */
export function sendArray(
  ex: Exchange,
  body: Uint8Array[],
  total: number,
): Response | Promise<Response> {
  const written = ex.written;
  let before = 0;
  for (let i = 0; i < written.length; i++) before += written[i]!.length;
  const problem = ex.checkReady(total + before);
  if (problem) return fail(ex, "application", problem);
  let payload: Uint8Array | null;
  if (written.length === 0) {
    payload = body.length === 1 ? body[0]! : concatBytes(body, total);
  } else payload = concatBytes([...written, ...body]);
  ex.written = NONE;
  if (isNullBodyStatus(ex.code)) payload = null;
  ex.bytes = payload === null || ex.method === "HEAD" ? 0 : payload.length;
  const init = payload === null ? null : bodyInit(payload, ex.headers);
  const headers = headersInit(ex.headers);
  // 200 is Response's default: left out, Deno skips converting it.
  const response = new Response(
    init,
    ex.code === 200 ? { headers } : { status: ex.code, headers },
  );
  ex.stampEnd();
  ex.sent();
  ex.finish("end");
  return response;
}

/**
 * Answers a failure: report it, then run the 500 page through this same
 * exchange, as any application, so that the inspector records it like any
 * exchange. After `write()` sent the headers, what was written goes out and
 * the connection is cut instead.
 *
 * The page's body goes to the gateway's `respond()` (`./gateway.ts`), which
 * imports this file: so it is reached through the handler's shared settings.
 */
export function fail(ex: Exchange, where: ErrorSite, error: unknown): Response | Promise<Response> {
  ex.report(where, error);
  if (ex.live !== undefined) {
    if (!ex.finished) cutLive(ex, error);
    return ex.liveResponse!;
  }
  if (ex.shared.options.throwErrors) {
    ex.finishNow("cut", `error: ${describeError(error)}`);
    return Promise.reject(error);
  }
  ex.unsend();
  // The page is itself an application; the CLI's debug page waits, once, for its stack parser.
  const page = ex.shared.errorPage(error, ex.environ);
  const body = page(ex.environ, ex.start_response);
  return isThenable(body)
    ? Promise.resolve(body).then((b) => ex.shared.respond(ex, b))
    : ex.shared.respond(ex, body);
}
