/**
 * Request → environ: the CGI and `wsgi.*` keys of PEP 3333, built from a
 * `Request` the way `wsgiref.simple_server` and gunicorn build them.
 *
 * This is on the hot path of every request, so it avoids `new URL()` and
 * caches the `HTTP_*` name of each header it has seen.
 *
 * Wherever wsgiref and gunicorn give the same value for the same raw request,
 * ours is that value; `tests/environ_parity_test.ts` checks it against both,
 * request by request. Where they disagree we chose, and say so in that test.
 * These are the differences we keep on purpose (also in `docs/differences.md`):
 *
 * - Header names containing `_` are dropped (both keep them): `X_Forwarded_For`
 *   would spoof `X-Forwarded-For`, and gunicorn 20 even takes `SCRIPT_NAME`
 *   from a `Script_Name` header. Werkzeug and gunicorn ≥ 22 drop them too.
 * - Repeated headers are joined with `", "` (`Cookie` with `"; "`), not `","`:
 *   `Deno.serve` joins them before we see them.
 * - `SERVER_PROTOCOL` is always `HTTP/1.1`: `Deno.serve` does not say whether
 *   the request was HTTP/1.0.
 * - `OPTIONS *` gives `PATH_INFO` `/*`, not `*`: `Deno.serve` hands it over so.
 * - A GET or HEAD request's body cannot be read from `wsgi.input`:
 *   `Deno.serve` gives such a `Request` no body. The gateway then drops
 *   `CONTENT_LENGTH` (and `wsgi.input_terminated`) from the environ, so that
 *   it agrees with `wsgi.input`, and records a `lint` event.
 * - Requests hyper refuses never reach us (it answers 400): target bytes that
 *   are not UTF-8 or are controls, a target without a leading `/`, obs-folded
 *   or malformed header lines, `Content-Length` with `Transfer-Encoding`, a
 *   repeated `Host`.
 * - `wsgi.file_wrapper` is a function (`file_wrapper.ts`), where wsgiref and
 *   gunicorn give a class: called the same way.
 * - `RAW_URI` and `REQUEST_URI` hold the target as received (path and
 *   query), as gunicorn (`RAW_URI`) and Werkzeug (both) set them; wsgiref
 *   has neither.
 * - `wsgi.input_terminated` is set only for chunked uploads (gunicorn sets it
 *   always, wsgiref never), and `CONTENT_TYPE`/`CONTENT_LENGTH` are absent,
 *   not `"text/plain"`/`""` as in wsgiref, when the request has none.
 * - Nothing of the process's environment goes in (wsgiref copies `os.environ`).
 *
 * Raw UTF-8 bytes in the target, which `Deno.serve` decodes, are turned back
 * into bytes as latin-1, so `PATH_INFO` and `QUERY_STRING` are what wsgiref
 * gives (gunicorn 20 encodes them twice). Under `serve()`, `SERVER_NAME` and
 * `SERVER_PORT` are the bound address, as in gunicorn; without a socket
 * (`toFetch` alone) they come from the `Host` header.
 *
 * @module
 */

import type { Environ, ErrorStream, InputStream } from "./types.ts";
import { fileWrapper } from "./file_wrapper.ts";

/** The version string our server reports in `SERVER_SOFTWARE`. */
export const SERVER_SOFTWARE = `wsgi-deno/0.1.0 Deno/${Deno.version.deno}`;

/** What the environ needs besides the request itself. */
export interface EnvironOptions {
  /** `wsgi.input` for this request. */
  input: InputStream;
  /** `wsgi.errors` for this request. */
  errors: ErrorStream;
  /** The peer, when known (`Deno.serve` gives it; an in-memory `Request` does not). */
  remoteAddr?: { hostname: string; port: number };
  /** `SERVER_NAME`; by default the host of the `Host` header. */
  serverName?: string;
  /** `SERVER_PORT`; by default the port of the `Host` header, else the scheme's. */
  serverPort?: string;
  /** `wsgi.multiprocess`: true when several processes serve the same app. */
  multiprocess?: boolean;
  /**
   * `wsgi.url_scheme`, when the caller knows the connection's (`serve()`
   * does: `http`). Otherwise the scheme of `request.url`, `http` or `https`
   * only.
   */
  urlScheme?: string;
  /** `request.method`, when the caller has read it already (each read of the getter costs). */
  method?: string;
  /** `request.url` as it is to be read, when it differs: the caller's target as sent (see {@linkcode withTarget}). */
  url?: string;
}

/**
 * What {@linkcode buildEnviron} saw of the raw request, handed back to a
 * caller that wants it (the request log, the recorder) so that nothing is
 * read or split twice.
 */
