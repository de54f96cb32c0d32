/**
 * The bounded store: the inspector's {@linkcode Recorder}.
 *
 * {@linkcode ExchangeStore} keeps the last `maxExchanges` exchanges (1000 by
 * default) in a ring, and at most `maxBodyBytes` captured body bytes (1 MiB by
 * default) per exchange and direction: the request body as the application
 * read it from `wsgi.input`, and the response body as the application
 * produced it. Past a cap the true size is still counted and the exchange is
 * marked `truncated`. Each exchange also keeps at most `maxEvents` timeline
 * events (10,000 by default); past that only the last steps (`headers_sent`,
 * `close`, `end`, `abort`) are kept and the rest are counted as dropped. So
 * memory stays flat however long the server runs.
 *
 * The hot path is cheap: `record()` keeps compact records (the environ as a
 * shallow snapshot, byte events as offsets into one growing capture buffer per
 * direction) and copies body bytes only up to the cap. Base64 and JSON are made
 * only when the API serves an exchange ({@linkcode StoredExchange.detail}).
 * `record()` never throws: a failure is reported once through `onError` and
 * the exchange is no longer recorded.
 *
 * Replays are linked to their original through a request header, `x-wsgi-inspector-replay`
 * ({@linkcode REPLAY_HEADER}), whose value is a ticket from
 * {@linkcode ExchangeStore.replayTicket}. The application sees it as
 * `HTTP_X_WSGI_INSPECTOR_REPLAY` in its environ. `begin()` reads it only while
 * a replay is in flight, and only a ticket the store issued links.
 *
 * @example
 * ```ts
 * import { ExchangeStore } from "./store.ts";
 * import { toFetch } from "../server/gateway.ts";
 *
 * const store = new ExchangeStore({ maxExchanges: 10 });
 * const handler = toFetch((_environ, start_response) => {
 *   start_response("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("hi")];
 * }, { recorder: store });
 * await (await handler(new Request("http://localhost/a?b=1"))).text();
 * const { exchanges } = store.list();
 * console.assert(exchanges[0]?.target === "/a?b=1" && exchanges[0]?.status === 200);
 * ```
 *
 * @module
 */

import type { EventMap, EventType, ExchangeRecorder, Pair, Recorder } from "../server/recorder.ts";
import type {
  CapturedBody,
  ExchangeDetail,
  ExchangeList,
  ExchangeState,
  ExchangeSummary,
  TimelineEvent,
} from "./protocol.ts";

/** Exchanges kept by default. */
export const DEFAULT_MAX_EXCHANGES = 1000;
/** Body bytes kept by default, per exchange and direction (1 MiB). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** Timeline events kept by default, per exchange. */
export const DEFAULT_MAX_EVENTS = 10_000;
/** The request header that links a replay to its original (lower case). */
export const REPLAY_HEADER = "x-wsgi-inspector-replay";

/** Options of {@linkcode ExchangeStore}. */
export interface StoreOptions {
  /** Exchanges kept; the oldest is dropped when a new one arrives. 1000 by default. */
  maxExchanges?: number;
  /** Body bytes captured per exchange and direction. 1 MiB by default. */
  maxBodyBytes?: number;
  /** Timeline events kept per exchange. 10,000 by default. */
  maxEvents?: number;
  /** Told when recording an event failed (the exchange goes on, unrecorded). Logs to stderr by default. */
  onError?: (error: unknown) => void;
}

/** A filter for {@linkcode ExchangeStore.list}; every field is optional. */
export interface ListFilter {
  /** Request method, any case. */
  method?: string;
  /** Status sent: exact (`"404"`) or a class (`"4xx"`). */
  status?: string;
  /** Text the target (path and query) contains, any case. */
  q?: string;
  /** At most this many exchanges (100 by default). */
  limit?: number;
  /** Only exchanges whose `seq` is below this, for paging. */
  before?: number;
}

