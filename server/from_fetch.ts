/**
 * Fetch handlers as WSGI applications: `fromFetch(handler)` runs a Hono app,
 * an Oak app's handler, or a plain `(request) => Response` under the WSGI
 * gateway, so the CLI serves it and the inspector records its exchanges (the
 * environ; the status, the headers and every streamed chunk).
 *
 * The opposite of `toFetch`. The environ becomes a `Request`:
 *
 * - the URL is `wsgi.url_scheme`, `HTTP_HOST` (else `SERVER_NAME` and
 *   `SERVER_PORT`), then the path: `RAW_URI` as the client sent it when
 *   nothing re-rooted the request, else `SCRIPT_NAME` + `PATH_INFO`
 *   percent-encoded again, and `QUERY_STRING`. A handler sees the whole path,
 *   so one mounted under `/api` routes on `/api/...` (Hono's `basePath`);
 * - every `HTTP_*` key becomes a header (`HTTP_X_TRACE_ID` → `x-trace-id`),
 *   and `CONTENT_TYPE` and `CONTENT_LENGTH` theirs;
 * - the body streams from `wsgi.input` as the handler reads it;
 * - the second argument is what `Deno.serve` gives: `{ remoteAddr, completed }`
 *   from `REMOTE_ADDR` and `REMOTE_PORT`.
 *
 * The `Response` goes back through `start_response` (its status with the
 * standard reason phrase, its headers less the hop-by-hop ones that WSGI
 * leaves to the server) and its body is yielded chunk by chunk as the client
 * reads it. WebSocket upgrades (status 101) are not carried.
 *
 * @module
 */

import type { Application, Environ, Header, ResponseBody } from "./types.ts";
import { isHopByHop } from "./rules.ts";
import { quoteLatin1 } from "./util.ts";
import { decodePathInfo } from "./environ.ts";

/** What `Deno.serve` passes a handler besides the request, rebuilt from the environ. */
export interface FetchInfo {
  /** The peer, from `REMOTE_ADDR` and `REMOTE_PORT` (port 0 when unknown). */
  remoteAddr: Deno.NetAddr;
  /** Resolves when the response was sent (when the gateway called `close()`). */
  completed: Promise<void>;
}

/** Any fetch handler: `(request, info?) => Response`, sync or async. */
export type AnyFetchHandler = (
  request: Request,
  info: FetchInfo,
) => Response | Promise<Response>;

/** Bytes read from `wsgi.input` per pull of the request body. */
const READ_SIZE = 64 * 1024;

function str(environ: Environ, key: string): string {
  const value = environ[key];
  return typeof value === "string" ? value : "";
}

/** The request URL of an environ: see the module doc. */
export function environUrl(environ: Environ): string {
  const scheme = str(environ, "wsgi.url_scheme") || "http";
  let host = str(environ, "HTTP_HOST");
  if (!host || /[/?#@\\\s]/.test(host)) {
    host = str(environ, "SERVER_NAME") || "localhost";
    if (host.includes(":") && !host.startsWith("[")) host = `[${host}]`;
    const port = str(environ, "SERVER_PORT");
    if (port && port !== (scheme === "https" ? "443" : "80")) host += `:${port}`;
  }
  const decoded = str(environ, "SCRIPT_NAME") + str(environ, "PATH_INFO");
  const raw = str(environ, "RAW_URI");
  const rawPath = raw.split("?", 1)[0]!;
  const path = raw && rawPath.startsWith("/") && decodePathInfo(rawPath) === decoded
    ? rawPath
    : quoteLatin1(decoded || "/", "/;=,:@!$&'()*+~");
  const query = str(environ, "QUERY_STRING");
  const base = `${scheme}://${host}`;
  try {
    return new URL(`${path}${query ? `?${query}` : ""}`, base).href;
  } catch {
    return new URL(`${path}${query ? `?${query}` : ""}`, `${scheme}://localhost`).href;
  }
}

/** The request headers of an environ. */
function environHeaders(environ: Environ): Headers {
  const headers = new Headers();
  for (const key in environ) {
    if (!key.startsWith("HTTP_")) continue;
    const value = environ[key];
    if (typeof value === "string") {
      headers.set(key.slice(5).toLowerCase().replaceAll("_", "-"), value);
    }
  }
  if (typeof environ.CONTENT_TYPE === "string" && environ.CONTENT_TYPE) {
    headers.set("content-type", environ.CONTENT_TYPE);
  }
  if (typeof environ.CONTENT_LENGTH === "string" && environ.CONTENT_LENGTH) {
    headers.set("content-length", environ.CONTENT_LENGTH);
  }
  return headers;
}

/** `wsgi.input` as a request body stream, or `null` when the request has none. */
function environBody(environ: Environ, method: string): ReadableStream<Uint8Array> | null {
  if (method === "GET" || method === "HEAD") return null;
  const length = environ.CONTENT_LENGTH;
  const hasBody = length ? length !== "0" : environ["wsgi.input_terminated"] === true;
  if (!hasBody) return null;
  const input = environ["wsgi.input"];
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = await input.read(READ_SIZE);
      if (chunk.length === 0) controller.close();
      else controller.enqueue(chunk);
    },
  }, { highWaterMark: 0 });
}

