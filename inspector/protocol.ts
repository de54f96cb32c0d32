/**
 * The inspector's wire format: the JSON its side port serves and the page
 * reads. Shared by `inspector/api.ts` (server) and `inspector/ui/` (browser),
 * so it holds types only.
 *
 * Bytes travel as base64 (`Base64`), captured up to the store's per-exchange
 * cap; sizes are always the true totals.
 *
 * Routes (all under the side port, JSON unless said; in token mode every
 * `/api/` route needs `Authorization: Bearer TOKEN`, see `./guard.ts`):
 *
 * | route | answer |
 * |---|---|
 * | `GET /` | the page (HTML), loading `/app.js` |
 * | `GET /app.js` | the UI, bundled from `inspector/ui/` at start |
 * | `GET /api/exchanges?method=&status=&q=&limit=&before=` | {@linkcode ExchangeList}, newest first; `status` may be `2xx`-style or exact; `q` matches the path and query text; `before` is a `seq` for paging |
 * | `GET /api/exchanges/:id` | {@linkcode ExchangeDetail} |
 * | `GET /api/exchanges/:id/har` | HAR 1.2 of that exchange |
 * | `GET /api/har` | HAR 1.2 of every kept exchange |
 * | `GET /api/stream` | Server-Sent Events: each `data:` is one {@linkcode StreamMessage} |
 * | `GET /api/server` | {@linkcode ServerState}: the app's generation, its load error, server-level events (under the CLI) |
 * | `POST /api/clear` | `{ "cleared": n }` (needs the inspector's own Origin) |
 * | `POST /api/exchanges/:id/replay` | body {@linkcode ReplayRequest}; answers {@linkcode ReplayResult} (needs the inspector's own Origin) |
 *
 * @module
 */

/** Bytes, base64-encoded. */
export type Base64 = string;

/** An exchange's lifecycle. */
export type ExchangeState = "pending" | "complete" | "aborted" | "error";

/** One line of the exchange list. */
export interface ExchangeSummary {
  /** Stable id (string), unique for the process. */
  id: string;
  /** Arrival order, 1-based, increasing. */
  seq: number;
  /** Arrival, epoch milliseconds. */
  startedAt: number;
  method: string;
  /** Path and query, as sent. */
  target: string;
  /** Status code sent, or null while none was. */
  status: number | null;
  /** The application's own status line (`"200 OK"`), or null. */
  statusLine: string | null;
  /** Milliseconds from arrival to end/abort, or null while pending. */
  duration: number | null;
  /** Body bytes the app read from `wsgi.input` (true total). */
  requestBytes: number;
  /** Body bytes sent to the client (true total). */
  responseBytes: number;
  state: ExchangeState;
  /** Some captured bytes were dropped by the cap. */
  truncated: boolean;
  /** Number of `error` events. */
  errors: number;
  /** The exchange this one replays, when it is a replay. */
  replayOf?: string;
  /** The app generation that served it (under the CLI: each reload starts one). */
  generation?: number;
  /** How the app process named it (`generation.worker.n`): the debug page links with `#ref=`. */
  ref?: string;
}

/** One page of the list. */
export interface ExchangeList {
  /** Exchanges kept in the store that match the filter. */
  total: number;
  exchanges: ExchangeSummary[];
  /**
   * How many exchanges the store keeps (its ring size), so that a live client
   * can drop what the store evicts; optional, the page assumes 10,000 without it.
   */
  maxExchanges?: number;
}

/**
 * One timeline event as served: the gateway's event, stamped.
 *
 * `data` is the recorder payload made JSON-safe: `Uint8Array` fields become
 * `{ size, bytes: Base64, truncated }`, and the `environ` event's environ
 * becomes a snapshot `Record<string, string | number | boolean | string[] | null>`
 * where objects such as `wsgi.input` are described by a string.
 */
export interface TimelineEvent {
  /** Event name from the gateway's event map (`request`, `environ`, `chunk`, ...). */
  type: string;
  /** Milliseconds since the request arrived. */
  t: number;
  data: Record<string, unknown>;
}

/** A captured byte stream (request body as read, or response body as sent). */
export interface CapturedBody {
  /** True total size. */
  size: number;
  /** The first bytes, up to the cap. */
  bytes: Base64;
  truncated: boolean;
}