/** What {@linkcode ExchangeStore.subscribe} listeners get: references, to be serialized lazily. */
export type StoreMessage =
  | { kind: "exchange"; exchange: StoredExchange }
  | { kind: "event"; exchange: StoredExchange; index: number }
  | { kind: "clear" };

/** A live-stream listener. */
export type StoreListener = (message: StoreMessage) => void;

/** A JSON-safe value of the environ snapshot. */
export type SnapshotValue = string | number | boolean | null | (string | number | boolean | null)[];

/** Slab size for small captures. */
const SLAB = 64 * 1024;
/** Captures up to this size share slabs; larger ones get their own buffer. */
const SMALL = 4 * 1024;
let slab = new Uint8Array(SLAB);
let slabUsed = 0;
/** Where {@linkcode allocate} put its `n` bytes: in `placedIn` from `placedAt`. */
let placedIn: Uint8Array = slab;
let placedAt = 0;

/**
 * Finds room for `n` bytes, and leaves it in `placedIn` and `placedAt`
 * (module variables: no object per call). Small ones go in a shared slab, so
 * a capture costs no new buffer (~0.5 µs each in Deno) and not even a view
 * (~0.1 µs) until it is read; a slab is freed by the garbage collector once
 * no capture in it is kept, so memory follows the ring.
 */
function allocate(n: number): void {
  if (n > SMALL) {
    placedIn = new Uint8Array(n);
    placedAt = 0;
    return;
  }
  if (slabUsed + n > SLAB) {
    slab = new Uint8Array(SLAB);
    slabUsed = 0;
  }
  placedIn = slab;
  placedAt = slabUsed;
  slabUsed += n;
}

const EMPTY = new Uint8Array(0);

/**
 * The first `cap` bytes of a byte stream, and its true size.
 *
 * Appends copy what fits, so callers may pass views of reused buffers. The
 * buffer grows by doubling, never past the cap.
 *
 * @example
 * ```ts
 * import { Capture } from "./store.ts";
 * const capture = new Capture(4);
 * capture.add(new Uint8Array([1, 2, 3]));
 * capture.add(new Uint8Array([4, 5, 6]));
 * console.assert(capture.size === 6 && capture.length === 4 && capture.truncated);
 * ```
 */
export class Capture {
  /** The kept bytes are `#buf[#base, #base + length)`, with room up to `#base + #room`. */
  #buf: Uint8Array = EMPTY;
  #base = 0;
  #room = 0;
  readonly #cap: number;
  /** Bytes kept (at most the cap). */
  length = 0;
  /** Bytes seen (the true total). */
  size = 0;

  /** @param cap the most bytes to keep */
  constructor(cap: number) {
    this.#cap = cap;
  }

