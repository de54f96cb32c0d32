/**
 * The rules of PEP 3333 that the gateway enforces on every response, and the
 * error that names a broken one.
 *
 * The checks and their order follow `wsgiref.handlers` and
 * `wsgiref.validate`: status shape, header list shape, header names and
 * values, hop-by-hop headers; then the body's shape (an iterable of
 * `Uint8Array` chunks). Each failure is a {@linkcode ProtocolError} whose
 * message names the rule and the fix.
 *
 * @module
 */

import type { Header } from "./types.ts";

/**
 * A rule of the WSGI protocol was broken, by the application or the gateway.
 *
 * `rule` is a short stable id (`"start_response.twice"`) for the inspector and
 * the validator; the message is for people.
 */
export class ProtocolError extends Error {
  /** A stable id of the broken rule. */
  readonly rule: string;
  constructor(rule: string, message: string) {
    super(message);
    this.name = "ProtocolError";
    this.rule = rule;
  }
}

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailers",
  "transfer-encoding",
  "upgrade",
]);

/** Whether a header is hop-by-hop (owned by the server, never by the app), as wsgiref's `is_hop_by_hop`. */
export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name.toLowerCase());
}

/** An HTTP token (RFC 9110): what a header name may be made of. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Control characters (tab aside) and anything outside latin-1: never in a header value. */
// deno-lint-ignore no-control-regex -- finding control characters is the point
const BAD_VALUE = /[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]/;
const STATUS = /^[1-9][0-9][0-9] /;

/**
 * Header names, header values and status lines already seen to pass, so that
 * each is checked once: applications send the same few strings (mostly
 * literals) with every response, and a `Set` lookup costs less than the
 * regular expressions. Bounded: short strings only, and at most `GOOD_MAX`
 * of each; past that, strings are simply checked every time.
 */
const GOOD_NAMES = new Set<string>();
const GOOD_VALUES = new Set<string>();
const GOOD_STATUS = new Map<string, number>();
const GOOD_MAX = 1024;
const GOOD_LENGTH = 256;

/** Whether `text` may still be remembered in `known` (short strings, and room left). */
function roomFor(known: { readonly size: number }, text: string): boolean {
  return known.size < GOOD_MAX && text.length <= GOOD_LENGTH;
}

function remember(set: Set<string>, text: string): void {
  if (roomFor(set, text)) set.add(text);
}

/** Shows a value in a message: strings quoted, others by type. */
export function show(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 60 ? value.slice(0, 60) + "…" : value);
  }
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Uint8Array) return `${value.constructor.name}(${value.length})`;
  if (typeof value === "object") return `an object (${value.constructor?.name ?? "Object"})`;
  return `${typeof value} ${String(value)}`;
}

/**
 * Checks a status line and returns its code.
 *
 * @throws {ProtocolError} unless `status` is a string like `"200 OK"` with a
 *   code that a response can carry (200–599; 1xx are the server's own)
 */
export function checkStatus(status: unknown): number {
  if (typeof status === "string") {
    const known = GOOD_STATUS.get(status);
    if (known !== undefined) return known;
  }
  if (typeof status !== "string" || !STATUS.test(status)) {
    throw new ProtocolError(
      "status.format",
      `Cannot start response: status must be a string like "200 OK" (got ${show(status)})`,
    );
  }
  const code = (status.charCodeAt(0) - 48) * 100 + (status.charCodeAt(1) - 48) * 10 +
    status.charCodeAt(2) - 48;
  if (code < 200 || code > 599) {
    throw new ProtocolError(
      "status.range",
      `Cannot start response: status ${code} cannot be sent by an application; use 200-599 (got ${
        show(status)
      })`,
    );
  }
  if (BAD_VALUE.test(status)) {
    throw new ProtocolError(
      "status.control",
      `Cannot start response: status must not contain control characters (got ${show(status)})`,
    );
  }
  if (roomFor(GOOD_STATUS, status)) GOOD_STATUS.set(status, code);
  return code;
}

/**
 * Checks a response header list.
 *
 * @throws {ProtocolError} unless `headers` is an array of `[name, value]`
 *   string pairs, names are tokens, values hold no control characters (no
 *   CR/LF: header injection) and are latin-1, and no header is hop-by-hop
 */
export function checkHeaders(headers: unknown): asserts headers is Header[] {
  if (!Array.isArray(headers)) {
    throw new ProtocolError(
      "headers.type",
      `Cannot start response: headers must be an array of [name, value] pairs (got ${
        show(headers)
      })`,
    );
  }
  for (let i = 0; i < headers.length; i++) {
    const pair = headers[i];
    if (!Array.isArray(pair) || pair.length !== 2) {
      throw new ProtocolError(
        "headers.pair",
        `Cannot start response: header ${i} must be a [name, value] pair (got ${show(pair)})`,
      );
    }
    const [name, value] = pair;
    if (typeof name !== "string" || typeof value !== "string") {
      throw new ProtocolError(
        "headers.string",
        `Cannot start response: header ${i} must be a pair of strings (got [${show(name)}, ${
          show(value)
        }])`,
      );
    }
    if (GOOD_NAMES.has(name) && GOOD_VALUES.has(value)) continue;
    if (!TOKEN.test(name)) {
      throw new ProtocolError(
        "headers.name",
        `Cannot start response: header name ${
          show(name)
        } is not a valid token (letters, digits and !#$%&'*+-.^_\`|~ only)`,
      );
    }
    if (BAD_VALUE.test(value)) {
      throw new ProtocolError(
        "headers.value",
        `Cannot start response: value of header ${
          show(name)
        } contains a control character or a non-latin-1 character (got ${show(value)})`,
      );
    }
    if (HOP_BY_HOP.has(name.toLowerCase())) {
      throw new ProtocolError(
        "headers.hop_by_hop",
        `Cannot start response: ${
          show(name)
        } is a hop-by-hop header; the server manages it, so leave it out`,
      );
    }
    remember(GOOD_NAMES, name);
    remember(GOOD_VALUES, value);
  }
}

/** Statuses whose response carries no body at all. */
export function isNullBodyStatus(code: number): boolean {
  return code === 204 || code === 205 || code === 304;
}

/**
 * The error for a chunk that is not bytes: `source` says where it came from
 * (`"body chunk"`, `"write() argument"`), `index` which one it was.
 */
export function chunkError(chunk: unknown, index: number, source: string): ProtocolError {
  const hint = typeof chunk === "string"
    ? " (encode text with new TextEncoder().encode(text))"
    : "";
  return new ProtocolError(
    "body.chunk_type",
    `Cannot send body: ${source} ${index} must be a Uint8Array (got ${show(chunk)})${hint}`,
  );
}

/** The error for a body that is not an iterable of chunks; `undefined` when it is one. */
export function bodyError(body: unknown): ProtocolError | undefined {
  if (typeof body === "string") {
    return new ProtocolError(
      "body.type",
      "Cannot send body: the application returned a string; return [new TextEncoder().encode(text)]",
    );
  }
  if (body instanceof Uint8Array) {
    return new ProtocolError(
      "body.type",
      "Cannot send body: the application returned a Uint8Array; return [bytes], an iterable of chunks",
    );
  }
  const b = body as Record<symbol, unknown> | null | undefined;
  if (
    b === null || b === undefined ||
    (typeof b[Symbol.iterator] !== "function" && typeof b[Symbol.asyncIterator] !== "function")
  ) {
    return new ProtocolError(
      "body.type",
      `Cannot send body: the application must return an iterable of Uint8Array chunks (got ${
        show(body)
      })`,
    );
  }
  return undefined;
}
