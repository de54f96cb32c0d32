/**
 * The inspector's wire format: the typed events and JSON its side port
 * serves, and the one table of its routes. Shared by the server side
 * (`store.ts`, `wire.ts`, `api.ts`, `har.ts`) and the page (`ui/`), so it holds
 * types, constants and pure functions only.
 *
 * One event type per step of the gateway's timeline, as the recorder's
 * `EventMap` (`server/recorder.ts`) names them, with every byte field turned
 * into a {@linkcode BytesRef}: a range of one of the exchange's two captured
 * streams (`request`: what the app read from `wsgi.input`, then what was
 * drained after the response; `response`: every byte the app produced, chunks
 * and `write()`s in order). The bytes themselves travel once: in the
 * exchange's {@linkcode ExchangeDetail} as base64, or with the live
 * {@linkcode StreamMessage} of the event that added them.
 *
 * The routes of the side port are {@linkcode ROUTES}; `api.ts` dispatches on
 * that table, and the README points here. In token mode every `/api/` route
 * needs `Authorization: Bearer TOKEN` (see `./guard.ts`).
 *
 * @module
 */

import type { EventMap } from "../server/recorder.ts";

/** Bytes, base64-encoded. */
export type Base64 = string;

/** A `[name, value]` pair, as in a header list. */
export type Pair = [name: string, value: string];

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
  /** Body bytes sent to the client (true total), or produced so far while pending. */
  responseBytes: number;
  state: ExchangeState;
  /** Some bytes or events were dropped by a cap. */
  truncated: boolean;
  /** Number of `error` events. */
  errors: number;
  /** The exchange this one replays, when it is a replay. */
  replayOf?: string;
  /** The app generation that served it (under the CLI: each reload starts one). */
  generation?: number;
  /** How the app process named it (`generation.worker.n`): the debug page links with `#ref=`. */
  ref?: string;
  /** Loaded from a HAR file (`POST /api/import`), not recorded by this inspector. */
  imported?: boolean;
}

/** One page of the list. */
export interface ExchangeList {
  /** Exchanges kept in the store that match the filter. */
  total: number;
  exchanges: ExchangeSummary[];
  /**
   * How many exchanges the store keeps at most, so that a live client can
   * drop what the store evicts.
   */
  maxExchanges?: number;
  /** The store's memory budget and how much of it holds records, in bytes. */
  memory?: { budget: number; used: number };
  /**
   * Set when a body search (`body=`) stopped before the oldest exchange: one
   * request scans at most 64 MiB of bodies (`MAX_SEARCH_SCAN_BYTES` of
   * `search.ts`), newest first. Exchange `seq` and every older one were not
   * searched: they are neither counted in `total` nor listed. `message`
   * says so, for a person.
   */
  searchCut?: SearchCut;
}

/** Where a body search stopped (see {@linkcode ExchangeList.searchCut}). */
export interface SearchCut {
  /** The newest exchange not searched. */
  seq: number;
  /** What was not searched and why, for a person. */
  message: string;
}

/** The captured streams of an exchange. */
export type StreamName = "request" | "response";

/**
 * Where the bytes of one event are: `size` bytes at `offset` of a captured
 * stream, of which the first `kept` were captured (the rest fell past the
 * per-exchange cap). Captures are prefixes: the kept bytes of the whole
 * stream are its first bytes, so this event's are at `[offset, offset + kept)`.
 */
export interface BytesRef {
  stream: StreamName;
  offset: number;
  size: number;
  kept: number;
}

/**
 * A value of the environ as recorded: strings, finite numbers, booleans and
 * null as they were; arrays (`wsgi.version`) copied; anything else (objects
 * such as `wsgi.input`, functions, non-finite numbers) described by a string.
 */
export type EnvironValue = string | number | boolean | null | EnvironValue[];

/** How the app read from `wsgi.input`. */
export type InputMethod = EventMap["input"]["method"];

