/**
 * Every conversation the page has with the side port: the list, one
 * exchange, clear, replay, HAR downloads and the live streams (the list's,
 * without timeline events, and the open pending exchange's own). Nothing else in
 * the UI calls `fetch`; the routes and shapes are those of `../protocol.ts`.
 *
 * **The access token** (token mode, when the inspector is bound beyond
 * loopback): the page is opened as `/?token=...`. {@linkcode pageToken}
 * reads it once, keeps it in `sessionStorage` (per origin and tab: the app,
 * on another port, cannot read it), and removes it from the address bar
 * with `history.replaceState`. Every request then carries it as
 * `Authorization: Bearer`, never as a cookie (cookies ignore ports, so the
 * browser would send a cookie to the app too, into every recording) and
 * never in a URL. So the live stream is read with `fetch` and parsed here
 * (an `EventSource` cannot send headers), and a HAR download is fetched and
 * handed to the browser as a `blob:` URL.
 *
 * @module
 */

import type {
  ExchangeDetail,
  ExchangeList,
  ExchangeSummary,
  ImportResult,
  ReplayRequest,
  ReplayResult,
  ServerState,
  StreamMessage,
} from "../protocol.ts";

/** Filters and paging of the exchange list (see `GET /api/exchanges`). */
export interface ListQuery {
  method?: string;
  status?: string;
  q?: string;
  /** Texts the request or response body must hold (each one). */
  body?: string[];
  limit?: number;
  /** Only exchanges with a smaller `seq`: the next page. */
  before?: number;
}

/** The state of the live stream, for the connection indicator. */
export type StreamStatus = "connecting" | "live" | "reconnecting";

/** Callbacks of {@linkcode ApiClient.stream}. */
export interface StreamHandlers {
  onMessage(message: StreamMessage): void;
  onStatus(status: StreamStatus): void;
  /** The stream (re)opened: anything sent while it was down was missed. */
  onOpen?(): void;
}

/** Callbacks of {@linkcode ApiClient.streamExchange}. */
export interface ExchangeStreamHandlers {
  onMessage(message: StreamMessage): void;
  /** The stream ended: `complete` when the side port closed it, false when it failed. */
  onEnd(complete: boolean): void;
}

/** A failed request to the side port, with its status. */
export class ApiError extends Error {
  /** The HTTP status (0 when the request did not reach the server). */
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = "ApiError";
    this.status = status;
  }
}

/** The side port's API, as the page uses it. */
export interface ApiClient {
  /** One page of the list, newest first. */
  list(query?: ListQuery): Promise<ExchangeList>;
  /** Every kept exchange, newest first, fetched page by page, and the store's capacity. */
  listAll(): Promise<{ exchanges: ExchangeSummary[]; maxExchanges: number | undefined }>;
  /** One exchange with its events and bodies. */
  get(id: string): Promise<ExchangeDetail>;
  /** Forgets every exchange; resolves to how many were dropped. */
  clear(): Promise<number>;
  /** Re-sends a recorded request (optionally edited) through the app. */
  replay(id: string, edit?: ReplayRequest): Promise<ReplayResult>;
  /** Where the HAR of one exchange, or of all when no id is given, is served (no token in it). */
  harUrl(id?: string): string;
  /** Downloads that HAR as a file named `filename` (fetched with the token). */
  downloadHar(id: string | undefined, filename: string): Promise<void>;
  /** Downloads an exchange as a `deno test` file (`exchange_ID_test.ts`). */
  downloadTest(id: string): Promise<void>;
  /** Loads a HAR file's entries into the store (`POST /api/import`). */
  importHar(file: Blob): Promise<ImportResult>;
  /**
   * Opens the list's live stream (summaries, evictions, clears, server
   * events: no timeline events); returns the function that closes it.
   */
  stream(handlers: StreamHandlers): () => void;
  /**
   * Opens one exchange's stream: its events from index `from`, then live,
   * until its end (`onEnd(true)`) or a cut (`onEnd(false)`); returns the
   * function that closes it (after which nothing is called).
   */
  streamExchange(id: string, from: number, handlers: ExchangeStreamHandlers): () => void;
  /** The server's state under the CLI: generation, load error, server-level events. */
  server(): Promise<ServerState>;
}

const PAGE = 500;
const TOKEN_KEY = "wsgi-inspector-token";

/**
 * The access token of this page: from `?token=` in the address (then kept
 * in `sessionStorage` and removed from the address bar), else from
 * `sessionStorage`, else null (no token mode, or not opened from the URL
 * printed at start).
 */
