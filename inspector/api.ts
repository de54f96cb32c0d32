/**
 * The side port's handler: the routes of `ROUTES` (`./protocol.ts`, the one
 * table of them), each dispatched to its function here. The live stream is
 * `./stream.ts`; HAR is `./har.ts`.
 *
 * A replay is sent with `fetch` to the app's real port, with the original's
 * method, target, headers and body (the request body as the client sent it)
 * unless the request edits them (`Host`, `Content-Length` and hop-by-hop
 * headers are left to `fetch`). It carries the `x-wsgi-inspector-replay`
 * header, which links the new exchange to its original (see `./store.ts`).
 *
 * Errors are JSON `{ "error": "..." }`. Every route runs behind the guard
 * (`./guard.ts`) when one is given.
 *
 * @example
 * ```ts
 * import { createApi } from "./api.ts";
 * import { ExchangeStore } from "./store.ts";
 *
 * const api = createApi({ store: new ExchangeStore() });
 * const response = await api.fetch(new Request("http://127.0.0.1:8001/api/exchanges"));
 * console.assert((await response.json()).total === 0);
 * api.close();
 * ```
 *
 * @module
 */

import type { ExchangeStore, KeptExchange } from "./store.ts";
import { REPLAY_HEADER } from "./store.ts";
import type { Guard } from "./guard.ts";
import { matchRoute, type ReplayRequest, type ReplayResult, type RouteName } from "./protocol.ts";
import { toHar } from "./har.ts";
import { SECURITY_HEADERS, StreamHub } from "./stream.ts";

/** The page: its HTML shell and the UI's JavaScript, served at `/` and `/app.js`. */
export interface Page {
  html: string;
  js: string;
}

/** Options of {@linkcode createApi}. */
export interface ApiOptions {
  /** The exchanges to serve. */
  store: ExchangeStore;
  /** Checks Host, Origin and token before any route; none in in-memory tests. */
  guard?: Guard;
  /** Where replays go: the app server's URL (`http://127.0.0.1:8000`). */
  appUrl?: string | (() => string | undefined);
  /**
   * Builds the page (bundles the UI). Called once at creation, to warm up,
   * then for every request of `/` and `/app.js`: it keeps its own cache, and
   * rebuilds when the sources changed, so the page is never stale (the UI's
   * `bundleUi()` does). Without it, `/` serves a placeholder that lists the API.
   */
  page?: () => Promise<Page>;
  /** Milliseconds between the stream's keep-alive comments; 15,000 by default. */
  heartbeatMs?: number;
  /** Milliseconds a replay may take before it is cut; 30,000 by default. */
  replayTimeoutMs?: number;
}

/** The side port's handler. */
export interface InspectorApi {
  /** Answers one request to the side port. */
  fetch(request: Request): Promise<Response>;
  /** Ends every live stream (call it before shutting the server down). */
  close(): void;
}

function json(data: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(data), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...SECURITY_HEADERS, ...headers },
  });
}

const fail = (status: number, error: string, headers?: Record<string, string>) =>
  json({ error }, status, headers);

const notAllowed = (allow: string) =>
  fail(405, `Method not allowed here; use ${allow.replace(", HEAD", "")}`, { allow });

