/**
 * Replay: the recorded request, sent again to the app's own listening
 * address, byte for byte.
 *
 * **Where it goes.** Only ever to the address the app server is bound to: a
 * TCP connection (`Deno.connect`) to that hostname and port, on which this
 * module writes the HTTP/1.1 request itself. No URL parser ever sees the
 * target, so nothing in it (a backslash, `//host`, `@host`, a TAB) can move
 * the request elsewhere. The target must be origin-form all the same ("/"
 * then a path and query with no whitespace, control character, backslash or
 * `#`, and not "//"): anything else is refused with 400 before a connection
 * is made. An edited `Host` header is sent as written, to the app.
 *
 * **What it sends.** Exactly the recorded method, target, headers (`Host`
 * included, in their recorded order, names and values as recorded: as
 * `Deno.serve` gave them, lower-cased, sorted by name, a repeated header
 * joined into one; the client's own order and case reach no Deno server)
 * and body,
 * plus one header, `x-wsgi-inspector-replay`, that links the new exchange to
 * its original (see `./store.ts`). Nothing an HTTP client would add
 * (`Accept-Encoding`, `User-Agent`, `Connection`). The target goes out as
 * UTF-8 and header values as latin-1 bytes, the way `Deno.serve` decoded
 * them (raw UTF-8 in a target is recorded as text: `/café`); a header value
 * with a character beyond U+00FF is refused.
 *
 * **Framing.** The body goes with a `Content-Length`: the recorded one when
 * it is the body's length, else the correct one in its place; a
 * `Transfer-Encoding` is dropped (the body is sent whole, never chunked),
 * and a body-less request without a length gets none. Any such repair shows
 * in the replay's list of changes.
 *
 * **What comes back.** The response is read in full by `./raw_http.ts` (after any `1xx`
 * interim answers), framed by `Content-Length`, `chunked`, or the
 * connection's end, so that the new exchange is complete when the replay
 * answers; its bytes are discarded (the inspector recorded them).
 *
 * **Edits.** An edited replay (method, target, headers, body) answers the
 * list of its {@linkcode ReplayChange}s against the recorded request: what
 * the app received that the original did not.
 *
 * @example
 * ```ts
 * import { planReplay, serializeRequest } from "./replay.ts";
 * const plan = planReplay(
 *   { method: "POST", target: "/a?b=1", headers: [["host", "127.0.0.1:8000"]], body: new Uint8Array([104, 105]) },
 *   { method: "PUT" },
 * );
 * if (typeof plan === "string") throw new Error(plan);
 * const text = new TextDecoder().decode(serializeRequest(plan.request, ["x-wsgi-inspector-replay", "1; 1"]));
 * console.assert(text === "PUT /a?b=1 HTTP/1.1\r\nhost: 127.0.0.1:8000\r\ncontent-length: 2\r\nx-wsgi-inspector-replay: 1; 1\r\n\r\nhi");
 * console.assert(plan.changes.length === 2); // the method, and the Content-Length the body needs
 * ```
 *
 * @module
 */

import type { ReplayChange, ReplayRequest } from "./protocol.ts";
import { checkHeader, checkMethod, checkTarget } from "./request_rules.ts";
import { REPLAY_HEADER } from "./store.ts";

/** A request as it was recorded: what a replay sends again. */
export interface RecordedRequest {
  method: string;
  /** Path and query, as received (bytes as latin-1). */
  target: string;
  /** Header pairs in their recorded order (values bytes as latin-1). */
  headers: [string, string][];
  body: Uint8Array;
}

/** The request a replay writes to the app (the link header is added when written). */
export type OutgoingRequest = RecordedRequest;

/** A replay ready to send: the request, and how it differs from the recorded one. */
export interface ReplayPlan {
  request: OutgoingRequest;
  changes: ReplayChange[];
}

/** Validates a replay request's JSON body; returns the edit, or the reason it is wrong. */
export function parseReplayRequest(text: string): ReplayRequest | string {
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'the body must be JSON like {"method": "POST", "target": "/path"}';
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return "the body must be a JSON object";
  }
  const edit = value as Record<string, unknown>;
  for (const key of ["method", "target", "body", "bodyBase64"]) {
    if (edit[key] !== undefined && typeof edit[key] !== "string") {
      return `${key} must be a string (got ${JSON.stringify(edit[key])})`;
    }
  }
  if (
    edit.headers !== undefined &&
    (!Array.isArray(edit.headers) ||
      !edit.headers.every((h) =>
        Array.isArray(h) && h.length === 2 && typeof h[0] === "string" && typeof h[1] === "string"
      ))
  ) {
    return 'headers must be a list of [name, value] string pairs like [["Accept", "text/html"]]';
  }
  if (edit.body !== undefined && edit.bodyBase64 !== undefined) {
    return "give body or bodyBase64, not both";
  }
  return edit as ReplayRequest;
}

