/**
 * `wsgiref.util`, in TypeScript: small helpers every WSGI program needs.
 *
 * | here | wsgiref |
 * |---|---|
 * | {@linkcode guessScheme} | `guess_scheme(environ)` |
 * | {@linkcode applicationUri} | `application_uri(environ)` |
 * | {@linkcode requestUri} | `request_uri(environ, include_query=True)` |
 * | {@linkcode shiftPathInfo} | `shift_path_info(environ)` |
 * | {@linkcode setupTestingDefaults} | `setup_testing_defaults(environ)` |
 * | {@linkcode isHopByHop} | `is_hop_by_hop(header_name)` |
 * | `FileWrapper` (in `file_wrapper.ts`) | `FileWrapper(filelike, blksize=8192)` |
 *
 * Strings in the environ are "bytes as latin-1" (PEP 3333), so the URIs are
 * built by percent-encoding each char code as one byte, as wsgiref's
 * `quote(..., encoding="latin1")` does.
 *
 * @module
 */

import type { Environ, ErrorStream } from "./types.ts";
import { Input } from "./input.ts";
export { isHopByHop } from "./rules.ts";

/** What {@linkcode guessScheme} and friends read: any environ-like object. */
export type EnvironLike = Record<string, unknown>;

/**
 * Guesses `wsgi.url_scheme` from the CGI `HTTPS` variable: `"https"` when it
 * is `"yes"`, `"on"` or `"1"`, else `"http"` (wsgiref's `guess_scheme`).
 *
 * @example
 * ```ts
 * import { guessScheme } from "./util.ts";
 * console.assert(guessScheme({ HTTPS: "on" }) === "https");
 * console.assert(guessScheme({}) === "http");
 * ```
 */
export function guessScheme(environ: EnvironLike): "http" | "https" {
  const https = environ.HTTPS;
  return https === "yes" || https === "on" || https === "1" ? "https" : "http";
}

/** Bytes never percent-encoded by Python's `quote` (RFC 3986 unreserved). */
const UNRESERVED = /[A-Za-z0-9_.\-~]/;

/**
 * Percent-encodes a bytes-as-latin-1 string as Python's
 * `urllib.parse.quote(text, safe, encoding="latin1")`: every char code is one
 * byte, and bytes other than the unreserved ones and `safe` become `%XX`.
 * A char above U+00FF (not latin-1) is encoded as its UTF-8 bytes.
 */
export function quoteLatin1(text: string, safe = "/"): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const code = text.charCodeAt(i);
    if (code < 0x80 && (UNRESERVED.test(c) || safe.includes(c))) out += c;
    else if (code <= 0xff) out += "%" + code.toString(16).toUpperCase().padStart(2, "0");
    else {
      for (const byte of new TextEncoder().encode(c)) {
        out += "%" + byte.toString(16).toUpperCase().padStart(2, "0");
      }
    }
  }
  return out;
}

function text(environ: EnvironLike, key: string): string {
  const value = environ[key];
  return typeof value === "string" ? value : "";
}

/**
 * The application's base URI: scheme, host and `SCRIPT_NAME`, without
 * `PATH_INFO` or `QUERY_STRING` (wsgiref's `application_uri`). The host is
 * `HTTP_HOST`, else `SERVER_NAME` with `SERVER_PORT` when it is not the
 * scheme's default.
 *
 * @example
 * ```ts
 * import { applicationUri } from "./util.ts";
 * const uri = applicationUri({ "wsgi.url_scheme": "http", HTTP_HOST: "h:8000", SCRIPT_NAME: "/blog" });
 * console.assert(uri === "http://h:8000/blog");
 * ```
 */
export function applicationUri(environ: EnvironLike): string {
  const scheme = text(environ, "wsgi.url_scheme") || "http";
  let url = scheme + "://";
  const host = text(environ, "HTTP_HOST");
  if (host) url += host;
  else {
    url += text(environ, "SERVER_NAME");
    const port = text(environ, "SERVER_PORT");
    if (port !== (scheme === "https" ? "443" : "80")) url += ":" + port;
  }
  return url + quoteLatin1(text(environ, "SCRIPT_NAME") || "/");
}

/**
 * The full request URI, optionally with the query string (wsgiref's
 * `request_uri`). `PATH_INFO` is percent-encoded again (keeping `/;=,`), so a
 * `%2F` the client sent comes back as `/`; `RAW_URI` holds the target exactly
 * as received.
 *
 * @example
 * ```ts
 * import { requestUri } from "./util.ts";
 * const uri = requestUri({
 *   "wsgi.url_scheme": "http", HTTP_HOST: "h", SCRIPT_NAME: "/app",
 *   PATH_INFO: "/a b", QUERY_STRING: "x=1",
 * });
 * console.assert(uri === "http://h/app/a%20b?x=1");
 * ```
 */
export function requestUri(environ: EnvironLike, includeQuery = true): string {
  let url = applicationUri(environ);
  const pathInfo = quoteLatin1(text(environ, "PATH_INFO"), "/;=,");
  url += text(environ, "SCRIPT_NAME") ? pathInfo : pathInfo.slice(1);
  const query = text(environ, "QUERY_STRING");
  if (includeQuery && query) url += "?" + query;
  return url;
}

/** POSIX `normpath` for absolute-or-empty paths, as Python's `posixpath.normpath`. */
function normpath(path: string): string {
  if (path === "") return ".";
  const initial = path.startsWith("/")
    ? (path.startsWith("//") && !path.startsWith("///") ? 2 : 1)
    : 0;
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part !== ".." || (initial === 0 && parts.length === 0) || parts.at(-1) === "..") {
      parts.push(part);
    } else if (parts.length > 0) parts.pop();
  }
  const joined = "/".repeat(initial) + parts.join("/");
  return joined || ".";
}