const PLACEHOLDER = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="color-scheme" content="light dark"><title>WSGI inspector</title></head>
<body>
<h1>WSGI inspector</h1>
<p>The page is not built into this inspector. The JSON API is here:</p>
<ul>
<li><a href="/api/exchanges">/api/exchanges</a> (newest first; <code>?method=&amp;status=&amp;q=&amp;limit=&amp;before=</code>)</li>
<li><code>/api/exchanges/:id</code>, <code>/api/exchanges/:id/har</code></li>
<li><a href="/api/har">/api/har</a> (HAR 1.2 of every exchange)</li>
<li><a href="/api/stream">/api/stream</a> (Server-Sent Events)</li>
</ul>
</body>
</html>
`;

/** An integer query parameter of at least 1, or undefined when absent. */
function integerParam(params: URLSearchParams, name: string): number | undefined {
  const value = params.get(name);
  if (value === null || value === "") return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(
      `Cannot list exchanges: ${name} must be an integer of at least 1 (got ${
        JSON.stringify(value)
      })`,
    );
  }
  return n;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Headers a replay leaves to `fetch`: framing, hop-by-hop, and the link it sets itself. */
const REPLAY_SKIP = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "trailer",
  "proxy-connection",
  "expect",
  REPLAY_HEADER,
]);
const encoder = new TextEncoder();

/** Validates a replay request body; returns the edit, or the reason it is wrong. */
function parseReplay(text: string): ReplayRequest | string {
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
  if (typeof edit.method === "string" && !TOKEN.test(edit.method)) {
    return `method must be an HTTP token like "POST" (got ${JSON.stringify(edit.method)})`;
  }
  if (
    typeof edit.target === "string" &&
    (!edit.target.startsWith("/") || edit.target.startsWith("//"))
  ) {
    return `target must be a path and query starting with one "/" (got ${
      JSON.stringify(edit.target)
    })`;
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
 * Creates the side port's handler over a store.
 *
 * @example
 * ```ts
 * import { createApi } from "./api.ts";
 * import { ExchangeStore } from "./store.ts";
 * import { Guard } from "./guard.ts";
 *
 * const api = createApi({
 *   store: new ExchangeStore(),
 *   guard: new Guard({ hostname: "127.0.0.1", port: 8001 }),
 * });
 * const refused = await api.fetch(
 *   new Request("http://127.0.0.1:8001/api/clear", {
 *     method: "POST",
 *     headers: { host: "127.0.0.1:8001" },
 *   }),
 * );
 * console.assert(refused.status === 403); // no Origin: CSRF protection
 * await refused.body?.cancel();
 * api.close();
 * ```
 */
export function createApi(options: ApiOptions): InspectorApi {
  const { store, guard } = options;
  const hub = new StreamHub(store, options.heartbeatMs ?? 15_000);
  const replayTimeoutMs = options.replayTimeoutMs ?? 30_000;
  const appUrl = typeof options.appUrl === "function"
    ? options.appUrl
    : () => options.appUrl as string | undefined;

  // Build the page now, so that the first visit does not wait; a failure shows on that visit.
  options.page?.().catch(() => {});

  async function servePage(which: "html" | "js"): Promise<Response> {
    if (options.page === undefined) {
      return which === "html"
        ? new Response(PLACEHOLDER, {
          headers: { "content-type": "text/html; charset=utf-8", ...SECURITY_HEADERS },
        })
        : fail(404, "No page is built into this inspector; use the JSON API under /api/");
    }
    let built: Page;
    try {
      built = await options.page();
    } catch (error) {
      const message = `Cannot build the inspector page: ${
        error instanceof Error ? error.message : String(error)
      }`;
      console.error(message);
      return new Response(message, {
        status: 500,
        headers: { "content-type": "text/plain; charset=utf-8", ...SECURITY_HEADERS },
      });
    }
    return new Response(built[which], {
      headers: {
        "content-type": which === "html"
          ? "text/html; charset=utf-8"
          : "text/javascript; charset=utf-8",
        ...SECURITY_HEADERS,
      },
    });
  }

  function list(params: URLSearchParams): Response {
    try {
      return json(store.list({
        method: params.get("method") ?? undefined,
        status: params.get("status") ?? undefined,
        q: params.get("q") ?? undefined,
        limit: integerParam(params, "limit"),
        before: integerParam(params, "before"),
      }));
    } catch (error) {
      if (error instanceof RangeError) return fail(400, error.message);
      throw error;
    }
  }

  function har(exchanges: KeptExchange[], filename: string): Response {
    const document = toHar(exchanges.map((e) => e.detail()));
    return json(document, 200, {
      "content-disposition": `attachment; filename="${filename}"`,
    });
  }

  async function replay(request: Request, original: KeptExchange): Promise<Response> {
    const edit = parseReplay(await request.text());
    if (typeof edit === "string") return fail(400, `Cannot replay: ${edit}`);
    const base = appUrl();
    if (base === undefined) {
      return fail(
        503,
        "Cannot replay: the inspector does not know the app's URL; start it with listen(appUrl)",
      );
    }
    const recorded = original.request;
    const method = edit.method ?? recorded.method;
    const target = edit.target ?? recorded.target;
    let body: Uint8Array<ArrayBuffer>;
    if (edit.body !== undefined) body = encoder.encode(edit.body);
    else if (edit.bodyBase64 !== undefined) {
      try {
        body = Uint8Array.fromBase64(edit.bodyBase64);
      } catch {
        return fail(400, "Cannot replay: bodyBase64 is not valid base64");
      }
    } else {
      const sent = original.requestBody();
      if (!sent.complete) {
        return fail(
          409,
          `Cannot replay: the original body was captured only up to ${sent.bytes.length} of ${sent.size}${
            sent.bytes.length < sent.size ? "" : "+"
          } bytes; send the body in the replay request (body or bodyBase64), or raise --max-body-bytes`,
        );
      }
      body = sent.bytes;
    }
    const upper = method.toUpperCase();
    if ((upper === "GET" || upper === "HEAD") && body.length > 0) {
      return fail(
        400,
        `Cannot replay: a ${upper} request cannot carry a body (got ${body.length} bytes); change the method or send body ""`,
      );
    }
    const headers = new Headers();
    for (const [name, value] of edit.headers ?? recorded.headers) {
      if (!REPLAY_SKIP.has(name.toLowerCase())) headers.append(name, value);
    }
    const ticket = store.replayTicket(original.id);
    headers.set(ticket.header[0], ticket.header[1]);
    const abort = new AbortController();
    const timer = setTimeout(
      () => abort.abort(new Error(`no complete answer within ${replayTimeoutMs} ms`)),
      replayTimeoutMs,
    );
    let status: number;
    try {
      const response = await fetch(new URL(target, base), {
        method,
        headers,
        body: body.length > 0 ? body : undefined,
        redirect: "manual",
        signal: abort.signal,
      });
      status = response.status;
      try {
        // Read it all, so that the new exchange is complete when we answer.
        for await (const _ of response.body ?? []) { /* discard */ }
      } catch {
        // Cut or timed out: the exchange is recorded as such.
      }
    } catch (error) {
      return fail(
        502,
        `Cannot replay: the app at ${base} did not answer (${
          error instanceof Error ? error.message : String(error)
        })`,
      );
    } finally {
      clearTimeout(timer);
      ticket.release();
    }
    const exchange = ticket.exchange;
    if (exchange === undefined) {
      return fail(
        502,
        `Replay answered ${status} but was not recorded: the app at ${base} does not use this inspector's recorder`,
      );
    }
    const result: ReplayResult = { id: exchange.id, status };
    return json(result);
  }

  /** Runs `fn` on the kept exchange `id`, or answers 404. */
  function withExchange(
    id: string | undefined,
    fn: (exchange: KeptExchange) => Response | Promise<Response>,
  ): Response | Promise<Response> {
    const exchange = store.get(id ?? "");
    if (exchange === undefined) {
      return fail(
        404,
        `No exchange ${
          JSON.stringify(id)
        }: it was never recorded, or was dropped (cleared, older than the last ${store.maxExchanges}, or past the memory budget)`,
      );
    }
    return fn(exchange);
  }

  type Handler = (
    request: Request,
    params: { id?: string },
    url: URL,
  ) => Response | Promise<Response>;

  /** One function per route of `ROUTES`. */
  const handlers: Record<RouteName, Handler> = {
    page: () => servePage("html"),
    script: () => servePage("js"),
    list: (_request, _params, url) => list(url.searchParams),
    detail: (_request, { id }) => withExchange(id, (e) => json(e.detail())),
    exchangeHar: (_request, { id }) =>
      withExchange(id, (e) => har([e], `wsgi-exchange-${e.id}.har`)),
    har: () => har([...store.exchanges()].reverse(), "wsgi-exchanges.har"),
    stream: () => hub.open(),
    clear: () => json({ cleared: store.clear() }),
    replay: (request, { id }) => withExchange(id, (e) => replay(request, e)),
  };

  async function route(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const found = matchRoute(request.method, url.pathname);
    if (found === undefined) {
      return fail(404, `Not found: ${url.pathname}; the API is under /api/ (see /)`);
    }
    if (found.route === undefined) return notAllowed(found.allow);
    return await handlers[found.route.name](request, found.params, url);
  }

  return {
    async fetch(request) {
      const refused = guard?.check(request);
      if (refused) {
        await request.body?.cancel();
        return refused;
      }
      try {
        return await route(request);
      } catch (error) {
        console.error(error);
        return fail(
          500,
          `Inspector error: ${error instanceof Error ? error.message : String(error)}`,
        );
      } finally {
        if (!request.bodyUsed) await request.body?.cancel().catch(() => {});
      }
    },
    close: () => hub.close(),
  };
}