  /**
   * Appends a copy of as much of `bytes` as fits.
   *
   * @returns the offset in the stream where `bytes` began
   */
  add(bytes: Uint8Array): number {
    const offset = this.size;
    const n = Math.min(bytes.length, this.#cap - this.length);
    this.size += bytes.length;
    if (n <= 0) return offset;
    const need = this.length + n;
    if (need > this.#room) {
      const room = Math.min(this.#cap, Math.max(need, this.#room * 2));
      allocate(room);
      if (this.length > 0) placedIn.set(this.slice(0, this.length), placedAt);
      this.#buf = placedIn;
      this.#base = placedAt;
      this.#room = room;
    }
    const buf = this.#buf;
    const at = this.#base + this.length;
    if (n <= 32) {
      // A loop beats set() for the small bodies of most exchanges.
      for (let i = 0; i < n; i++) buf[at + i] = bytes[i]!;
    } else buf.set(n === bytes.length ? bytes : bytes.subarray(0, n), at);
    this.length = need;
    return offset;
  }

  /** Whether bytes were dropped by the cap. */
  get truncated(): boolean {
    return this.length < this.size;
  }

  /** The kept bytes of the stream range `[start, end)` (a view; copy it to keep it). */
  slice(start: number, end: number = this.size): Uint8Array {
    const base = this.#base;
    return this.#buf.subarray(
      base + Math.min(start, this.length),
      base + Math.min(end, this.length),
    );
  }

  /** The range `[start, end)` as served: true size, kept bytes as base64, truncation. */
  body(start: number, end: number = this.size): CapturedBody {
    const bytes = this.slice(start, end);
    return { size: end - start, bytes: bytes.toBase64(), truncated: bytes.length < end - start };
  }
}

/** An empty request body, shared by every exchange whose app read nothing. */
const NO_INPUT = new Capture(0);

/** The compact data of a byte event: where its bytes sit in the capture. */
interface ByteRef {
  offset: number;
  length: number;
}
interface InputData extends ByteRef {
  method: EventMap["input"]["method"];
  size: number | undefined;
}
interface ChunkData extends ByteRef {
  index: number;
}

/** Events kept after the budget is spent: each comes at most once. */
const LAST_STEPS = new Set<EventType>(["headers_sent", "close", "end", "abort"]);

/** Describes any value as JSON-safe data, shallowly (objects become their `String()`). */
function describe(value: unknown, depth = 0): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "undefined":
      return null;
    case "bigint":
    case "symbol":
      return value.toString();
    case "function":
      return `[function ${value.name || "anonymous"}]`;
  }
  if (value === null) return null;
  if (Array.isArray(value) && depth < 3) {
    return value.slice(0, 100).map((item) => describe(item, depth + 1));
  }
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * A JSON-safe snapshot of an environ: strings, numbers and booleans kept,
 * arrays (`wsgi.version`) copied, objects (`wsgi.input`) described by their
 * `String()`.
 *
 * @example
 * ```ts
 * import { snapshotEnviron } from "./store.ts";
 * const snap = snapshotEnviron({ PATH_INFO: "/", "wsgi.version": [1, 0], "wsgi.input": { toString: () => "<input>" } });
 * console.assert(snap["wsgi.input"] === "<input>" && snap.PATH_INFO === "/");
 * ```
 */
export function snapshotEnviron(
  environ: Readonly<Record<string, unknown>>,
): Record<string, SnapshotValue> {
  const out: Record<string, SnapshotValue> = {};
  for (const key in environ) {
    let value: unknown;
    try {
      value = environ[key];
    } catch (error) {
      value = `<unreadable: ${describe(error)}>`;
    }
    out[key] = typeof value === "string" ? value : describe(value) as SnapshotValue;
  }
  return out;
}

/** Keys whose objects change as the exchange goes on: described when the environ is built. */
const LIVE_KEYS = ["wsgi.input", "wsgi.errors"];

/**
 * The hot-path half of {@linkcode snapshotEnviron}: a shallow copy (a spread,
 * far cheaper than building an object key by key) in which the objects that
 * change over the exchange are described now. The rest is made JSON-safe
 * when served.
 */
function copyEnviron(environ: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...environ };
  for (const key of LIVE_KEYS) {
    const value = copy[key];
    if (typeof value === "object" && value !== null) copy[key] = describe(value);
  }
  return copy;
}

/** Copies a header list that the gateway already checked (string pairs). */
function copyPairs(headers: readonly Pair[]): Pair[] {
  const out: Pair[] = new Array(headers.length);
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i]!;
    out[i] = [h[0], h[1]];
  }
  return out;
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/**
 * Everything recorded about one exchange; also its {@linkcode ExchangeRecorder}.
 *
 * Fields are the raw record, kept compact for the hot path: events are three
 * parallel arrays (type, time, data), and data the exchange already holds
 * (the request line, the environ, the sent headers) is not repeated in them.
 * {@linkcode StoredExchange.summary} and {@linkcode StoredExchange.detail}
 * turn it into the wire format.
 */