export function pageToken(): string | null {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl !== null) {
    try {
      sessionStorage.setItem(TOKEN_KEY, fromUrl);
    } catch {
      // Storage refused (private mode): the token lives as long as the page.
    }
    url.searchParams.delete("token");
    history.replaceState(history.state, "", url.pathname + url.search + url.hash);
    return fromUrl;
  }
  try {
    return sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

/** Splits Server-Sent Events text into the `data` of each complete event; returns the rest. */
export function parseSse(buffer: string, onData: (data: string) => void): string {
  buffer = buffer.replace(/\r\n/g, "\n");
  let end;
  while ((end = buffer.indexOf("\n\n")) !== -1) {
    const data: string[] = [];
    for (const line of buffer.slice(0, end).split("\n")) {
      if (line.startsWith("data:")) data.push(line.slice(line.startsWith("data: ") ? 6 : 5));
    }
    buffer = buffer.slice(end + 2);
    if (data.length > 0) onData(data.join("\n"));
  }
  return buffer;
}

/**
 * Creates the client for the side port at `base` (the page's own origin by
 * default), sending `token` (the page's, by default) on every request.
 */
export function createApiClient(
  base: string = location.origin,
  token: string | null = pageToken(),
): ApiClient {
  const url = (
    path: string,
    params: Record<string, string | number | string[] | undefined> = {},
  ) => {
    const u = new URL(path, base);
    for (const [k, v] of Object.entries(params)) {
      if (Array.isArray(v)) { for (const item of v) u.searchParams.append(k, item); }
      else if (v !== undefined && v !== "") u.searchParams.set(k, String(v));
    }
    return u.href;
  };
  const auth = (headers: Record<string, string> = {}): Record<string, string> =>
    token ? { ...headers, authorization: `Bearer ${token}` } : headers;

  async function request(path: string, init: RequestInit = {}, params?: ListQuery) {
    let response: Response;
    try {
      response = await fetch(url(path, { ...params }), {
        ...init,
        headers: auth(init.headers as Record<string, string> | undefined),
      });
    } catch (error) {
      throw new ApiError(`Cannot reach the inspector: ${(error as Error).message}`, 0);
    }
    if (!response.ok) {
      const text = await response.text().catch(() => "");
      let message = text;
      try {
        const parsed = JSON.parse(text);
        if (parsed && typeof parsed.error === "string") message = parsed.error;
      } catch { /* not JSON */ }
      throw new ApiError(message || `${response.status} ${response.statusText}`, response.status);
    }
    return response;
  }

  const json = async <T>(path: string, init?: RequestInit, params?: ListQuery): Promise<T> =>
    await (await request(path, init, params)).json() as T;

  const post = (body?: unknown): RequestInit => ({
    method: "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? "{}" : JSON.stringify(body),
  });

  const harPath = (id?: string) =>
    id === undefined ? "/api/har" : `/api/exchanges/${encodeURIComponent(id)}/har`;

  /** Fetches `path` with the token and hands it to the browser as a download named `filename`. */
  async function download(path: string, filename: string) {
    const blob = await (await request(path)).blob();
    const href = URL.createObjectURL(blob);
    const link = document.createElement("a");
    link.href = href;
    link.download = filename;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(href), 60_000);
  }

  return {
    list: (query = {}) => json<ExchangeList>("/api/exchanges", undefined, query),
    server: () => json<ServerState>("/api/server"),
    async listAll() {
      const all: ExchangeSummary[] = [];
      let before: number | undefined;
      for (;;) {
        const page = await json<ExchangeList>("/api/exchanges", undefined, { limit: PAGE, before });
        all.push(...page.exchanges);
        const last = page.exchanges.at(-1);
        if (!last || page.exchanges.length < PAGE || all.length >= page.total) {
          return { exchanges: all, maxExchanges: page.maxExchanges };
        }
        before = last.seq;
      }
    },
    get: (id) => json<ExchangeDetail>(`/api/exchanges/${encodeURIComponent(id)}`),
    async clear() {
      const result = await json<{ cleared: number }>("/api/clear", post());
      return result.cleared;
    },
    replay: (id, edit = {}) =>
      json<ReplayResult>(`/api/exchanges/${encodeURIComponent(id)}/replay`, post(edit)),
    harUrl: (id) => url(harPath(id)),
    downloadHar: (id, filename) => download(harPath(id), filename),
    downloadTest: (id) =>
      download(`/api/exchanges/${encodeURIComponent(id)}/test`, `exchange_${id}_test.ts`),
    importHar: (file) =>
      json<ImportResult>("/api/import", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: file,
      }),
    stream(handlers) {
      let closed = false;
      let controller: AbortController | undefined;
      const run = async () => {
        handlers.onStatus("connecting");
        while (!closed) {
          controller = new AbortController();
          try {
            // The list needs no timeline events: the open exchange streams its own.
            const response = await fetch(url("/api/stream", { events: "none" }), {
              headers: auth({ accept: "text/event-stream" }),
              signal: controller.signal,
              cache: "no-store",
            });
            if (!response.ok || !response.body) {
              await response.body?.cancel();
              // A refusal (no token, wrong token) does not heal by retrying: the list says why.
              if (response.status === 401 || response.status === 403) return;
              throw new Error(`stream answered ${response.status}`);
            }
            handlers.onStatus("live");
            handlers.onOpen?.();
            await readSse(response.body, handlers.onMessage);
          } catch {
            // Cut, refused or unreachable: try again below.
          }
          if (closed) return;
          handlers.onStatus("reconnecting");
          await new Promise((resolve) => setTimeout(resolve, 1000));
        }
      };
      run();
      return () => {
        closed = true;
        controller?.abort();
      };
    },
    streamExchange(id, from, handlers) {
      const controller = new AbortController();
      const path = `/api/exchanges/${encodeURIComponent(id)}/stream`;
      (async () => {
        let complete = false;
        try {
          const response = await fetch(url(path, { from: from > 0 ? from : undefined }), {
            headers: auth({ accept: "text/event-stream" }),
            signal: controller.signal,
            cache: "no-store",
          });
          if (response.ok && response.body) {
            await readSse(response.body, (message) => {
              if (!controller.signal.aborted) handlers.onMessage(message);
            });
            complete = true;
          } else {
            await response.body?.cancel();
          }
        } catch {
          // Cut or unreachable.
        }
        if (!controller.signal.aborted) handlers.onEnd(complete);
      })();
      return () => controller.abort();
    },
  };
}

/** Reads an SSE body to its end, handing on each message. */
async function readSse(
  body: ReadableStream<Uint8Array<ArrayBuffer>>,
  onMessage: (message: StreamMessage) => void,
): Promise<void> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    buffer = parseSse(buffer + value, (data) => {
      let message: StreamMessage;
      try {
        message = JSON.parse(data);
      } catch {
        return;
      }
      onMessage(message);
    });
  }
}