/**
 * The request to send for `original` with `edit` applied, checked and framed
 * (see the module doc), and its changes; or the reason it cannot be sent.
 * Everything is checked, recorded or edited alike, by `./request_rules.ts`:
 * a record may come from anywhere (an attacker's request, an imported HAR).
 */
export function planReplay(original: RecordedRequest, edit: ReplayRequest): ReplayPlan | string {
  const method = edit.method ?? original.method;
  const badMethod = checkMethod(method);
  if (badMethod !== undefined) return badMethod;
  const target = edit.target ?? original.target;
  const badTarget = checkTarget(target);
  if (badTarget !== undefined) return badTarget;
  let body: Uint8Array;
  if (edit.body !== undefined) body = new TextEncoder().encode(edit.body);
  else if (edit.bodyBase64 !== undefined) {
    try {
      body = Uint8Array.fromBase64(edit.bodyBase64);
    } catch {
      return "bodyBase64 is not valid base64";
    }
  } else body = original.body;
  const given = edit.headers ?? original.headers;
  for (const [name, value] of given) {
    const badHeader = checkHeader(name, value);
    if (badHeader !== undefined) return badHeader;
  }
  const headers = frame(given, body.length);
  const request = { method, target, headers, body };
  return { request, changes: replayChanges(original, request) };
}

/**
 * The headers with the body's framing: one correct `Content-Length` (the
 * first recorded one, kept when right), no `Transfer-Encoding`, and no link
 * header (the replay adds its own).
 */
function frame(given: [string, string][], length: number): [string, string][] {
  const headers: [string, string][] = [];
  let lengthAt = -1;
  let encodingAt = -1;
  for (const [name, value] of given) {
    const lower = name.toLowerCase();
    if (lower === REPLAY_HEADER) continue;
    if (lower === "transfer-encoding") {
      if (encodingAt === -1) encodingAt = headers.length;
      continue;
    }
    if (lower === "content-length") {
      if (lengthAt !== -1) continue;
      lengthAt = headers.length;
      headers.push([name, value === String(length) ? value : String(length)]);
      continue;
    }
    headers.push([name, value]);
  }
  if (lengthAt === -1 && length > 0) {
    const at = encodingAt === -1 ? headers.length : encodingAt;
    headers.splice(at, 0, ["content-length", String(length)]);
  }
  return headers;
}

/** Header values by lower-case name, in order of first appearance, repeated ones joined. */
function headerMap(headers: [string, string][]): Map<string, string> {
  const map = new Map<string, string>();
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (lower === REPLAY_HEADER) continue;
    const seen = map.get(lower);
    map.set(lower, seen === undefined ? value : `${seen}, ${value}`);
  }
  return map;
}

const sameBytes = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((byte, i) => byte === b[i]);

/**
 * How `sent` differs from `original`: method, target, each header whose
 * value changed, was added or was removed (names compared in any case, the
 * link header left out), and the body.
 *
 * @example
 * ```ts
 * import { replayChanges } from "./replay.ts";
 * const original = { method: "GET", target: "/", headers: [["host", "a"]] as [string, string][], body: new Uint8Array() };
 * const changes = replayChanges(original, { ...original, headers: [["Host", "b"], ["x-new", "1"]] });
 * console.assert(JSON.stringify(changes) === JSON.stringify([
 *   { part: "header", name: "host", from: "a", to: "b" },
 *   { part: "header", name: "x-new", from: null, to: "1" },
 * ]));
 * ```
 */
export function replayChanges(original: RecordedRequest, sent: OutgoingRequest): ReplayChange[] {
  const changes: ReplayChange[] = [];
  if (sent.method !== original.method) {
    changes.push({ part: "method", from: original.method, to: sent.method });
  }
  if (sent.target !== original.target) {
    changes.push({ part: "target", from: original.target, to: sent.target });
  }
  const before = headerMap(original.headers);
  const after = headerMap(sent.headers);
  for (const name of new Set([...before.keys(), ...after.keys()])) {
    const from = before.get(name) ?? null;
    const to = after.get(name) ?? null;
    if (from !== to) changes.push({ part: "header", name, from, to });
  }
  if (!sameBytes(original.body, sent.body)) {
    changes.push({ part: "body", from: original.body.length, to: sent.body.length });
  }
  return changes;
}

const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

/**
 * The request's bytes: request line, headers as given, the link header, a
 * blank line, the body. The request line is written as UTF-8, header
 * values as latin-1 (both checked by {@linkcode planReplay}): the way
 * `Deno.serve` read them.
 */
export function serializeRequest(request: OutgoingRequest, link: [string, string]): Uint8Array {
  const line = new TextEncoder().encode(`${request.method} ${request.target} HTTP/1.1\r\n`);
  let fields = "";
  for (const [name, value] of request.headers) fields += `${name}: ${value}\r\n`;
  fields += `${link[0]}: ${link[1]}\r\n\r\n`;
  const bytes = new Uint8Array(line.length + fields.length + request.body.length);
  bytes.set(line);
  bytes.set(latin1(fields), line.length);
  bytes.set(request.body, line.length + fields.length);
  return bytes;
}