export class StoredExchange implements ExchangeRecorder {
  readonly #store: ExchangeStore;
  readonly #t0: number;
  /** Arrival order, 1-based. */
  readonly seq: number;
  /** The exchange this one replays. */
  replayOf: string | undefined;
  /** The app generation that served it, when the supervisor said. */
  generation: number | undefined;
  /** The app process's name for it (`generation.worker.n`), when it gave one. */
  ref: string | undefined;

  method = "";
  target = "";
  version = "HTTP/1.1";
  /** The peer as the gateway gave it (kept, not copied: it may be a `Deno.NetAddr`); see {@linkcode StoredExchange.peerJson}. */
  peer: { hostname: string; port: number } | null = null;
  requestHeaders: Pair[] = [];
  /** The environ as built (a shallow copy; see {@linkcode StoredExchange.environ}). */
  #environ: Record<string, unknown> | undefined;
  #environJson: Record<string, SnapshotValue> | undefined;
  /** The data of the last valid `start_response` call, and its event index. */
  #startResponse: { status: string; headers: Pair[]; exc_info: boolean } | undefined;
  #startResponseAt = -1;
  status: number | null = null;
  statusLine: string | null = null;
  responseHeaders: Pair[] = [];
  /** The request body as the application read it. */
  input: Capture = NO_INPUT;
  /** Everything the application produced for the response (chunks and `write()`s, in order). */
  readonly output: Capture;
  /** Where in `output` the response that was sent begins (after a replaced response, e.g. a 500 page). */
  bodyStart = 0;
  errorsText = "";
  errorsSize = 0;
  errors = 0;
  state: ExchangeState = "pending";
  duration: number | null = null;
  /** Body bytes sent, from the `end`/`abort` event. */
  sentBytes: number | null = null;
  /** Event types, in order. */
  readonly types: EventType[] = [];
  /** Event times, milliseconds since arrival. */
  readonly times: number[] = [];
  /** Event data, compact (see {@linkcode StoredExchange.eventJson}). */
  readonly data: unknown[] = [];
  /** Events not kept because the per-exchange budget was spent. */
  droppedEvents = 0;
  /** Dropped from the store (ring eviction or clear); later events are not announced. */
  evicted = false;
  #broken = false;
  #appHeaders: unknown = undefined;

  /**
   * @param t0 the arrival, a `performance.now()` reading (now, by default)
   */
  constructor(store: ExchangeStore, seq: number, replayOf?: string, t0?: number) {
    this.#store = store;
    this.#t0 = t0 ?? performance.now();
    this.seq = seq;
    this.replayOf = replayOf;
    this.output = new Capture(store.maxBodyBytes);
  }

  /** Stable id, unique for the process. */
  get id(): string {
    return String(this.seq);
  }

