/**
 * The recorder interface: how the gateway tells an observer what it does.
 *
 * This is the only thing `server/` and `inspector/` share. `server/` owns it
 * and never imports `inspector/`; the inspector implements it (and imports
 * nothing else of `server/`: `deno task lint:layers` checks both), and
 * `mod.ts` wires the two together. With no recorder the gateway skips
 * building every event, so recording costs nothing when it is off. The CLI's
 * contract with the inspector, {@linkcode InspectorHandle}, is here too, with
 * an app process's recorder ({@linkcode AppRecorder}) and the rest of the dev
 * loop's contract (`./dev/contract.ts`, re-exported).
 *
 * One exchange (a request and its response) gets one {@linkcode ExchangeRecorder}
 * from {@linkcode Recorder.begin}. The gateway then calls
 * {@linkcode ExchangeRecorder.record} once per step of the timeline below, in
 * order.
 *
 * The gateway owns the clock: `begin()` and `record()` get a `time`, a
 * `performance.now()` reading, and the recorder keeps `time` minus the
 * arrival's. Reading the clock costs ~0.1 µs, as much as recording a small
 * event, so the gateway reads it once per stretch of its own code and reads
 * it again only after the application's code ran (the app called
 * `start_response`, the body yielded, `close()` returned). Events in one
 * stretch share a time: `request`, `environ` and `call` have the arrival's;
 * the chunks of an array body, its `close` (if it has none), `headers_sent`
 * and `end` have the one taken when the application returned. The request
 * log's duration uses the same readings. Without a `time` (a recorder driven by hand, in tests), the
 * recorder reads the clock itself.
 *
 * Payloads are live: `bytes` may be a view of a buffer that is reused or handed
 * on to the client, `environ` is the object the application holds, and the
 * payload object itself, with the `request` event's header pairs, is reused
 * for the next event of its type (the gateway allocates none per event). A recorder copies what it wants to keep
 * before `record()` returns.
 *
 * | event | when | example payload |
 * |---|---|---|
 * | `request` | the HTTP request arrived | `{ method: "GET", target: "/a?b=1", version: "HTTP/1.1", peer: { hostname: "127.0.0.1", port: 51234 }, headers: [["host", "127.0.0.1:8000"]] }` |
 * | `environ` | the environ was built | `{ environ, derivation }` (the object the app receives, and how the gateway built it) |
 * | `call` | `application(environ, start_response)` is invoked | `{ app: "application" }` |
 * | `input` | the app read from `wsgi.input` | `{ method: "read", size: 10, bytes }` |
 * | `start_response` | the app called `start_response` | `{ status: "200 OK", headers: [["Content-Type", "text/html"]], exc_info: false }`, plus `error` naming the rule when a call broke one |
 * | `write` | the app called the legacy `write()` | `{ index: 0, bytes }` |
 * | `chunk` | the body iterable yielded | `{ index: 0, bytes }` |
 * | `headers_sent` | status and headers left for the client | `{ status: 200, status_line: "200 OK", headers: [["Content-Type", "text/html"]] }` |
 * | `errors` | text written to `wsgi.errors` | `{ text: "warning: ...\n" }` |
 * | `error` | an exception, from the app, its iterable or the gateway | `{ where: "application", name: "TypeError", message: "...", stack: "..." }` |
 * | `lint` | a rule of the spec was broken (validator), or the gateway warns (`request.body_dropped`: a GET/HEAD body Deno dropped; `close.queued`: the client left while a body without `close()` was stuck in an await; `client.left`: with `watchClient`, the client left before the headers went out, the app still running) | `{ rule: "start_response.once", message: "..." }` |
 * | `close` | the iterable's `close()` was called (also when it has none) | `{ called: true }` |
 * | `end` | the response finished | `{ status: 200, bytes: 18 }` |
 * | `abort` | the client went away, or the response was cut after an error | `{ reason: "client disconnected", bytes: 1024 }` |
 * | `input_rest` | after the response: the request body the app left unread, drained up to the recorder's cap (only when there was some) | `{ bytes, complete: true }` |
 *
 * @module
 */

import type { AppRecorderOptions, DevInspector } from "./dev/contract.ts";

/** A `[name, value]` pair, as in a header list. */
export type Pair = [name: string, value: string];

/**
 * The gateway's own way to build an environ (`deriveEnviron` in
 * `./environ_rule.ts`): from a derivation and the `request` event's method,
 * header pairs and peer, the environ that the gateway built for them, in
 * the same order, with objects of the same classes in the same state where
 * it gave objects (`wsgi.input`, `wsgi.errors`, `wsgi.file_wrapper`): a
 * recorder that describes them gets what it would have got of the live ones.
 */
export type EnvironRule = (
  derivation: Omit<EnvironDerivation, "rule">,
  request: {
    readonly method: string;
    readonly headers: readonly (readonly [string, string])[];
    readonly peer?: { readonly hostname: string; readonly port: number } | null;
  },
) => Record<string, unknown>;

/**
 * What, besides the `request` event, the gateway built an environ from: the
 * `environ` event's `derivation`. The gateway's one object, refilled for
 * every exchange (copy what you keep).
 */