export interface RequestSeen {
  /** Set to the request target as sent (path and query), from the same split as `PATH_INFO`. */
  target: string;
  /**
   * When an array, it is filled with the request headers as `[name, value]`
   * pairs: the pairs already in it are overwritten and reused, and its length
   * set to the number of headers, so that one array can serve every request
   * (the gateway's recorded exchanges share one; it is read at once).
   */
  requestHeaders: [string, string][] | undefined;
}

/** The parts of a request target: scheme, path and query. */
export interface Target {
  scheme: string;
  /** The authority in the URL (from the `Host` header, or the absolute-form target). */
  authority: string;
  /** The raw path, still percent-encoded. */
  path: string;
  /** The raw query, without `?`; `""` when there is none. */
  query: string;
  /** The request target as sent: path and query (a `?` with nothing after it dropped). */
  target: string;
}

/**
 * Splits `request.url` into its parts without `new URL()`.
 *
 * `Deno.serve` builds `request.url` from the raw request target and does not
 * normalise it (`/a/../b` and `%2F` arrive as sent), so the path is the one the
 * client sent. For an origin-form target it pastes the `Host` header in as the
 * authority, unchecked: when that header holds a `/`, pass it as `host` so
 * the path starts after it, not at its `/`.
 *
 * @example
 * ```ts
 * import { splitTarget } from "./environ.ts";
 * const t = splitTarget("http://h:8000/a%20b?x=1");
 * console.assert(t.path === "/a%20b" && t.query === "x=1" && t.authority === "h:8000");
 * console.assert(t.target === "/a%20b?x=1");
 * ```
 */
export function splitTarget(url: string, host?: string): Target {
  split(url, host);
  return {
    scheme: parts.scheme,
    authority: url.slice(parts.authorityStart, parts.pathStart),
    path: parts.path,
    query: parts.query,
    target: parts.target,
  };
}

/**
 * `url` with its path and query replaced by `target`, a request target as
 * sent (`HandlerInfo.target` of `./gateway_options.ts`).
 *
 * @throws {TypeError} for a target that does not start with `/` or holds a
 *   space or a control character
 *
 * @example
 * ```ts
 * import { withTarget } from "./environ.ts";
 * console.assert(withTarget("http://h:8000/caf%C3%A9", "/caf\u00e9?x=1") === "http://h:8000/caf\u00e9?x=1");
 * ```
 */
export function withTarget(url: string, target: string): string {
  // deno-lint-ignore no-control-regex
  if (!target.startsWith("/") || /[\x00-\x20\x7f]/.test(target)) {
    throw new TypeError(
      `A request target must start with "/" and hold no space or control character, as a client sends it: got ${
        JSON.stringify(target.slice(0, 200))
      }`,
    );
  }
  const authority = url.indexOf("://") + 3;
  const path = url.indexOf("/", authority);
  return (path === -1 ? url : url.slice(0, path)) + target;
}

/**
 * What {@linkcode split} found, one object for every request (`buildEnviron`
 * reads it at once): a {@linkcode Target} whose authority is left in the URL
 * as its bounds, so that it is sliced only when wanted (`serve()` never does).
 */
const parts = { scheme: "", authorityStart: 0, pathStart: 0, path: "", query: "", target: "" };

/** {@linkcode splitTarget} into {@linkcode parts}. */
function split(url: string, host: string | undefined): void {
  const colon = url.indexOf(":");
  const authorityStart = colon + 3; // skip "://"
  let pathStart = host !== undefined && url.startsWith(host, authorityStart) &&
      url.charCodeAt(authorityStart + host.length) === 47 // "/"
    ? authorityStart + host.length
    : url.indexOf("/", authorityStart);
  if (pathStart === -1) pathStart = url.length;
  const q = url.indexOf("?", pathStart);
  let end = url.indexOf("#", pathStart);
  if (end === -1) end = url.length;
  const noQuery = q === -1 || q > end;
  const path = noQuery ? url.slice(pathStart, end) || "/" : url.slice(pathStart, q) || "/";
  const query = noQuery ? "" : url.slice(q + 1, end);
  // The usual schemes as constants: one string less per request.
  parts.scheme = colon === 4 && url.startsWith("http")
    ? "http"
    : colon === 5 && url.startsWith("https")
    ? "https"
    : url.slice(0, colon);
  parts.authorityStart = authorityStart;
  parts.pathStart = pathStart;
  parts.path = path;
  parts.query = query;
  parts.target = query === "" ? path : `${path}?${query}`;
}

/**
 * Percent-decodes a path into "bytes as latin-1", as PEP 3333 carries
 * `PATH_INFO`: every `%XX` becomes the one char with code `0xXX`, and a `%` not
 * followed by two hex digits stays as it is (as Python's `unquote` does).
 *
 * @example
 * ```ts
 * import { decodePathInfo } from "./environ.ts";
 * console.assert(decodePathInfo("/caf%C3%A9") === "/caf\xc3\xa9");
 * ```
 */