/** The data of each event on the wire, by event type. */
export interface WireData {
  request: {
    method: string;
    target: string;
    version: string;
    peer: { hostname: string; port: number } | null;
    headers: Pair[];
    /** Arrival, epoch milliseconds. */
    startedAt: number;
    /** The app generation that served it, under the CLI (each reload starts one). */
    generation?: number;
    /** How the app process named it (`generation.worker.n`), under the CLI. */
    ref?: string;
  };
  environ: { environ: Record<string, EnvironValue> };
  call: { app: string };
  input: { method: InputMethod; size: number | null; bytes: BytesRef };
  /**
   * After the response: the part of the request body the app left unread,
   * drained from the client up to the cap. `complete` when the body's end was
   * reached (else more may have followed, unread).
   */
  input_rest: { bytes: BytesRef; complete: boolean };
  /**
   * A call of `start_response`. A status or header list of the wrong shape
   * (the call then broke a rule, named in `error`) is described: the status
   * as a string, each header item as a pair of strings.
   */
  start_response: { status: string; headers: Pair[]; exc_info: boolean; error?: string };
  write: { index: number; bytes: BytesRef };
  chunk: { index: number; bytes: BytesRef };
  headers_sent: { status: number; status_line: string; headers: Pair[] };
  /** Text written to `wsgi.errors`: `text` as kept, `size` its true length (UTF-16 units). */
  errors: { text: string; size: number };
  error: { where: string; name: string; message: string; stack?: string };
  lint: { rule: string; message: string };
  close: { called: boolean };
  /** `dropped_events`: events not kept past the per-exchange budget. */
  end: { status: number; bytes: number; dropped_events: number };
  abort: { reason: string; bytes: number; dropped_events: number };
}

/** The name of a timeline event. */
export type EventType = keyof WireData;

/** One timeline event as served: its type, its time, its typed data. */
export type WireEvent = {
  [K in EventType]: {
    type: K;
    /** Milliseconds since the request arrived. */
    t: number;
    data: WireData[K];
  };
}[EventType];

/** The wire event of one type. */
export type WireEventOf<K extends EventType> = Extract<WireEvent, { type: K }>;

/** Every event type, in timeline order (the codes of `record.ts` follow it). */
export const EVENT_TYPES: readonly EventType[] = [
  "request",
  "environ",
  "call",
  "input",
  "start_response",
  "write",
  "chunk",
  "headers_sent",
  "errors",
  "error",
  "lint",
  "close",
  "end",
  "abort",
  "input_rest",
];

// The wire knows exactly the recorder's events: a compile error here means
// `server/recorder.ts` and this file disagree.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const _sameEvents: Same<EventType, keyof EventMap> = true;
void _sameEvents;

/** A captured byte stream: its true size and its first bytes. */
export interface CapturedBody {
  /** True total size. */
  size: number;
  /** The first bytes, up to the cap. */
  bytes: Base64;
  /** Whether bytes were dropped by the cap. */
  truncated: boolean;
}

/**
 * Everything recorded about one exchange: its summary, its events, and its
 * two captured streams (each byte once). The state at any step, the request
 * and response as sent, and the list summary all follow from these through
 * the reducer of `timeline.ts`.
 */
export interface ExchangeDetail extends ExchangeSummary {
  events: WireEvent[];
  /** The request body as the client sent it: what the app read, then what was drained. */
  request: { body: CapturedBody };
  /** Every byte the application produced, in order (a replaced response's too). */
  response: { body: CapturedBody };
}

/**
 * A message on the live stream.
 *
 * `exchange` is sent when an exchange arrives and again each time its
 * summary changes (headers sent, end, abort, body drained): upsert by `id`.
 * Every event follows as an `event` message, after the `exchange` message
 * that introduced its exchange; `index` is its place in the exchange's
 * events, and `bytes` the kept bytes it added to its stream (base64), so a
 * client appends events to an open exchange and never fetches it again.
 * `evict` says every exchange with a smaller `seq` is gone from the store;
 * `server` carries a server-level event (under the CLI: a reload, a module
 * that failed to load, a fault no exchange caught).
 * Messages lost while the stream was down are not replayed: reload the list
 * when an `EventSource` reconnects. `GET /api/stream?events=none` sends
 * every kind but `event`; `GET /api/exchanges/:id/stream` sends one
 * exchange's `event` messages.
 */