  /** Arrival, epoch milliseconds. */
  get startedAt(): number {
    return Math.round(performance.timeOrigin + this.#t0);
  }

  /** The environ snapshot, JSON-safe, or null when none was built. */
  get environ(): Record<string, SnapshotValue> | null {
    if (this.#environ === undefined) return null;
    return this.#environJson ??= snapshotEnviron(this.#environ);
  }

  /** Whether some bytes or events were dropped by a cap. */
  get truncated(): boolean {
    return this.input.truncated || this.output.truncated || this.droppedEvents > 0 ||
      this.errorsText.length < this.errorsSize;
  }

  /**
   * Records one event of the gateway's timeline, which happened at `time` (a
   * `performance.now()` reading; now, by default). Never throws.
   */
  record<K extends EventType>(type: K, data: EventMap[K], time?: number): void {
    if (this.#broken) return;
    try {
      this.#record(type, data, time);
    } catch (error) {
      this.#broken = true;
      this.#store.failed(error);
    }
  }

  #record<K extends EventType>(type: K, payload: EventMap[K], time: number | undefined): void {
    const t = (time ?? performance.now()) - this.#t0;
    // What the event keeps; undefined when the exchange's own fields hold it.
    let data: unknown = payload;
    let announce = false;
    switch (type) {
      case "request": {
        const d = payload as EventMap["request"];
        this.method = d.method;
        this.target = d.target;
        this.version = d.version;
        this.peer = d.peer ?? null;
        this.requestHeaders = d.headers;
        // An app process under the CLI names the exchange (see server/dev/bridge.ts).
        this.ref = (d as { ref?: string }).ref;
        data = undefined;
        announce = true;
        break;
      }
      case "environ":
        this.#environ = copyEnviron((payload as EventMap["environ"]).environ);
        data = undefined;
        break;
      case "input": {
        const d = payload as EventMap["input"];
        if (this.input === NO_INPUT) this.input = new Capture(this.#store.maxBodyBytes);
        const offset = this.input.add(d.bytes);
        data = { method: d.method, size: d.size, offset, length: d.bytes.length } as InputData;
        break;
      }
      case "start_response": {
        const d = payload as EventMap["start_response"];
        if (d.error === undefined && typeof d.status === "string") {
          const sr = {
            status: d.status,
            headers: copyPairs(d.headers as Pair[]),
            exc_info: d.exc_info,
          };
          this.#appHeaders = d.headers;
          this.#startResponse = sr;
          this.#startResponseAt = this.types.length;
          if (this.status === null) this.bodyStart = this.output.size;
          data = sr;
        } else {
          data = {
            status: describe(d.status),
            headers: describe(d.headers),
            exc_info: d.exc_info,
            error: d.error,
          };
        }
        break;
      }
      case "write":
      case "chunk": {
        const d = payload as EventMap["chunk"];
        const offset = this.output.add(d.bytes);
        data = { index: d.index, offset, length: d.bytes.length } as ChunkData;
        break;
      }
      case "headers_sent": {
        const d = payload as EventMap["headers_sent"];
        this.status = d.status;
        this.statusLine = d.status_line;
        this.responseHeaders = d.headers === this.#appHeaders && this.#startResponse
          ? this.#startResponse.headers
          : copyPairs(d.headers);
        data = undefined;
        announce = true;
        break;
      }
      case "errors": {
        const text = (payload as EventMap["errors"]).text;
        const room = this.#store.maxBodyBytes - this.errorsText.length;
        this.errorsSize += text.length;
        if (text.length > room) data = { text: text.slice(0, Math.max(room, 0)), truncated: true };
        if (room > 0) this.errorsText += text.length <= room ? text : text.slice(0, room);
        break;
      }
      case "error":
        this.errors++;
        break;
      // Primitives rather than the payload objects: fewer objects kept, less garbage-collector work.
      case "call":
        data = (payload as EventMap["call"]).app;
        break;
      case "close":
        data = (payload as EventMap["close"]).called;
        break;
      case "end":
      case "abort": {
        const d = payload as EventMap["end"] & Partial<EventMap["abort"]>;
        this.sentBytes = d.bytes;
        this.duration = t;
        this.state = this.errors > 0 ? "error" : type === "end" ? "complete" : "aborted";
        data = type === "end" ? d.status : d.reason;
        announce = true;
        break;
      }
    }
    const index = this.types.length;
    const kept = index < this.#store.maxEvents || LAST_STEPS.has(type);
    if (kept) {
      this.types.push(type);
      this.times.push(t);
      this.data.push(data);
    } else {
      this.droppedEvents++;
    }
    if (this.evicted || !this.#store.listening) return;
    // The summary first, so that a client knows the exchange before its events.
    if (announce) this.#store.announce({ kind: "exchange", exchange: this });
    if (kept) this.#store.announce({ kind: "event", exchange: this, index });
  }

  /** The peer in the wire format: its hostname and port only. */
  peerJson(): { hostname: string; port: number } | null {
    const peer = this.peer;
    return peer && { hostname: peer.hostname, port: peer.port };
  }

  /** The list line of this exchange, in the wire format. */
  summary(): ExchangeSummary {
    const summary: ExchangeSummary = {
      id: this.id,
      seq: this.seq,
      startedAt: this.startedAt,
      method: this.method,
      target: this.target,
      status: this.status,
      statusLine: this.statusLine,
      duration: this.duration === null ? null : round(this.duration),
      requestBytes: this.input.size,
      responseBytes: this.sentBytes ?? this.output.size - this.bodyStart,
      state: this.state,
      truncated: this.truncated,
      errors: this.errors,
    };
    if (this.replayOf !== undefined) summary.replayOf = this.replayOf;
    if (this.generation !== undefined) summary.generation = this.generation;
    if (this.ref !== undefined) summary.ref = this.ref;
    return summary;
  }

  /**
   * Event `index` in the wire format: byte fields become `{ size, bytes, truncated }`.
   *
   * @param bytes `false` leaves the bytes out of byte events (`bytes: ""`), for
   *   exports that need only the times
   */
  eventJson(index: number, bytes = true): TimelineEvent {
    const type = this.types[index]!;
    const t = round(this.times[index]!);
    const d = this.data[index];
    const capture = (from: Capture, ref: ByteRef) =>
      bytes
        ? from.body(ref.offset, ref.offset + ref.length)
        : { size: ref.length, bytes: "", truncated: ref.length > 0 };
    let data: Record<string, unknown>;
    switch (type) {
      case "request":
        data = {
          method: this.method,
          target: this.target,
          version: this.version,
          peer: this.peerJson(),
          headers: this.requestHeaders,
        };
        break;
      case "environ":
        data = { environ: this.environ };
        break;
      case "input": {
        const ref = d as InputData;
        data = { method: ref.method };
        if (ref.size !== undefined) data.size = ref.size;
        data.bytes = capture(this.input, ref);
        break;
      }
      case "write":
      case "chunk": {
        const ref = d as ChunkData;
        data = { index: ref.index, bytes: capture(this.output, ref) };
        break;
      }
      case "headers_sent":
        data = { status: this.status, status_line: this.statusLine, headers: this.responseHeaders };
        break;
      case "call":
        data = { app: d };
        break;
      case "close":
        data = { called: d };
        break;
      case "end":
        data = { status: d, bytes: this.sentBytes };
        break;
      case "abort":
        data = { reason: d, bytes: this.sentBytes };
        break;
      default:
        data = d as Record<string, unknown>;
    }
    return { type, t, data };
  }

  /**
   * Everything recorded, in the wire format.
   *
   * @param options `eventBytes: false` leaves the bytes out of the timeline's
   *   byte events (for HAR export, which needs only their times)
   */
  detail(options: { eventBytes?: boolean } = {}): ExchangeDetail {
    const chunkOffsets: number[] = [];
    const events: TimelineEvent[] = [];
    const withBytes = options.eventBytes !== false;
    for (let i = 0; i < this.types.length; i++) {
      const type = this.types[i];
      if (type === "chunk" || type === "write") {
        const { offset, length } = this.data[i] as ChunkData;
        if (offset >= this.bodyStart && length > 0) chunkOffsets.push(offset - this.bodyStart);
      }
      events.push(this.eventJson(i, withBytes));
    }
    const sr = this.#startResponse;
    const detail: ExchangeDetail = {
      ...this.summary(),
      request: {
        version: this.version,
        peer: this.peerJson(),
        headers: this.requestHeaders,
        body: this.input.body(0),
      },
      environ: this.environ,
      startResponse: sr === undefined ? null : {
        status: sr.status,
        headers: sr.headers,
        excInfo: sr.exc_info,
        t: round(this.times[this.#startResponseAt]!),
      },
      response: {
        headers: this.responseHeaders,
        body: this.output.body(this.bodyStart),
        chunkOffsets,
      },
      errorsText: this.errorsText,
      events,
    };
    if (this.droppedEvents > 0) detail.droppedEvents = this.droppedEvents;
    return detail;
  }
}

/** A pending replay: its header value, and the exchange it became once it arrived. */
export interface ReplayTicket {
  /** The header to send with the replayed request. */
  readonly header: Pair;
  /** The new exchange, once the app server began recording it. */
  readonly exchange: StoredExchange | undefined;
  /** Forgets the ticket (call it when the replay is over). */
  release(): void;
}

function parseStatusFilter(status: string): (code: number | null) => boolean {
  const s = status.trim().toLowerCase();
  if (/^[1-5]xx$/.test(s)) {
    const hundred = Number(s[0]) * 100;
    return (code) => code !== null && code >= hundred && code < hundred + 100;
  }
  if (/^\d{3}$/.test(s)) {
    const exact = Number(s);
    return (code) => code === exact;
  }
  throw new RangeError(
    `Cannot filter by status: use a code like "404" or a class like "4xx" (got ${
      JSON.stringify(status)
    })`,
  );
}

/**
 * The bounded store of recorded exchanges, and the {@linkcode Recorder} the
 * gateway feeds.
 *
 * @example
 * ```ts
 * import { ExchangeStore } from "./store.ts";
 * import { serve } from "../server/serve.ts";
 *
 * const store = new ExchangeStore();
 * const server = serve((_environ, start_response) => {
 *   start_response("204 No Content", []);
 *   return [];
 * }, { port: 0, log: false, recorder: store });
 * await (await fetch(server.url)).body?.cancel();
 * await server.shutdown();
 * console.assert(store.list({ status: "2xx" }).total === 1);
 * ```
 */
export class ExchangeStore implements Recorder {
  /** Exchanges kept. */
  readonly maxExchanges: number;
  /** Body bytes kept per exchange and direction. */
  readonly maxBodyBytes: number;
  /** Events kept per exchange. */
  readonly maxEvents: number;
  readonly #onError: (error: unknown) => void;
  #ring: (StoredExchange | undefined)[] = [];
  /** The last seq given out. */
  #seq = 0;
  /** The smallest seq that may still be kept. */
  #oldest = 1;
  readonly #listeners = new Set<StoreListener>();
  readonly #tickets = new Map<string, { original: string; exchange?: StoredExchange }>();
  #nonce = 0;
  #failures = 0;

  constructor(options: StoreOptions = {}) {
    this.maxExchanges = positive("maxExchanges", options.maxExchanges, DEFAULT_MAX_EXCHANGES, 1);
    this.maxBodyBytes = positive("maxBodyBytes", options.maxBodyBytes, DEFAULT_MAX_BODY_BYTES, 0);
    this.maxEvents = positive("maxEvents", options.maxEvents, DEFAULT_MAX_EVENTS, 1);
    this.#onError = options.onError ??
      ((error) =>
        console.error(
          `Inspector failed to record an event; the exchange goes on unrecorded: ${
            error instanceof Error ? error.stack ?? error.message : String(error)
          }`,
        ));
  }

  /** Starts recording an exchange (called by the gateway for each request). */
  begin(request: Request, time?: number): ExchangeRecorder | undefined {
    let replayOf: string | undefined;
    let ticket: { original: string; exchange?: StoredExchange } | undefined;
    if (this.#tickets.size > 0) {
      const value = request.headers.get(REPLAY_HEADER);
      ticket = value === null ? undefined : this.#tickets.get(value);
      if (ticket && ticket.exchange === undefined) replayOf = ticket.original;
      else ticket = undefined;
    }
    const seq = ++this.#seq;
    const exchange = new StoredExchange(this, seq, replayOf, time);
    if (ticket) ticket.exchange = exchange;
    const max = this.maxExchanges;
    const slot = seq % max;
    const old = this.#ring[slot];
    if (old !== undefined) old.evicted = true;
    this.#ring[slot] = exchange;
    if (seq - max >= this.#oldest) this.#oldest = seq - max + 1;
    return exchange;
  }

  /** Number of exchanges kept. */
  get size(): number {
    return this.#seq - this.#oldest + 1;
  }

  /** Recorder failures so far (each also went to `onError`). */
  get failures(): number {
    return this.#failures;
  }

  /** Whether anyone listens to the live stream (the recorder skips announcing when not). */
  get listening(): boolean {
    return this.#listeners.size > 0;
  }

  /** The kept exchange with this id, if any. */
  get(id: string): StoredExchange | undefined {
    if (!/^[1-9]\d{0,15}$/.test(id)) return undefined;
    const seq = Number(id);
    if (seq < this.#oldest || seq > this.#seq) return undefined;
    const exchange = this.#ring[seq % this.maxExchanges];
    return exchange?.seq === seq ? exchange : undefined;
  }

  /** Kept exchanges, newest first. */
  *exchanges(): IterableIterator<StoredExchange> {
    for (let seq = this.#seq; seq >= this.#oldest; seq--) {
      const exchange = this.#ring[seq % this.maxExchanges];
      if (exchange?.seq === seq) yield exchange;
    }
  }

  /**
   * One page of exchange summaries, newest first.
   *
   * @throws {RangeError} when `status` is neither a code nor a class like `4xx`
   */
  list(filter: ListFilter = {}): ExchangeList {
    const method = filter.method?.toUpperCase() || undefined;
    const q = filter.q?.toLowerCase() || undefined;
    const status = filter.status ? parseStatusFilter(filter.status) : undefined;
    const limit = filter.limit ?? 100;
    const before = filter.before ?? Infinity;
    let total = 0;
    const exchanges: ExchangeSummary[] = [];
    for (const exchange of this.exchanges()) {
      if (method !== undefined && exchange.method.toUpperCase() !== method) continue;
      if (status !== undefined && !status(exchange.status)) continue;
      if (q !== undefined && !exchange.target.toLowerCase().includes(q)) continue;
      total++;
      if (exchange.seq < before && exchanges.length < limit) exchanges.push(exchange.summary());
    }
    return { total, exchanges };
  }

  /** Drops every kept exchange and tells listeners. Returns how many were dropped. */
  clear(): number {
    let count = 0;
    for (const exchange of this.exchanges()) {
      exchange.evicted = true;
      count++;
    }
    this.#ring = [];
    this.#oldest = this.#seq + 1;
    this.announce({ kind: "clear" });
    return count;
  }

  /**
   * Listens to new exchanges, their summary changes and their events.
   *
   * Messages carry references; serialize them when sending, not in the
   * listener (the listener runs on the app server's hot path).
   *
   * @returns a function that unsubscribes
   */
  subscribe(listener: StoreListener): () => void {
    this.#listeners.add(listener);
    return () => this.unsubscribe(listener);
  }

  /** Stops a listener. */
  unsubscribe(listener: StoreListener): void {
    this.#listeners.delete(listener);
  }

  /** Tells every listener; a listener that throws is reported and left subscribed. */
  announce(message: StoreMessage): void {
    for (const listener of this.#listeners) {
      try {
        listener(message);
      } catch (error) {
        this.failed(error);
      }
    }
  }

  /** Reports a recording failure (never throws). */
  failed(error: unknown): void {
    this.#failures++;
    try {
      this.#onError(error);
    } catch {
      // Nothing left to tell.
    }
  }

  /**
   * Issues a ticket that links the next request carrying its header to
   * `originalId`, as a replay. Release it when the replay is over.
   */
  replayTicket(originalId: string): ReplayTicket {
    const value = `${originalId}; ${++this.#nonce}-${crypto.randomUUID()}`;
    const entry: { original: string; exchange?: StoredExchange } = { original: originalId };
    this.#tickets.set(value, entry);
    return {
      header: [REPLAY_HEADER, value],
      get exchange() {
        return entry.exchange;
      },
      release: () => {
        this.#tickets.delete(value);
      },
    };
  }
}

function positive(name: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(
      `Cannot create the store: ${name} must be an integer of at least ${min} (got ${value})`,
    );
  }
  return value;
}