export function decodePathInfo(path: string): string {
  return percentDecode(latin1Bytes(path));
}

/** Every `%XX` of `path` (already bytes as latin-1) as the char with code `0xXX`. */
function percentDecode(path: string): string {
  if (path.indexOf("%") === -1) return path;
  return path.replace(PERCENT, percentChar);
}

const PERCENT = /%([0-9A-Fa-f]{2})/g;

function percentChar(_: string, hex: string): string {
  return String.fromCharCode(parseInt(hex, 16));
}

const NON_ASCII = /[\u0080-\uffff]/;

/** Whether `text` from `start` on is all ASCII (a loop: cheaper than a regex on a short string). */
function asciiFrom(text: string, start: number): boolean {
  for (let i = start; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * Carries raw target text as "bytes as latin-1". `Deno.serve` accepts raw
 * UTF-8 bytes in a request target and decodes them into `request.url` (it
 * refuses invalid UTF-8 with a 400); wsgiref and gunicorn read the same bytes
 * as latin-1. Re-encoding gives back their bytes.
 *
 * @example
 * ```ts
 * import { latin1Bytes } from "./environ.ts";
 * console.assert(latin1Bytes("/café") === "/caf\xc3\xa9");
 * ```
 */
export function latin1Bytes(text: string): string {
  if (!NON_ASCII.test(text)) return text;
  return String.fromCharCode(...new TextEncoder().encode(text));
}

/** `wsgi.version`: a tuple in Python, so frozen here, and shared (one array less per request). */
const WSGI_VERSION: readonly [1, 0] = Object.freeze([1, 0] as const);

const httpNames = new Map<string, string>();

/** `"x-forwarded-for"` → `"HTTP_X_FORWARDED_FOR"`, cached (header names repeat). */
function httpKey(name: string): string {
  let key = httpNames.get(name);
  if (key === undefined) {
    key = "HTTP_" + name.toUpperCase().replaceAll("-", "_");
    if (httpNames.size < 1024) httpNames.set(name, key);
  }
  return key;
}

/** Splits a `Host` header value into name and port (`"[::1]:8000"` → `["::1", "8000"]`). */
export function splitHost(host: string, scheme: string): [string, string] {
  const defaultPort = scheme === "https" ? "443" : "80";
  if (host.startsWith("[")) {
    const close = host.indexOf("]");
    const port = host.slice(close + 2);
    return [host.slice(1, close), port || defaultPort];
  }
  const colon = host.lastIndexOf(":");
  if (colon === -1) return [host, defaultPort];
  return [host.slice(0, colon), host.slice(colon + 1) || defaultPort];
}

/** A placeholder environ for {@linkcode reading} between requests (never written). */
const NO_ENVIRON = Object.freeze({}) as Environ;

/**
 * What {@linkcode readHeader} fills in while `buildEnviron` reads one
 * request's headers, and what it found: one object and one callback for
 * every request, rather than a closure each (`forEach` calls it
 * synchronously, and no other code runs meanwhile).
 */
const reading = {
  environ: NO_ENVIRON,
  pairs: undefined as [string, string][] | undefined,
  count: 0,
  host: undefined as string | undefined,
  chunked: false,
};

/** One request header into the environ (and the pairs, when collected): see `buildEnviron`. */
function readHeader(value: string, name: string): void {
  const environ = reading.environ;
  const pairs = reading.pairs;
  if (pairs !== undefined) {
    const pair = pairs[reading.count++];
    if (pair === undefined) pairs.push([name, value]);
    else {
      pair[0] = name;
      pair[1] = value;
    }
  }
  if (name === "content-type") environ.CONTENT_TYPE = value;
  else if (name === "content-length") {
    // Deno.serve joins repeated (equal) lengths into "3, 3": keep one, as wsgiref does.
    const comma = value.indexOf(",");
    environ.CONTENT_LENGTH = comma === -1 ? value : value.slice(0, comma);
  } else if (name.indexOf("_") === -1) {
    if (name === "host") reading.host = value;
    else if (name === "transfer-encoding") reading.chunked = true;
    environ[httpKey(name)] = value;
  }
}

/**
 * Builds the WSGI environ for one request.
 *
 * - `PATH_INFO` is percent-decoded, as bytes-as-latin-1; `QUERY_STRING` is raw.
 * - Every request header becomes `HTTP_<NAME>`, except `Content-Type` and
 *   `Content-Length` (which become `CONTENT_TYPE` / `CONTENT_LENGTH` and are
 *   absent when the request has none) and names that contain `_`: those are
 *   dropped, because `X_Forwarded_For` would otherwise spoof
 *   `X-Forwarded-For` (Werkzeug and gunicorn drop them too).
 * - A body without `Content-Length` (a chunked upload) sets
 *   `wsgi.input_terminated`, as Werkzeug does: reading to the end is safe.
 * - `SERVER_NAME` and `SERVER_PORT` are `options.serverName` and
 *   `options.serverPort` (`serve()` passes the bound address), else taken from
 *   the `Host` header (or the target's authority) and the scheme.
 * - `wsgi.url_scheme` is `options.urlScheme` (`serve()` passes `http`, the
 *   connection's), else `https` when `request.url` says so, else `http`: an
 *   absolute-form target (`GET https://x/ HTTP/1.1`) writes the client's own
 *   scheme into `request.url`.
 * - Nothing from the process's own environment goes in.
 *
 * `seen`, when given, gets the raw target and (if it holds an array) the
 * header pairs.
 */
export function buildEnviron(
  request: Request,
  options: EnvironOptions,
  seen?: RequestSeen,
): Environ {
  const url = options.url ?? request.url;
  split(url, undefined);
  // Read out at once, before any other code runs (a getter of `request`).
  const { scheme, authorityStart, pathStart, path, query } = parts;
  let target = parts.target;
  // One test of the target for the three latin-1 strings below (nearly
  // every target is ASCII, which latin1Bytes() gives back as it is).
  const ascii = asciiFrom(url, pathStart);
  const environ: Environ = {
    REQUEST_METHOD: options.method ?? request.method,
    SCRIPT_NAME: "",
    PATH_INFO: ascii ? percentDecode(path) : decodePathInfo(path),
    QUERY_STRING: ascii ? query : latin1Bytes(query),
    SERVER_NAME: "",
    SERVER_PORT: "",
    SERVER_PROTOCOL: "HTTP/1.1",
    SERVER_SOFTWARE,
    GATEWAY_INTERFACE: "CGI/1.1",
    "wsgi.version": WSGI_VERSION,
    // Not the target's own scheme: an absolute-form target (GET https://x/)
    // lets the client write any scheme into request.url.
    "wsgi.url_scheme": options.urlScheme ?? (scheme === "https" ? "https" : "http"),
    "wsgi.input": options.input,
    "wsgi.errors": options.errors,
    "wsgi.multithread": false,
    "wsgi.multiprocess": options.multiprocess ?? false,
    "wsgi.run_once": false,
    "wsgi.file_wrapper": fileWrapper,
  };
  const peer = options.remoteAddr;
  if (peer !== undefined) {
    environ.REMOTE_ADDR = peer.hostname;
    environ.REMOTE_PORT = String(peer.port);
  }
  const pairs = seen?.requestHeaders;
  // forEach, not for...of: Deno's Headers iterator rebuilds its sorted list on
  // every step (10 headers: ~12 µs against ~1 µs); forEach builds it once.
  reading.environ = environ;
  reading.pairs = pairs;
  reading.count = 0;
  reading.host = undefined;
  reading.chunked = false;
  request.headers.forEach(readHeader);
  // (Read back as the types they are: TypeScript cannot see forEach set them.)
  const host = reading.host as string | undefined;
  const chunked = reading.chunked as boolean;
  const count = reading.count;
  // Nothing of this request stays reachable from the shared object.
  reading.environ = NO_ENVIRON;
  reading.pairs = undefined;
  reading.host = undefined;
  if (pairs !== undefined && pairs.length !== count) pairs.length = count;
  if (chunked && environ.CONTENT_LENGTH === undefined) environ["wsgi.input_terminated"] = true;
  if (host !== undefined && host.indexOf("/") !== -1) {
    // Rare: a Host with a "/" moved the path's start in request.url (see splitTarget).
    split(url, host);
    target = parts.target;
    environ.PATH_INFO = decodePathInfo(parts.path);
    environ.QUERY_STRING = latin1Bytes(parts.query);
  }
  if (seen !== undefined) seen.target = target;
  // The target as received, as gunicorn (RAW_URI) and Werkzeug (both) give it:
  // only it tells "/a%2Fb" from "/a/b". A string we have; latin-1 like PATH_INFO.
  environ.RAW_URI = environ.REQUEST_URI = ascii ? target : latin1Bytes(target);
  if (options.serverName !== undefined && options.serverPort !== undefined) {
    environ.SERVER_NAME = options.serverName;
    environ.SERVER_PORT = options.serverPort;
  } else {
    const [name, port] = splitHost(
      host ?? url.slice(authorityStart, pathStart),
      scheme,
    );
    environ.SERVER_NAME = options.serverName ?? name;
    environ.SERVER_PORT = options.serverPort ?? port;
  }
  return environ;
}