/** Everything recorded about one exchange. */
export interface ExchangeDetail extends ExchangeSummary {
  /** The request line's version (`HTTP/1.1`), peer, and headers as received. */
  request: {
    version: string;
    peer: { hostname: string; port: number } | null;
    headers: [string, string][];
    /** What the application read from `wsgi.input`. */
    body: CapturedBody;
  };
  /** The environ snapshot (see {@linkcode TimelineEvent}). */
  environ: Record<string, unknown> | null;
  /** The last start_response call, if any. */
  startResponse: {
    status: string;
    headers: [string, string][];
    excInfo: boolean;
    /** Milliseconds since arrival. */
    t: number;
  } | null;
  /** The response as sent. */
  response: {
    headers: [string, string][];
    body: CapturedBody;
    /** Byte offsets in `body` where each chunk (or write) began. */
    chunkOffsets: number[];
  };
  /** Text the app wrote to `wsgi.errors` (up to the body cap). */
  errorsText: string;
  events: TimelineEvent[];
  /**
   * Events not kept because the exchange passed the store's per-exchange
   * event budget (10,000 by default); absent when none were dropped. Past
   * the budget only `headers_sent`, `close`, `end` and `abort` are kept.
   */
  droppedEvents?: number;
}

/**
 * A message on the live stream.
 *
 * `exchange` is sent when an exchange arrives and again each time its
 * summary changes (headers sent, end, abort): upsert by `id`. Every event
 * follows as an `event` message, after the `exchange` message that introduced
 * its exchange. Messages lost while the stream was down are not replayed:
 * reload the list when an `EventSource` reconnects.
 */
export type StreamMessage =
  | { kind: "exchange"; exchange: ExchangeSummary }
  | { kind: "event"; id: string; event: TimelineEvent }
  | { kind: "clear" }
  | { kind: "server"; event: ServerEventWire };

/** Where a module that could not be served went wrong (`server/dev/load_error.ts`). */
export interface LoadErrorWire {
  kind: string;
  module: string;
  message: string;
  file?: string;
  line?: number;
  column?: number;
  stack?: string;
  /** The code around the place, as text with a caret. */
  frame?: string;
  /** The place as shown: `app.ts:3:14`. */
  place?: string;
}

/** A server-level event (`server/dev/contract.ts`), with its time (epoch ms). */
export type ServerEventWire =
  | {
    type: "generation";
    generation: number;
    reason: string;
    ms?: number;
    loadError?: LoadErrorWire;
    time: number;
  }
  | {
    type: "fault";
    generation: number;
    pid: number;
    fault: { kind: string; name: string; message: string; stack?: string };
    time: number;
  };

/** What `GET /api/server` answers. */
export interface ServerState {
  /** The app generation serving now (0 outside the CLI). */
  generation: number;
  /** Why the serving generation could not load the module, or null. */
  loadError: LoadErrorWire | null;
  /** The latest server-level events, oldest first. */
  events: ServerEventWire[];
}

/** An edited replay; each field omitted keeps the original's. */
export interface ReplayRequest {
  method?: string;
  /** Path and query. */
  target?: string;
  headers?: [string, string][];
  /** Body as text (UTF-8) ... */
  body?: string;
  /** ... or as base64, for binary. */
  bodyBase64?: Base64;
}

/**
 * One way a replay differs from the recorded request: the method, the
 * target, a header (`from: null` when added, `to: null` when removed; names
 * in lower case, repeated ones joined with ", "), or the body (sizes in
 * bytes; the same sizes mean other bytes). Framing repairs the replay made
 * (a corrected `Content-Length`, a dropped `Transfer-Encoding`) show here
 * too; the link header does not.
 */
export type ReplayChange =
  | { part: "method" | "target"; from: string; to: string }
  | { part: "header"; name: string; from: string | null; to: string | null }
  | { part: "body"; from: number; to: number };

/** What a replay answers. */
export interface ReplayResult {
  /** Id of the new exchange. */
  id: string;
  status: number;
  /** How the request sent differs from the recorded one; empty for a faithful replay. */
  changes: ReplayChange[];
}
