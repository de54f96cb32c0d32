/**
 * The side port's routes: the page, the JSON API, the live stream, HAR export
 * and replay, as described in `./protocol.ts`.
 *
 * | route | answer |
 * |---|---|
 * | `GET /` | the page (HTML), loading `/app.js` |
 * | `GET /app.js` | the UI's JavaScript |
 * | `GET /api/exchanges?method=&status=&q=&limit=&before=` | `ExchangeList`, newest first |
 * | `GET /api/exchanges/:id` | `ExchangeDetail` |
 * | `GET /api/exchanges/:id/har` | HAR 1.2 of that exchange (a download) |
 * | `GET /api/har` | HAR 1.2 of every kept exchange, oldest first (a download) |
 * | `GET /api/stream` | Server-Sent Events, each `data:` one `StreamMessage` |
 * | `GET /api/server` | `ServerState`: the app's generation, load error, server-level events |
 * | `POST /api/clear` | `{ "cleared": n }` |
 * | `POST /api/exchanges/:id/replay` | body `ReplayRequest`, answers `ReplayResult` |
 *
 * The live stream sends an `exchange` message when an exchange arrives and
 * each time its summary changes (headers sent, end, abort): clients upsert by
 * `id`. Every recorded event follows as an `event` message. Messages are
 * batched every few milliseconds and serialized once for every client; a
 * comment line goes out every 15 s so that proxies keep the connection open.
 * A client that falls more than 8 MiB behind is disconnected (an
 * `EventSource` reconnects by itself; reload the list when it does).
 *
 * A replay is written over a raw TCP connection to the app's own listening
 * address, byte for byte the recorded request (or its edit) plus the
 * `x-wsgi-inspector-replay` header, which links the new exchange to its
 * original (see `./replay.ts` and `./store.ts`). Its answer lists how the
 * request sent differs from the recorded one.
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

import type { ExchangeStore, StoredExchange, StoreMessage } from "./store.ts";
import type { Guard } from "./guard.ts";
import type { ReplayResult, StreamMessage } from "./protocol.ts";
import { parseReplayRequest, planReplay, serializeRequest } from "./replay.ts";
import { sendRequest } from "./raw_http.ts";
import { toHar } from "./har.ts";
import type { ServerLog } from "./server_log.ts";
import { contentSecurityPolicy } from "./csp.ts";

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
}

/** The side port's handler. */
export interface InspectorApi {
  /** Answers one request to the side port. */
  fetch(request: Request): Promise<Response>;
  /** Ends every live stream (call it before shutting the server down). */
  close(): void;
}

/**
 * On every answer: no caching, no MIME sniffing, and no loading by another
 * origin (`Cross-Origin-Resource-Policy`), so that no other page can include
 * the API's JSON as a script or an image.
 */
const SECURITY_HEADERS: Record<string, string> = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "cross-origin-resource-policy": "same-origin",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
};

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

const encoder = new TextEncoder();

/** The live stream's clients, fed from the store in batches. */
class StreamHub {
  readonly #store: ExchangeStore;
  readonly #server: ServerLog | undefined;
  readonly #heartbeatMs: number;
  readonly #clients = new Set<ReadableStreamDefaultController<Uint8Array>>();
  #pending: StoreMessage[] = [];
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(store: ExchangeStore, heartbeatMs: number, server?: ServerLog) {
    this.#store = store;
    this.#heartbeatMs = heartbeatMs;
    this.#server = server;
  }

  #unsubscribeServer: (() => void) | undefined;