/**
 * Moves one segment from `PATH_INFO` to `SCRIPT_NAME` and returns it
 * (wsgiref's `shift_path_info`); `null` when `PATH_INFO` is empty. Empty and
 * `.` segments are skipped, `..` moves `SCRIPT_NAME` up. When `PATH_INFO` is
 * just `/`, it returns `""` and `SCRIPT_NAME` gets a trailing `/`, so that an
 * application can tell `/x` from `/x/`. Changes `environ` in place.
 *
 * @example
 * ```ts
 * import { shiftPathInfo } from "./util.ts";
 * const environ = { SCRIPT_NAME: "/a", PATH_INFO: "/x/y" };
 * console.assert(shiftPathInfo(environ) === "x");
 * console.assert(environ.SCRIPT_NAME === "/a/x" && environ.PATH_INFO === "/y");
 * ```
 */
export function shiftPathInfo(environ: EnvironLike): string | null {
  const pathInfo = text(environ, "PATH_INFO");
  if (!pathInfo) return null;
  const parts = pathInfo.split("/");
  const middle = parts.slice(1, -1).filter((p) => p !== "" && p !== ".");
  const rest = [parts[0]!, ...middle, ...(parts.length > 1 ? [parts.at(-1)!] : [])];
  let name: string | null = rest[1] ?? "";
  rest.splice(1, 1);
  let scriptName = normpath(text(environ, "SCRIPT_NAME") + "/" + name);
  if (scriptName.endsWith("/")) scriptName = scriptName.slice(0, -1);
  if (!name && !scriptName.endsWith("/")) scriptName += "/";
  environ.SCRIPT_NAME = scriptName;
  environ.PATH_INFO = rest.join("/");
  // "/." is the last segment, so it was not filtered out above: it names nothing.
  if (name === ".") name = null;
  return name;
}

/**
 * A `wsgi.errors` that keeps what is written, as the `StringIO` of
 * {@linkcode setupTestingDefaults} does in wsgiref.
 */
export class ErrorBuffer implements ErrorStream {
  /** Everything written so far. */
  text = "";
  /** Appends text. */
  write(text: string): void {
    this.text += text;
  }
  /** Appends each string in turn. */
  writelines(lines: Iterable<string>): void {
    for (const line of lines) this.text += line;
  }
  /** Nothing to flush. */
  flush(): void {}
  /** What was written (Python's `StringIO.getvalue()`). */
  getvalue(): string {
    return this.text;
  }
}

/** `wsgi.version`, as the gateway shares it. */
const VERSION: readonly [1, 0] = Object.freeze([1, 0] as const);

/**
 * Fills in what a WSGI environ needs, for tests of applications and
 * middleware (wsgiref's `setup_testing_defaults`): only keys that are absent
 * are set, so a key given as `undefined` stays. Changes `environ` in place and
 * returns it.
 *
 * Sets `SERVER_NAME` (`127.0.0.1`), `SERVER_PROTOCOL` (`HTTP/1.0`),
 * `HTTP_HOST` (the server name), `REQUEST_METHOD` (`GET`), `SCRIPT_NAME`
 * (`""`) and `PATH_INFO` (`/`) when neither is given, the `wsgi.*` keys (an
 * empty `wsgi.input`, an {@linkcode ErrorBuffer} as `wsgi.errors`,
 * `wsgi.url_scheme` from {@linkcode guessScheme}), and `SERVER_PORT` (80 or
 * 443). Beyond wsgiref, `QUERY_STRING` (`""`), `SERVER_SOFTWARE` and
 * `GATEWAY_INTERFACE`, so that the result is a complete {@linkcode Environ}.
 *
 * @example
 * ```ts
 * import { setupTestingDefaults } from "./util.ts";
 * const environ = setupTestingDefaults({ PATH_INFO: "/hello" });
 * console.assert(environ.HTTP_HOST === "127.0.0.1" && environ.SERVER_PORT === "80");
 * ```
 */
export function setupTestingDefaults(environ: EnvironLike = {}): Environ {
  const setdefault = (key: string, value: unknown) => {
    if (!(key in environ)) environ[key] = value;
  };
  setdefault("SERVER_NAME", "127.0.0.1");
  setdefault("SERVER_PROTOCOL", "HTTP/1.0");
  setdefault("HTTP_HOST", environ.SERVER_NAME);
  setdefault("REQUEST_METHOD", "GET");
  if (!("SCRIPT_NAME" in environ) && !("PATH_INFO" in environ)) {
    environ.SCRIPT_NAME = "";
    environ.PATH_INFO = "/";
  }
  setdefault("QUERY_STRING", "");
  setdefault("SERVER_SOFTWARE", "wsgi-deno testing defaults");
  setdefault("GATEWAY_INTERFACE", "CGI/1.1");
  setdefault("wsgi.version", VERSION);
  setdefault("wsgi.run_once", false);
  setdefault("wsgi.multithread", false);
  setdefault("wsgi.multiprocess", false);
  setdefault("wsgi.input", new Input({ body: null }, 0));
  setdefault("wsgi.errors", new ErrorBuffer());
  setdefault("wsgi.url_scheme", guessScheme(environ));
  if (environ["wsgi.url_scheme"] === "http") setdefault("SERVER_PORT", "80");
  else if (environ["wsgi.url_scheme"] === "https") setdefault("SERVER_PORT", "443");
  return environ as Environ;
}
