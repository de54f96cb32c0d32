/**
 * The side port's handler: the routes of `ROUTES` (`./protocol.ts`, the one
 * table of them), each dispatched to its function here. The live stream is
 * `./stream.ts`; HAR is `./har.ts`.
 *
 * A replay is written over a raw TCP connection to the app's own listening
 * address, byte for byte the recorded request (its body as the client sent
 * it) or its edit, plus the `x-wsgi-inspector-replay` header, which links the
 * new exchange to its original (see `./replay.ts` and `./store.ts`). Its
 * answer lists how the request sent differs from the recorded one.
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
import type { Guard } from "./guard.ts";
import { matchRoute, type ReplayResult, type RouteName } from "./protocol.ts";
import { parseReplayRequest, planReplay, serializeRequest } from "./replay.ts";
import { sendRequest } from "./raw_http.ts";
import { exportHar } from "./har.ts";
import { importHar } from "./har_import.ts";
import { bodyFilter } from "./search.ts";
import { testFile, type TestImports } from "./test_export.ts";
import type { ServerLog } from "./server_log.ts";
import { contentSecurityPolicy } from "./csp.ts";
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
  /** Server-level events (the CLI's supervisor): `GET /api/server` and `server` stream messages. */
  server?: ServerLog;
  /** How an exported test file imports the app and `mod.ts` (`GET /api/exchanges/:id/test`). */
  testImports?: TestImports;
  /** The largest HAR file `POST /api/import` takes, in bytes; 256 MiB by default. */
  maxImportBytes?: number;
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
<li><a href="/api/exchanges">/api/exchanges</a> (newest first; <code>?method=&amp;status=&amp;q=&amp;body=&amp;limit=&amp;before=</code>)</li>
<li><code>/api/exchanges/:id</code>, <code>/api/exchanges/:id/har</code>, <code>/api/exchanges/:id/test</code>, <code>/api/exchanges/:id/stream</code> (one exchange's events, live)</li>
<li><a href="/api/har">/api/har</a> (HAR 1.2 of every exchange)</li>
<li><a href="/api/stream">/api/stream</a> (Server-Sent Events; <code>?events=none</code>: no events, the summaries only)</li>
</ul>
</body>
</html>
`;

/** Where an exported test finds the app and `mod.ts` when the inspector was not told. */
const DEFAULT_TEST_IMPORTS: TestImports = { app: "./app.ts", mod: "./mod.ts" };

/** The request's body, or undefined when it runs past `max` bytes. */
async function readCapped(request: Request, max: number): Promise<Uint8Array | undefined> {
  const declared = Number(request.headers.get("content-length"));
  if (declared > max) return undefined;
  const parts: Uint8Array[] = [];
  let size = 0;
  if (request.body === null) return new Uint8Array(0);
  for await (const part of request.body) {
    size += part.length;
    if (size > max) return undefined;
    parts.push(part);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

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
  const hub = new StreamHub(store, options.heartbeatMs ?? 15_000, options.server);
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
          headers: {
            "content-type": "text/html; charset=utf-8",
            ...SECURITY_HEADERS,
            "content-security-policy": await contentSecurityPolicy(PLACEHOLDER),
          },
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
    if (which === "js") {
      return new Response(built.js, {
        headers: { "content-type": "text/javascript; charset=utf-8", ...SECURITY_HEADERS },
      });
    }
    return new Response(built.html, {
      headers: {
        "content-type": "text/html; charset=utf-8",
        ...SECURITY_HEADERS,
        "content-security-policy": await contentSecurityPolicy(built.html),
      },
    });
  }

  function list(params: URLSearchParams): Response {
    try {
      const bodies = params.getAll("body");
      return json(store.list({
        match: bodies.length > 0 ? bodyFilter(bodies) : undefined,
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

  function har(exchanges: KeptExchange[], filename: string, one?: string): Response {
    // An exchange that cannot be exported is left out, said in the log's comment.
    const { har: document, leftOut } = exportHar(exchanges);
    if (one !== undefined && leftOut.length > 0) {
      return fail(500, `Cannot export exchange ${one} as HAR: ${leftOut[0]!.reason}`);
    }
    return json(document, 200, {
      "content-disposition": `attachment; filename="${filename}"`,
    });
  }

  function exportTest(exchange: KeptExchange): Response {
    let text: string;
    try {
      text = testFile(exchange.detail(), options.testImports ?? DEFAULT_TEST_IMPORTS);
    } catch (error) {
      if (error instanceof RangeError) return fail(409, error.message);
      throw error;
    }
    return new Response(text, {
      headers: {
        "content-type": "text/typescript; charset=utf-8",
        "content-disposition": `attachment; filename="exchange_${exchange.id}_test.ts"`,
        ...SECURITY_HEADERS,
      },
    });
  }

  async function importFile(request: Request): Promise<Response> {
    const max = options.maxImportBytes ?? 256 * 1024 * 1024;
    const bytes = await readCapped(request, max);
    if (bytes === undefined) {
      return fail(
        413,
        `Cannot import: the HAR file is larger than ${max} bytes; split it, or import fewer entries`,
      );
    }
    let har: unknown;
    try {
      har = JSON.parse(new TextDecoder().decode(bytes));
    } catch (error) {
      return fail(
        400,
        `Cannot import: the file is not JSON (${(error as Error).message}); a HAR file is JSON`,
      );
    }
    let result;
    try {
      result = importHar(store, har);
    } catch (error) {
      if (error instanceof TypeError) return fail(400, error.message);
      throw error;
    }
    if (result.ids.length === 0 && result.skipped.length > 0) {
      return json({ error: `Cannot import: no entry could be loaded`, ...result }, 400);
    }
    return json(result);
  }

  async function replay(request: Request, original: KeptExchange): Promise<Response> {
    const edit = parseReplayRequest(await request.text());
    if (typeof edit === "string") return fail(400, `Cannot replay: ${edit}`);
    const base = appUrl();
    if (base === undefined) {
      return fail(
        503,
        "Cannot replay: the inspector does not know the app's URL; start it with listen(appUrl)",
      );
    }
    // The request body as the client sent it: what the app read, and what was drained after.
    // (Also when the edit replaces it: the answer lists how the two differ.)
    const sent = original.requestBody();
    const keepsBody = edit.body === undefined && edit.bodyBase64 === undefined;
    if (keepsBody && !sent.complete) {
      return fail(
        409,
        `Cannot replay: the original body was captured only up to ${sent.bytes.length} of ${sent.size}${
          sent.bytes.length < sent.size ? "" : "+"
        } bytes; send the body in the replay request (body or bodyBase64), or raise --max-body-bytes`,
      );
    }
    const recorded = original.request;
    const plan = planReplay({
      method: recorded.method,
      target: recorded.target,
      headers: recorded.headers,
      body: sent.bytes,
    }, edit);
    if (typeof plan === "string") return fail(400, `Cannot replay: ${plan}`);
    const ticket = store.replayTicket(original.id);
    let status: number;
    try {
      const address = new URL(base);
      const response = await sendRequest(
        {
          hostname: address.hostname.replace(/^\[(.*)\]$/, "$1"),
          port: Number(address.port || 80),
        },
        serializeRequest(plan.request, ticket.header),
        { method: plan.request.method, timeoutMs: replayTimeoutMs },
      );
      status = response.status;
    } catch (error) {
      return fail(
        502,
        `Cannot replay: the app at ${base} did not answer (${
          error instanceof Error ? error.message : String(error)
        })`,
      );
    } finally {
      ticket.release();
    }
    const exchange = ticket.exchange;
    if (exchange === undefined) {
      return fail(
        502,
        `Replay answered ${status} but was not recorded: the server at ${base} refused the request before the app ran (Deno.serve answers some requests itself, such as a CONNECT or a malformed target, with a 400), or it does not record into this inspector`,
      );
    }
    const result: ReplayResult = { id: exchange.id, status, changes: plan.changes };
    return json(result);
  }

  function openStream(params: URLSearchParams): Response {
    const events = params.get("events") ?? "all";
    if (events !== "all" && events !== "none") {
      return fail(
        400,
        `Cannot open the stream: events must be "all" or "none" (got ${JSON.stringify(events)})`,
      );
    }
    return hub.open(events);
  }

  function openExchangeStream(exchange: KeptExchange, params: URLSearchParams): Response {
    const value = params.get("from");
    const from = value === null || value === "" ? 0 : Number(value);
    if (!Number.isInteger(from) || from < 0) {
      return fail(
        400,
        `Cannot open the exchange's stream: from must be an event index of at least 0 (got ${
          JSON.stringify(value)
        })`,
      );
    }
    return hub.openExchange(Number(exchange.id), from);
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
      withExchange(id, (e) => har([e], `wsgi-exchange-${e.id}.har`, e.id)),
    exchangeTest: (_request, { id }) => withExchange(id, exportTest),
    import: (request) => importFile(request),
    har: () => har([...store.exchanges()].reverse(), "wsgi-exchanges.har"),
    stream: (_request, _params, url) => openStream(url.searchParams),
    exchangeStream: (_request, { id }, url) =>
      withExchange(id, (e) => openExchangeStream(e, url.searchParams)),
    server: () => json(options.server?.state() ?? { generation: 0, loadError: null, events: [] }),
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
