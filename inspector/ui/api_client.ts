/**
 * Every conversation the page has with the side port: the list, one
 * exchange, clear, replay, HAR links and the live stream. Nothing else in the
 * UI calls `fetch` or opens an `EventSource`; the routes and shapes are those
 * of `../protocol.ts`.
 *
 * When the inspector runs with an access token (bound beyond loopback), the
 * page is opened as `/?token=...`; the client passes the token on.
 *
 * @module
 */

import type {
  ExchangeDetail,
  ExchangeList,
  ExchangeSummary,
  ReplayRequest,
  ReplayResult,
  StreamMessage,
} from "../protocol.ts";

/** Filters and paging of the exchange list (see `GET /api/exchanges`). */
export interface ListQuery {
  method?: string;
  status?: string;
  q?: string;
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
  /** Where to download the HAR of one exchange, or of all when no id is given. */
  harUrl(id?: string): string;
  /** Opens the live stream; returns the function that closes it. */
  stream(handlers: StreamHandlers): () => void;
}

const PAGE = 500;

/**
 * Creates the client for the side port at `base` (the page's own origin by
 * default).
 */
export function createApiClient(
  base: string = location.origin,
  token: string | null = new URLSearchParams(location.search).get("token"),
): ApiClient {
  const url = (path: string, params: Record<string, string | number | undefined> = {}) => {
    const u = new URL(path, base);
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined && v !== "") u.searchParams.set(k, String(v));
    }
    if (token) u.searchParams.set("token", token);
    return u.href;
  };

  async function json<T>(path: string, init?: RequestInit, params?: ListQuery): Promise<T> {
    let response: Response;
    try {
      response = await fetch(url(path, { ...params }), init);
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
    return await response.json() as T;
  }

  const post = (body?: unknown): RequestInit => ({
    method: "POST",
    headers: { "content-type": "application/json" },
    body: body === undefined ? "{}" : JSON.stringify(body),
  });

  return {
    list: (query = {}) => json<ExchangeList>("/api/exchanges", undefined, query),
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
    harUrl: (id) => id === undefined ? url("/api/har") : url(`/api/exchanges/${id}/har`),
    stream(handlers) {
      handlers.onStatus("connecting");
      const source = new EventSource(url("/api/stream"));
      source.onopen = () => {
        handlers.onStatus("live");
        handlers.onOpen?.();
      };
      source.onerror = () => handlers.onStatus("reconnecting");
      source.onmessage = (event: MessageEvent<string>) => {
        let message: StreamMessage;
        try {
          message = JSON.parse(event.data);
        } catch {
          return;
        }
        handlers.onMessage(message);
      };
      return () => source.close();
    },
  };
}