export interface EnvironDerivation {
  /** Rebuilds the environ; the same function for every exchange of a process. */
  readonly rule: EnvironRule;
  /** `request.url`, as the gateway split it. */
  url: string;
  /** The gateway's `SERVER_NAME`, `SERVER_PORT` and `wsgi.url_scheme`, when set (else from the request). */
  serverName: string | undefined;
  serverPort: string | undefined;
  urlScheme: string | undefined;
  /** `wsgi.multiprocess`. */
  multiprocess: boolean;
  /** A GET or HEAD came with a body Deno.serve dropped: `CONTENT_LENGTH` and `wsgi.input_terminated` were left out. */
  dropped: boolean;
  /** The bytes `wsgi.input` had to give (Infinity: no length, read to the end). */
  inputLeft: number;
}

/** Where an error was raised: which party broke. */
export type ErrorSite = "application" | "iterable" | "close" | "gateway";

/** The payload of each event, by event type. */
export interface EventMap {
  request: {
    method: string;
    /** The request target as received: path and query. */
    target: string;
    version: string;
    /** The peer; may be the `Deno.NetAddr` itself, with more fields than these. */
    peer?: { hostname: string; port: number };
    headers: Pair[];
  };
  environ: {
    environ: Readonly<Record<string, unknown>>;
    /**
     * How the gateway built `environ`, when nothing but the gateway has
     * touched it yet: with this, the `request` event and
     * {@linkcode EnvironDerivation.rule}, a recorder may keep the recipe
     * instead of every entry, and rebuild the very same environ when asked.
     */
    derivation?: EnvironDerivation;
  };
  call: { app: string };
  input: {
    method: "read" | "readline" | "readlines" | "iterate";
    size?: number;
    bytes: Uint8Array;
  };
  start_response: {
    status: unknown;
    headers: unknown;
    exc_info: boolean;
    /** The rule this call broke, as the message the app gets. */
    error?: string;
  };
  write: { index: number; bytes: Uint8Array };
  chunk: { index: number; bytes: Uint8Array };
  headers_sent: { status: number; status_line: string; headers: Pair[] };
  errors: { text: string };
  error: { where: ErrorSite; name: string; message: string; stack?: string };
  lint: { rule: string; message: string };
  close: { called: boolean };
  end: { status: number; bytes: number };
  abort: { reason: string; bytes: number };
  /**
   * What the app left unread of the request body, read after the response
   * (never before: the app's reads are never changed). `complete` when the
   * body's end was reached, false when reading stopped at the cap.
   */
  input_rest: { bytes: Uint8Array; complete: boolean };
}

/** The name of a timeline event. */
export type EventType = keyof EventMap;

/** Receives the events of one exchange. */
export interface ExchangeRecorder {
  /**
   * Records one event that happened at `time` (a `performance.now()`
   * reading). Must not throw; if it does, the gateway logs it and stops
   * recording this exchange.
   */
  record<K extends EventType>(type: K, data: EventMap[K], time?: number): void;
  /**
   * How many bytes of request body the app left unread this recorder still
   * wants (the gateway drains at most that much after the response, for
   * `input_rest`); absent or 0: none.
   */
  readonly restWanted?: number;
}

/** Creates one {@linkcode ExchangeRecorder} per exchange. */
export interface Recorder {
  /**
   * Called when a request arrives (at `time`, a `performance.now()` reading),
   * before the gateway reads anything else. Returns `undefined` to leave this
   * exchange unrecorded.
   */
  begin(request: Request, time?: number): ExchangeRecorder | undefined;
}

/** What the CLI passes to create an inspector (from its flags). */
export interface InspectorSettings {
  /** Interface of the side port. */
  hostname: string;
  /** Port of the side port (0: any free one). */
  port: number;
  /** Exchanges kept. */
  maxExchanges: number;
  /** Body bytes kept per exchange and stream. */
  maxBodyBytes: number;
  /** Bytes of records kept, for every exchange together. */
  memory: number;
  /** The app module served (a URL) and the export named on the command line, if any. */
  app?: { module: string; name?: string };
  /** The gateway's rule to rebuild environs recorded as their derivation (`./environ_rule.ts`). */
  environRule?: EnvironRule;
}

/**
 * A running inspector, as the CLI sees it (`inspector/mod.ts` makes one):
 * a side port to open and close, and what the dev loop's supervisor needs
 * ({@linkcode DevInspector}: how its app processes record, a reader of their
 * records, server-level events).
 */
export interface InspectorHandle extends DevInspector {
  /** Opens the side port; `appUrl` is where replays are sent. Returns the URL to print. */
  listen(appUrl: string): Promise<{ url: string }>;
  /** Closes the side port. */
  shutdown(): Promise<void>;
}

/** An app process's recorder. */
export interface AppRecorder extends Recorder {
  /** Exchanges left unrecorded so far because the supervisor was too far behind. */
  readonly skipped: number;
  /**
   * The reference of the exchange `environ` belongs to, while it is open:
   * `generation.worker.id`, which the inspector's page finds it by (the debug
   * page links to it).
   */
  refOf(environ: object): string | undefined;
  /**
   * Records `error` (a fault no exchange caught) on the one exchange open,
   * when exactly one is, and returns its reference.
   */
  faultOnOpen(error: { name: string; message: string; stack?: string }): string | undefined;
}

/** What the module named by `AppRecording.module` exports as `createAppRecorder`. */
export type CreateAppRecorder = (options: AppRecorderOptions) => AppRecorder;

// The supervisor's contract with the inspector (the CLI's dev loop) lives
// beside the dev loop's code; it is re-exported here, so that this file stays
// the one thing `inspector/` imports from `server/`.
export type {
  AppRecorderOptions,
  AppRecording,
  DevInspector,
  Fault,
  OpenExchange,
  RecordIntake,
  ServerEvent,
  StampedServerEvent,
  SupervisorAnswer,
} from "./dev/contract.ts";