export type StreamMessage =
  | { kind: "exchange"; exchange: ExchangeSummary }
  | { kind: "event"; id: string; index: number; event: WireEvent; bytes?: Base64 }
  | { kind: "evict"; before: number }
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
  /**
   * The app server's URL (`http://127.0.0.1:8000`), where replays go and where
   * the page's "Copy as curl" sends a request; absent while the inspector
   * does not know it.
   */
  appUrl?: string;
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

/** What `POST /api/import` answers. */
export interface ImportResult {
  /** Ids of the exchanges loaded, in the file's order: each still kept when the answer was made. */
  ids: string[];
  /**
   * Entries left out, with why (the file's entry index, from 0): not what
   * HAR says (the field named), or past what the store holds with the
   * file's entries before them (`not loaded: ...`).
   */
  skipped: { entry: number; error: string }[];
  /**
   * Entries skipped past the first 100, which `skipped` lists: counted, not
   * listed (absent when none). A file's entries past 1000 that are not what
   * HAR says are not read, and are counted here too.
   */
  skippedMore?: number;
  /**
   * Exchanges kept before the import that it evicted to make room (the
   * oldest first, as recording does): recorded ones, and ones an earlier
   * import loaded. An import never evicts its own entries.
   */
  evicted: { recorded: number; imported: number };
}

/**
 * Whether an exchange's timeline is finished, from its events' types so far:
 * after `end` (only the drain of an unread request body, `input_rest`, can
 * follow, and it changes the summary), or after `abort` once the app's
 * iterable was closed too (after a client left, the app may go on). The
 * stream of one exchange ends there.
 *
 * @example
 * ```ts
 * import { timelineFinished } from "./protocol.ts";
 * console.assert(timelineFinished(["chunk", "close", "end"]));
 * console.assert(!timelineFinished(["chunk", "abort"]));
 * console.assert(timelineFinished(["abort", "close"]));
 * ```
 */
export function timelineFinished(types: Iterable<EventType>): boolean {
  let aborted = false;
  let closed = false;
  for (const type of types) {
    if (type === "end") return true;
    if (type === "abort") aborted = true;
    else if (type === "close") closed = true;
  }
  return aborted && closed;
}

/** The part of a stream a byte event carries (`input`, `input_rest`, `write`, `chunk`). */
export function partOf(event: WireEvent): BytesRef | undefined {
  switch (event.type) {
    case "input":
    case "input_rest":
    case "write":
    case "chunk":
      return event.data.bytes;
    default:
      return undefined;
  }
}

/** One route of the side port. */
export interface Route {
  /** The handler's name in `api.ts`. */
  name: string;
  /** `GET` routes answer `HEAD` too, unless `head` is false. */
  method: "GET" | "POST";
  head?: boolean;
  /** The path; `:id` matches one path segment. */
  path: string;
  /** Query parameters, if any. */
  query?: string;
  /** What it answers. */
  answer: string;
}

/**
 * The side port's routes: the one table, which `api.ts` dispatches on (each
 * entry's `answer` says what it answers). A `GET` route answers `HEAD` too,
 * unless it says `head: false`; `:id` is an exchange's id. Errors are JSON
 * `{ "error": "..." }`. A `POST` needs the inspector's own `Origin`, and in
 * token mode every `/api/` route needs `Authorization: Bearer TOKEN` (see
 * `./guard.ts`).
 */