  /** Opens a stream for one client. */
  open(): Response {
    let client: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        client = controller;
        this.#add(controller);
        controller.enqueue(encoder.encode("retry: 1000\n: connected\n\n"));
      },
      cancel: () => this.#remove(client),
    }, new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }));
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        ...SECURITY_HEADERS,
        "x-accel-buffering": "no",
      },
    });
  }

  /** Ends every stream. */
  close(): void {
    for (const client of [...this.#clients]) {
      try {
        client.close();
      } catch {
        // Already closed or errored.
      }
      this.#remove(client);
    }
  }

  #add(client: ReadableStreamDefaultController<Uint8Array>): void {
    this.#clients.add(client);
    if (this.#clients.size > 1) return;
    this.#unsubscribe = this.#store.subscribe((message) => {
      this.#pending.push(message);
      this.#flushTimer ??= setTimeout(() => this.#flush(), 10);
    });
    // Rare: sent at once, each its own message.
    this.#unsubscribeServer = this.#server?.subscribe((event) => {
      const message: StreamMessage = { kind: "server", event };
      this.#send(encoder.encode(`data: ${JSON.stringify(message)}\n\n`));
    });
    this.#heartbeat = setInterval(
      () => this.#send(encoder.encode(": ping\n\n")),
      this.#heartbeatMs,
    );
  }

  #remove(client: ReadableStreamDefaultController<Uint8Array>): void {
    if (!this.#clients.delete(client) || this.#clients.size > 0) return;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#unsubscribeServer?.();
    this.#unsubscribeServer = undefined;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#pending = [];
  }

  /** Serializes the batch once and sends it to every client. */
  #flush(): void {
    this.#flushTimer = undefined;
    const messages = this.#pending;
    this.#pending = [];
    const announced = new Set<StoredExchange>();
    let text = "";
    for (const message of messages) {
      let out: StreamMessage;
      if (message.kind === "clear") out = message;
      else if (message.exchange.evicted) continue;
      else if (message.kind === "exchange") {
        // The latest summary, once per batch, where the exchange first appeared.
        if (announced.has(message.exchange)) continue;
        announced.add(message.exchange);
        out = { kind: "exchange", exchange: message.exchange.summary() };
      } else {
        out = {
          kind: "event",
          id: message.exchange.id,
          event: message.exchange.eventJson(message.index),
        };
      }
      text += `data: ${JSON.stringify(out)}\n\n`;
    }
    if (text !== "") this.#send(encoder.encode(text));
  }

  #send(bytes: Uint8Array): void {
    let first = true;
    for (const client of [...this.#clients]) {
      try {
        client.enqueue(first ? bytes : bytes.slice());
        first = false;
        // A client this far behind is cut; its EventSource reconnects and reloads.
        if ((client.desiredSize ?? 0) < -8 * 1024 * 1024) {
          client.close();
          this.#remove(client);
        }
      } catch {
        this.#remove(client);
      }
    }
  }
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

  function har(exchanges: StoredExchange[], filename: string): Response {
    const document = toHar(exchanges.map((e) => e.detail({ eventBytes: false })));
    return json(document, 200, {
      "content-disposition": `attachment; filename="${filename}"`,
    });
  }

  async function replay(request: Request, original: StoredExchange): Promise<Response> {
    const edit = parseReplayRequest(await request.text());
    if (typeof edit === "string") return fail(400, `Cannot replay: ${edit}`);
    const base = appUrl();
    if (base === undefined) {
      return fail(
        503,
        "Cannot replay: the inspector does not know the app's URL; start it with listen(appUrl)",
      );
    }
    if (
      edit.body === undefined && edit.bodyBase64 === undefined && original.input.truncated
    ) {
      return fail(
        409,
        `Cannot replay: the original body was captured only up to ${original.input.length} of ${original.input.size} bytes; send the body in the replay request (body or bodyBase64), or raise --max-body-bytes`,
      );
    }
    const plan = planReplay({
      method: original.method,
      target: original.target,
      headers: original.requestHeaders,
      body: original.input.slice(0),
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
        `Replay answered ${status} but was not recorded: the app at ${base} does not use this inspector's recorder`,
      );
    }
    const result: ReplayResult = { id: exchange.id, status, changes: plan.changes };
    return json(result);
  }

  async function route(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    const method = request.method;
    const read = method === "GET" || method === "HEAD";
    if (path === "/" || path === "/index.html") {
      return read ? servePage("html") : notAllowed("GET, HEAD");
    }
    if (path === "/app.js") return read ? servePage("js") : notAllowed("GET, HEAD");
    if (path === "/api/exchanges") return read ? list(url.searchParams) : notAllowed("GET, HEAD");
    if (path === "/api/har") {
      return read
        ? har([...store.exchanges()].reverse(), "wsgi-exchanges.har")
        : notAllowed("GET, HEAD");
    }
    if (path === "/api/stream") return method === "GET" ? hub.open() : notAllowed("GET");
    if (path === "/api/server") {
      if (!read) return notAllowed("GET, HEAD");
      return json(options.server?.state() ?? { generation: 0, loadError: null, events: [] });
    }
    if (path === "/api/clear") {
      return method === "POST" ? json({ cleared: store.clear() }) : notAllowed("POST");
    }
    const m = path.match(/^\/api\/exchanges\/([^/]+)(?:\/(har|replay))?$/);
    if (m) {
      const id = decodeURIComponent(m[1]!);
      const exchange = store.get(id);
      const action = m[2];
      if (action === "replay" ? method !== "POST" : !read) {
        return notAllowed(action === "replay" ? "POST" : "GET, HEAD");
      }
      if (exchange === undefined) {
        return fail(
          404,
          `No exchange ${
            JSON.stringify(id)
          }: it was never recorded, or was dropped (cleared, or older than the last ${store.maxExchanges})`,
        );
      }
      if (action === "har") return har([exchange], `wsgi-exchange-${exchange.id}.har`);
      if (action === "replay") return await replay(request, exchange);
      return json(exchange.detail());
    }
    return fail(404, `Not found: ${path}; the API is under /api/ (see /)`);
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
