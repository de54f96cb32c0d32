/**
 * Behind a reverse proxy: take the client's address, scheme, host, port and
 * path prefix from the `X-Forwarded-*` headers of trusted proxies only
 * (Werkzeug's `ProxyFix`).
 *
 * Each option is the number of proxies in front of the app that set that
 * header. A proxy appends to `X-Forwarded-For`, so with `for: 1` the last
 * value is the one our own proxy saw; the values before it came from the
 * client and can say anything. With fewer values than trusted proxies, or
 * with the option at 0, the header is ignored. Never trust a header that no
 * proxy of yours sets: a client can send it.
 *
 * | option | header | sets |
 * |---|---|---|
 * | `for` (1) | `X-Forwarded-For` | `REMOTE_ADDR` |
 * | `proto` (1) | `X-Forwarded-Proto` | `wsgi.url_scheme` |
 * | `host` (0) | `X-Forwarded-Host` | `HTTP_HOST`, `SERVER_NAME`, `SERVER_PORT` |
 * | `port` (0) | `X-Forwarded-Port` | `HTTP_HOST`'s port, `SERVER_PORT` |
 * | `prefix` (0) | `X-Forwarded-Prefix` | `SCRIPT_NAME` |
 *
 * The values before the fix are kept in `environ["wsgi_deno.proxy_fix.orig"]`.
 *
 * @module
 */

import type { Application } from "./types.ts";

/** How many proxies set each header (see the module doc); Werkzeug's defaults. */
export interface ProxyFixOptions {
  /** Proxies that set `X-Forwarded-For`; 1 by default. */
  for?: number;
  /** Proxies that set `X-Forwarded-Proto`; 1 by default. */
  proto?: number;
  /** Proxies that set `X-Forwarded-Host`; 0 by default. */
  host?: number;
  /** Proxies that set `X-Forwarded-Port`; 0 by default. */
  port?: number;
  /** Proxies that set `X-Forwarded-Prefix`; 0 by default. */
  prefix?: number;
}

/** The environ key that keeps the values from before the fix. */
export const PROXY_FIX_ORIG = "wsgi_deno.proxy_fix.orig";

/** The value a trusted proxy `trusted` hops away wrote, or `undefined`. */
function realValue(trusted: number, value: unknown): string | undefined {
  if (!trusted || typeof value !== "string" || !value) return undefined;
  const values = value.split(",").map((v) => v.trim().replace(/^"(.*)"$/, "$1")).filter((v) =>
    v !== ""
  );
  return values.length >= trusted ? values[values.length - trusted] : undefined;
}

/** Whether a host has a port (`"h:80"`, `"[::1]:80"`; not `"[::1]"`). */
function hasPort(host: string): boolean {
  return host.includes(":") && !host.endsWith("]");
}

/**
 * Wraps an application so that it sees the client as the trusted proxies
 * saw it.
 *
 * @throws {RangeError} for a count that is not a non-negative integer
 *
 * @example
 * ```ts
 * import { proxyFix } from "./proxy_fix.ts";
 * import { toFetch } from "./gateway.ts";
 * const app = proxyFix((environ, start_response) => {
 *   start_response("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode(`${environ.REMOTE_ADDR} ${environ["wsgi.url_scheme"]}`)];
 * });
 * const response = await toFetch(app)(new Request("http://h/", {
 *   headers: { "X-Forwarded-For": "spoofed, 203.0.113.9", "X-Forwarded-Proto": "https" },
 * }));
 * console.assert(await response.text() === "203.0.113.9 https");
 * ```
 */
export function proxyFix(app: Application, options: ProxyFixOptions = {}): Application {
  const trust = {
    for: options.for ?? 1,
    proto: options.proto ?? 1,
    host: options.host ?? 0,
    port: options.port ?? 0,
    prefix: options.prefix ?? 0,
  };
  for (const [name, n] of Object.entries(trust)) {
    if (!Number.isInteger(n) || n < 0) {
      throw new RangeError(
        `Cannot fix proxy headers: "${name}" must be a number of proxies, 0 or more (got ${n})`,
      );
    }
  }
  return (environ, start_response) => {
    environ[PROXY_FIX_ORIG] = {
      REMOTE_ADDR: environ.REMOTE_ADDR,
      "wsgi.url_scheme": environ["wsgi.url_scheme"],
      HTTP_HOST: environ.HTTP_HOST,
      SERVER_NAME: environ.SERVER_NAME,
      SERVER_PORT: environ.SERVER_PORT,
      SCRIPT_NAME: environ.SCRIPT_NAME,
    };
    const forwardedFor = realValue(trust.for, environ.HTTP_X_FORWARDED_FOR);
    if (forwardedFor) environ.REMOTE_ADDR = forwardedFor;
    const proto = realValue(trust.proto, environ.HTTP_X_FORWARDED_PROTO);
    if (proto) environ["wsgi.url_scheme"] = proto;
    const host = realValue(trust.host, environ.HTTP_X_FORWARDED_HOST);
    if (host) {
      environ.HTTP_HOST = environ.SERVER_NAME = host;
      if (hasPort(host)) {
        const colon = host.lastIndexOf(":");
        environ.SERVER_NAME = host.slice(0, colon);
        environ.SERVER_PORT = host.slice(colon + 1);
      }
    }
    const port = realValue(trust.port, environ.HTTP_X_FORWARDED_PORT);
    if (port) {
      let current = environ.HTTP_HOST;
      if (typeof current === "string" && current) {
        if (hasPort(current)) current = current.slice(0, current.lastIndexOf(":"));
        environ.HTTP_HOST = `${current}:${port}`;
      }
      environ.SERVER_PORT = port;
    }
    const prefix = realValue(trust.prefix, environ.HTTP_X_FORWARDED_PREFIX);
    if (prefix) environ.SCRIPT_NAME = prefix;
    return app(environ, start_response);
  };
}