/** Builds the `Request` a fetch handler gets for an environ. */
export function environRequest(environ: Environ): Request {
  const method = str(environ, "REQUEST_METHOD") || "GET";
  const body = environBody(environ, method);
  return new Request(environUrl(environ), {
    method,
    headers: environHeaders(environ),
    body,
    ...(body ? { duplex: "half" } : {}),
  } as RequestInit);
}

/** The response's headers as WSGI pairs, without hop-by-hop ones. */
function responseHeaders(response: Response): Header[] {
  const out: Header[] = [];
  response.headers.forEach((value, name) => {
    if (!isHopByHop(name)) out.push([name, value]);
  });
  return out;
}

/** Yields a response body's chunks; `close()` cancels what was not read. */
function responseBody(stream: ReadableStream<Uint8Array>, done: () => void): ResponseBody {
  const reader = stream.getReader();
  let finished = false;
  async function* chunks(): AsyncGenerator<Uint8Array, void, undefined> {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        finished = true;
        return;
      }
      yield value;
    }
  }
  const body = chunks() as AsyncGenerator<Uint8Array, void, undefined> & ResponseBody;
  body.close = async () => {
    try {
      if (!finished) await reader.cancel();
    } finally {
      done();
    }
  };
  return body;
}

/** `STATUS_CODES` of `node:http`, once loaded. */
let reasons: Record<number, string | undefined> | undefined;

/**
 * Loads the reason phrases on first use: `node:http` costs ~8 MiB of
 * resident memory, in each process of the CLI (the toolkit is part of both),
 * whether or not a fetch handler is served.
 */
async function loadReasons(): Promise<Record<number, string | undefined>> {
  reasons ??= (await import("node:http")).STATUS_CODES;
  return reasons;
}

/**
 * Makes a WSGI application of a fetch handler (or an object with a `fetch`
 * method, such as a Hono app or `export default { fetch }`).
 *
 * @throws {TypeError} when `handler` is neither a function nor has a `fetch` method
 *
 * @example
 * ```ts
 * import { fromFetch } from "./from_fetch.ts";
 * import { toFetch } from "./gateway.ts";
 * const app = fromFetch((request) => new Response(`you asked for ${new URL(request.url).pathname}`));
 * const response = await toFetch(app)(new Request("http://localhost/a%20b"));
 * console.assert(await response.text() === "you asked for /a%20b");
 * ```
 */
export function fromFetch(
  handler: AnyFetchHandler | { fetch: AnyFetchHandler },
): Application {
  const fetch = typeof handler === "function"
    ? handler
    : typeof (handler as { fetch?: unknown } | null)?.fetch === "function"
    ? (request: Request, info: FetchInfo) => handler.fetch(request, info)
    : undefined;
  void loadReasons();
  if (fetch === undefined) {
    throw new TypeError(
      `Cannot serve fetch handler: expected a function (request) => Response, or an object with a fetch method (got ${
        handler === null ? "null" : typeof handler
      })`,
    );
  }
  return async (environ, start_response) => {
    let completed!: () => void;
    const info: FetchInfo = {
      remoteAddr: {
        transport: "tcp",
        hostname: str(environ, "REMOTE_ADDR"),
        port: Number(str(environ, "REMOTE_PORT")) || 0,
      },
      completed: new Promise<void>((resolve) => (completed = resolve)),
    };
    const response = await fetch(environRequest(environ), info);
    if (!(response instanceof Response)) {
      throw new TypeError(
        `Cannot send response: the fetch handler must return a Response (got ${
          response === null ? "null" : typeof response
        })`,
      );
    }
    const reason = response.statusText ||
      (reasons ?? await loadReasons())[response.status] || "Unknown";
    start_response(`${response.status} ${reason}`, responseHeaders(response));
    if (response.body === null) {
      completed();
      return [];
    }
    return responseBody(response.body, completed);
  };
}