export const ROUTES = [
  { name: "page", method: "GET", path: "/", answer: "the page (HTML), loading /app.js" },
  {
    name: "script",
    method: "GET",
    path: "/app.js",
    answer: "the page's script, bundled from inspector/ui/",
  },
  {
    name: "list",
    method: "GET",
    path: "/api/exchanges",
    query: "method, status, q, body, limit, before",
    answer:
      "ExchangeList, newest first; status exact (404) or a class (4xx); q matches the path and query; body (repeatable: all must match) is text the request or response body contains, ASCII letters in any case, searched over every kept exchange, newest first (search.ts: at most 1024 bytes of UTF-8 a text, else 400; at most 64 MiB of bodies scanned a request, else the list stops and says so in searchCut); before is a seq, for paging",
  },
  { name: "detail", method: "GET", path: "/api/exchanges/:id", answer: "ExchangeDetail" },
  {
    name: "exchangeHar",
    method: "GET",
    path: "/api/exchanges/:id/har",
    answer: "HAR 1.2 of that exchange (a download)",
  },
  {
    name: "exchangeTest",
    method: "GET",
    path: "/api/exchanges/:id/test",
    answer:
      "a deno test file that sends the recorded request to the app in-process and checks the recorded answer (a download; test_export.ts)",
  },
  {
    name: "har",
    method: "GET",
    path: "/api/har",
    answer: "HAR 1.2 of every kept exchange, oldest first (a download)",
  },
  {
    name: "stream",
    method: "GET",
    path: "/api/stream",
    query: "events (all, none)",
    answer:
      "Server-Sent Events: each data: is one StreamMessage; events=none leaves out the event messages (summaries, evictions, clears and server events only: what a list needs)",
    head: false,
  },
  {
    name: "exchangeStream",
    method: "GET",
    path: "/api/exchanges/:id/stream",
    query: "from",
    answer:
      "Server-Sent Events of one exchange: its event messages from index from (0 by default) of those kept, then each new one live; ends when its timeline is finished (timelineFinished: after end, or after abort and close), or when it is dropped",
    head: false,
  },
  {
    name: "server",
    method: "GET",
    path: "/api/server",
    answer:
      "ServerState: the app's generation, its load error, server-level events (under the CLI)",
  },
  { name: "clear", method: "POST", path: "/api/clear", answer: '{ "cleared": n }' },
  {
    name: "import",
    method: "POST",
    path: "/api/import",
    answer:
      "body: a HAR file (JSON); loads its entries into the store as imported exchanges, to view and replay; answers ImportResult",
  },
  {
    name: "replay",
    method: "POST",
    path: "/api/exchanges/:id/replay",
    answer:
      "body ReplayRequest; sends it byte for byte to the app's own address; answers ReplayResult, with how it differs from the recorded request",
  },
] as const satisfies readonly Route[];

/** The name of a route of {@linkcode ROUTES}. */
export type RouteName = typeof ROUTES[number]["name"];

/** What {@linkcode matchRoute} found for a request. */
export type RouteMatch =
  | { route: typeof ROUTES[number]; params: { id?: string } }
  | { route: undefined; allow: string };

/**
 * Finds the route of a request: the route and its parameters, or (for a
 * known path asked with the wrong method) what `Allow` should say, or
 * `undefined` for an unknown path. `/index.html` is the page.
 *
 * @example
 * ```ts
 * import { matchRoute } from "./protocol.ts";
 * const found = matchRoute("GET", "/api/exchanges/12/har");
 * console.assert(found?.route?.name === "exchangeHar");
 * console.assert(matchRoute("GET", "/api/clear")?.route === undefined);
 * ```
 */
export function matchRoute(method: string, path: string): RouteMatch | undefined {
  if (path === "/index.html") path = "/";
  const allowed: string[] = [];
  for (const route of ROUTES) {
    const params = matchPath(route.path, path);
    if (params === undefined) continue;
    const head = route.method === "GET" && (route as Route).head !== false;
    if (route.method === method || (head && method === "HEAD")) return { route, params };
    allowed.push(head ? "GET, HEAD" : route.method);
  }
  return allowed.length > 0 ? { route: undefined, allow: allowed.join(", ") } : undefined;
}

function matchPath(pattern: string, path: string): { id?: string } | undefined {
  const want = pattern.split("/");
  const got = path.split("/");
  if (want.length !== got.length) return undefined;
  const params: { id?: string } = {};
  for (let i = 0; i < want.length; i++) {
    if (want[i] === ":id") {
      if (got[i] === "") return undefined;
      try {
        params.id = decodeURIComponent(got[i]!);
      } catch {
        return undefined;
      }
    } else if (want[i] !== got[i]) return undefined;
  }
  return params;
}

/**
 * The path of a route, with its `:id` filled in.
 *
 * @example
 * ```ts
 * import { routePath } from "./protocol.ts";
 * console.assert(routePath("detail", "7") === "/api/exchanges/7");
 * ```
 */
export function routePath(name: RouteName, id?: string): string {
  const route = ROUTES.find((r) => r.name === name)!;
  return route.path.replace(":id", encodeURIComponent(id ?? ""));
}
