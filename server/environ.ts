/**
 * Request → environ: the CGI and `wsgi.*` keys of PEP 3333, built from a
 * `Request` the way `wsgiref.simple_server` and gunicorn build them.
 *
 * This is on the hot path of every request, so it avoids `new URL()` and
 * caches the `HTTP_*` name of each header it has seen.
 *
 * @module
 */

import type { Environ, ErrorStream, InputStream } from "./types.ts";

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
}

/**
 * Splits `request.url` into its parts without `new URL()`.
 *
 * `Deno.serve` builds `request.url` from the raw request target and does not
 * normalise it (`/a/../b` and `%2F` arrive as sent), so the path is the one the
 * client sent.
 *
 * @example
 * ```ts
 * import { splitTarget } from "./environ.ts";
 * const t = splitTarget("http://h:8000/a%20b?x=1");
 * console.assert(t.path === "/a%20b" && t.query === "x=1" && t.authority === "h:8000");
 * ```
 */
export function splitTarget(url: string): Target {
  const colon = url.indexOf(":");
  const authorityStart = colon + 3; // skip "://"
  let pathStart = url.indexOf("/", authorityStart);
  if (pathStart === -1) pathStart = url.length;
  const q = url.indexOf("?", pathStart);
  let end = url.indexOf("#", pathStart);
  if (end === -1) end = url.length;
  return {
    scheme: url.slice(0, colon),
    authority: url.slice(authorityStart, pathStart),
    path: q === -1 || q > end ? url.slice(pathStart, end) || "/" : url.slice(pathStart, q) || "/",
    query: q === -1 || q > end ? "" : url.slice(q + 1, end),
  };
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
  if (path.indexOf("%") === -1) return path;
  return path.replace(
    /%([0-9A-Fa-f]{2})/g,
    (_, hex: string) => String.fromCharCode(parseInt(hex, 16)),
  );
}

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
 * - Nothing from the process's own environment goes in.
 */
export function buildEnviron(request: Request, options: EnvironOptions): Environ {
  const target = splitTarget(request.url);
  const environ: Environ = {
    REQUEST_METHOD: request.method,
    SCRIPT_NAME: "",
    PATH_INFO: decodePathInfo(target.path),
    QUERY_STRING: target.query,
    SERVER_NAME: "",
    SERVER_PORT: "",
    SERVER_PROTOCOL: "HTTP/1.1",
    SERVER_SOFTWARE,
    GATEWAY_INTERFACE: "CGI/1.1",
    "wsgi.version": [1, 0],
    "wsgi.url_scheme": target.scheme,
    "wsgi.input": options.input,
    "wsgi.errors": options.errors,
    "wsgi.multithread": false,
    "wsgi.multiprocess": options.multiprocess ?? false,
    "wsgi.run_once": false,
  };
  const peer = options.remoteAddr;
  if (peer !== undefined) {
    environ.REMOTE_ADDR = peer.hostname;
    environ.REMOTE_PORT = String(peer.port);
  }
  let host: string | undefined;
  let chunked = false;
  for (const [name, value] of request.headers) {
    if (name === "content-type") environ.CONTENT_TYPE = value;
    else if (name === "content-length") environ.CONTENT_LENGTH = value;
    else if (name.indexOf("_") !== -1) continue;
    else {
      if (name === "host") host = value;
      else if (name === "transfer-encoding") chunked = true;
      environ[httpKey(name)] = value;
    }
  }
  if (chunked && environ.CONTENT_LENGTH === undefined) environ["wsgi.input_terminated"] = true;
  if (options.serverName !== undefined && options.serverPort !== undefined) {
    environ.SERVER_NAME = options.serverName;
    environ.SERVER_PORT = options.serverPort;
  } else {
    const [name, port] = splitHost(host ?? target.authority, target.scheme);
    environ.SERVER_NAME = options.serverName ?? name;
    environ.SERVER_PORT = options.serverPort ?? port;
  }
  return environ;
}
