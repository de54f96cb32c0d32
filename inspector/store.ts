/**
 * The bounded store: the inspector's {@linkcode Recorder}.
 *
 * Every event of every exchange is one frame of the record format
 * (`record.ts`, specified in `docs/record.md`), written by an
 * {@linkcode ExchangeWriter} straight into one byte ring of `memory` bytes
 * (`ring.ts`; 64 MiB by default). Besides the ring, the store keeps a small
 * index per exchange in typed arrays (where its frames are, its status, its
 * byte counts: what the list needs without decoding), and no JavaScript
 * object per kept exchange, so a kept exchange costs the garbage collector
 * nothing. Frames are decoded only when the API or the live stream asks
 * (`wire.ts`).
 *
 * What is kept: the last `maxExchanges` exchanges (1000 by default), as long
 * as their frames fit the memory budget; the oldest go first, when the count
 * is passed or when the ring needs the bytes of their first frame (a very
 * old exchange still pending goes too, and its later events are dropped).
 * Per exchange, the caps of `capture.ts`: `maxBodyBytes` of each body stream
 * (1 MiB by default) and `maxEvents` events (10,000), past which the true
 * sizes are still counted and the exchange is marked truncated.
 *
 * Frames written by another process (the same format, its own exchange ids)
 * come in through {@linkcode ExchangeStore.ingest}.
 *
 * Replays are linked to their original through a request header,
 * `x-wsgi-inspector-replay` ({@linkcode REPLAY_HEADER}), whose value is a
 * ticket from {@linkcode ExchangeStore.replayTicket}. The application sees it
 * as `HTTP_X_WSGI_INSPECTOR_REPLAY` in its environ. `begin()` reads it only
 * while a replay is in flight, and only a ticket the store issued links.
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

import type { OpenExchange, Recorder, RecordIntake, SupervisorAnswer } from "../server/recorder.ts";
import { type CaptureLimits, ExchangeWriter, type WriterSink } from "./capture.ts";
import type {
  ExchangeDetail,
  ExchangeList,
  ExchangeState,
  ExchangeSummary,
  Pair,
  StreamMessage,
} from "./protocol.ts";
import {
  AT,
  decodeFrame,
  FLAG,
  FORMAT_VERSION,
  type FrameEncoder,
  HEADER_SIZE,
  latin1,
  requestGeneration,
  TYPE_CODE,
  writeEnviron,
  writeRequest,
} from "./record.ts";
import { type Redaction, redaction } from "./redact.ts";
import { FrameRing } from "./ring.ts";
import { detailOf, eventMessage, ExchangeReader } from "./wire.ts";

/** Exchanges kept by default. */
export const DEFAULT_MAX_EXCHANGES = 1000;
/** Body bytes kept by default, per exchange and stream (1 MiB). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;
/** Timeline events kept by default, per exchange. */
export const DEFAULT_MAX_EVENTS = 10_000;
/** The memory budget by default: 64 MiB of frames. */
export const DEFAULT_MEMORY = 64 * 1024 * 1024;
/** The smallest memory budget. */
export const MIN_MEMORY = 64 * 1024;
/** The request header that links a replay to its original (lower case). */
export const REPLAY_HEADER = "x-wsgi-inspector-replay";

/** Options of {@linkcode ExchangeStore}. */
export interface StoreOptions {
  /** Exchanges kept; the oldest is dropped when a new one arrives. 1000 by default. */
  maxExchanges?: number;
  /** Body bytes captured per exchange and stream; at most a quarter of `memory`. 1 MiB by default. */
  maxBodyBytes?: number;
  /** Timeline events kept per exchange. 10,000 by default. */
  maxEvents?: number;
  /** Bytes of frames kept, for every exchange together (the ring). 64 MiB by default. */
  memory?: number;
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
  /** Only exchanges this test keeps (the body search of `search.ts`), after the other filters. */
  match?: (exchange: KeptExchange) => boolean;
}

/**
 * What {@linkcode ExchangeStore.subscribe} listeners get: positions, to be
 * decoded lazily (a listener runs on the app server's hot path).
 */
export type StoreMessage =
  | { kind: "exchange"; seq: number }
  | { kind: "event"; seq: number; index: number; at: number }
  | { kind: "evict"; before: number }
  | { kind: "clear" };

/** A live-stream listener. */
export type StoreListener = (message: StoreMessage) => void;

/** The request body as the client sent it: what the app read, then what was drained. */
export interface RequestBody {
  /** The captured bytes (a copy). */
  bytes: Uint8Array<ArrayBuffer>;
  /** The true size, as far as it was read. */
  size: number;
  /** Bytes the application itself read (the rest was drained after the response). */
  read: number;
  /** Whether `bytes` is the whole body: nothing cut by the cap, and its end was reached. */
  complete: boolean;
}

const STATE_NAMES: readonly ExchangeState[] = ["pending", "complete", "aborted", "error"];
const PENDING = 0, COMPLETE = 1, ABORTED = 2, ERROR = 3;

const C = TYPE_CODE;
/** The largest type code of the format. */
const MAX_CODE = Object.keys(TYPE_CODE).length;

/**
 * A kept exchange, as the API reads it: a handle made on demand (the store
 * keeps none), valid while the exchange is kept.
 */
export class KeptExchange {
  readonly #store: ExchangeStore;
  /** Arrival order, 1-based. */
  readonly seq: number;

  constructor(store: ExchangeStore, seq: number) {
    this.#store = store;
    this.seq = seq;
  }

  /** Stable id, unique for the process. */
  get id(): string {
    return String(this.seq);
  }

  /** Whether the store still keeps it. */
  get kept(): boolean {
    return this.#store.keeps(this.seq);
  }

  /** Its list line. */
  summary(): ExchangeSummary {
    return this.#store.summaryOf(this.seq)!;
  }

  /** Everything recorded, in the wire format. */
  detail(): ExchangeDetail {
    return this.#store.detailOf(this.seq)!;
  }

  /** The request line and headers, as recorded. */
  get request(): { method: string; target: string; headers: Pair[] } {
    return this.#store.requestOf(this.seq);
  }

  /** The request body as the client sent it (see {@linkcode RequestBody}). */
  requestBody(): RequestBody {
    return this.#store.requestBodyOf(this.seq);
  }

  /** The kept bytes of its two streams (views of a fresh decoding), for searching. */
  bodies(): { request: Uint8Array; response: Uint8Array } {
    const reader = this.#store.readerOf(this.seq);
    return { request: reader.request.bytes(), response: reader.response.bytes() };
  }
}

/** A pending replay: its header value, and the exchange it became once it arrived. */
export interface ReplayTicket {
  /** The header to send with the replayed request. */
  readonly header: Pair;
  /** The new exchange, once the app server began recording it. */
  readonly exchange: KeptExchange | undefined;
  /** Forgets the ticket (call it when the replay is over). */
  release(): void;
}

function parseStatusFilter(status: string): (code: number) => boolean {
  const s = status.trim().toLowerCase();
  if (/^[1-5]xx$/.test(s)) {
    const hundred = Number(s[0]) * 100;
    return (code) => code >= hundred && code < hundred + 100;
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

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** The per-exchange index: typed arrays of `slots` entries; slot = seq % slots. */
class Index {
  readonly slots: number;
  /** The seq in the slot (0: none). */
  readonly seq: Float64Array;
  /** Logical position where the exchange's frames begin (the ring's head when it began). */
  readonly first: Float64Array;
  /** Logical position of its last frame (-1: none yet). */
  readonly last: Float64Array;
  /** Logical position of its `request` frame (-1: none yet). */
  readonly request: Float64Array;
  /** Logical position of its `headers_sent` frame (-1: none yet). */
  readonly sent: Float64Array;
  readonly startedAt: Float64Array;
  /** Milliseconds to end or abort (NaN while pending). */
  readonly duration: Float64Array;
  readonly status: Uint16Array;
  readonly state: Uint8Array;
  readonly truncated: Uint8Array;
  readonly errors: Uint32Array;
  /** Frames kept. */
  readonly events: Uint32Array;
  /** Bytes the app read (true total). */
  readonly read: Float64Array;
  /** Bytes of the request stream (read, then drained). */
  readonly requestSize: Float64Array;
  /** Whether the request body's end was seen (by the app's reads or the drain). */
  readonly requestComplete: Uint8Array;
  /** Response bytes produced, and where the response that was sent begins. */
  readonly produced: Float64Array;
  readonly bodyStart: Float64Array;
  /** Body bytes sent, from `end`/`abort` (NaN before). */
  readonly sentBytes: Float64Array;
  /** The seq this exchange replays (0: none). */
  readonly replayOf: Float64Array;
  /** The app generation that served it, under the CLI (0: none). */
  readonly generation: Uint32Array;
  /** The key of an ingested exchange in the store's map of other writers' ids (NaN: none). */
  readonly ingestKey: Float64Array;
  /** 1: loaded from a HAR file (`har_import.ts`), not recorded here. */
  readonly imported: Uint8Array;

  constructor(slots: number) {
    this.slots = slots;
    this.seq = new Float64Array(slots);
    this.first = new Float64Array(slots);
    this.last = new Float64Array(slots);
    this.request = new Float64Array(slots);
    this.sent = new Float64Array(slots);
    this.startedAt = new Float64Array(slots);
    this.duration = new Float64Array(slots);
    this.status = new Uint16Array(slots);
    this.state = new Uint8Array(slots);
    this.truncated = new Uint8Array(slots);
    this.errors = new Uint32Array(slots);
    this.events = new Uint32Array(slots);
    this.read = new Float64Array(slots);
    this.requestSize = new Float64Array(slots);
    this.requestComplete = new Uint8Array(slots);
    this.produced = new Float64Array(slots);
    this.bodyStart = new Float64Array(slots);
    this.sentBytes = new Float64Array(slots);
    this.replayOf = new Float64Array(slots);
    this.generation = new Uint32Array(slots);
    this.ingestKey = new Float64Array(slots);
    this.imported = new Uint8Array(slots);
  }

  /** Every column (typed array) of the index. */
  columns(): (Float64Array | Uint32Array | Uint16Array | Uint8Array)[] {
    return Object.values(this).filter((v): v is Float64Array => ArrayBuffer.isView(v));
  }
}

/** One writer's frames, as {@linkcode ExchangeStore.intake} takes them. */
class StoreIntake implements RecordIntake {
  readonly #store: ExchangeStore;
  readonly #source: number;
  readonly #secret: Secret | undefined;

  constructor(store: ExchangeStore, source: number, secret: Secret | undefined) {
    this.#store = store;
    this.#source = source;
    this.#secret = secret;
  }

  ingest(frames: Uint8Array): void {
    this.#store.ingest(frames, this.#source, this.#secret);
  }

  abortOpen(reason: string): number {
    return this.#store.abortIngested(this.#source, reason);
  }

  get open(): number {
    return this.#store.openIngested(this.#source);
  }

  openExchanges(): OpenExchange[] {
    return this.#store.openIngestedExchanges(this.#source);
  }

  answerOpen(id: number, answer: SupervisorAnswer): boolean {
    return this.#store.answerIngested(this.#source, id, answer);
  }
}

/**
 * A secret hidden in what the store takes from other processes: its bytes
 * (as a frame's strings may hold them: latin-1, UTF-8) to find it, and the
 * redaction that hides it.
 */
export class Secret {
  readonly #needles: Uint8Array[];
  readonly redaction: Redaction;

  /** @throws {RangeError} for an empty secret */
  constructor(secret: string) {
    this.redaction = redaction(secret);
    const utf8 = new TextEncoder().encode(secret);
    this.#needles = [utf8];
    if ([...secret].every((c) => c.charCodeAt(0) <= 0xff) && utf8.length !== secret.length) {
      this.#needles.push(Uint8Array.from(secret, (c) => c.charCodeAt(0)));
    }
  }

  /** Whether `bytes` hold the secret, in either encoding. */
  in(bytes: Uint8Array): boolean {
    for (const needle of this.#needles) {
      const first = needle[0]!;
      const last = bytes.length - needle.length;
      search: for (
        let i = bytes.indexOf(first);
        i !== -1 && i <= last;
        i = bytes.indexOf(first, i + 1)
      ) {
        for (let j = 1; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue search;
        return true;
      }
    }
    return false;
  }
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
export class ExchangeStore implements Recorder, WriterSink {
  /** Exchanges kept at most. */
  readonly maxExchanges: number;
  /** Body bytes kept per exchange and stream. */
  readonly maxBodyBytes: number;
  /** Events kept per exchange. */
  readonly maxEvents: number;
  /** Bytes of frames kept (the ring's size). */
  readonly memory: number;
  /** Writes frames into the ring (what {@linkcode ExchangeWriter}s write with). */
  readonly encoder: FrameEncoder;
  readonly #limits: CaptureLimits;
  readonly #ring: FrameRing;
  #index: Index;
  readonly #onError: (error: unknown) => void;
  /** The last seq given out. */
  #seq = 0;
  /** The smallest seq that may still be kept: every seq from it to `#seq` is. */
  #oldest = 1;
  readonly #listeners = new Set<StoreListener>();
  readonly #tickets = new Map<string, { original: string; seq?: number }>();
  /**
   * Exchanges being ingested: (source, writer's id) to seq, negated once it
   * ended (its `input_rest` may follow); dropped when it is evicted.
   */
  readonly #ingesting = new Map<number, number>();
  /** The last source number given out ({@linkcode ExchangeStore.intake}). */
  #sources = 0;
  #nonce = 0;
  #failures = 0;

  /** @throws {RangeError} for a cap that is not a positive integer, or a body cap over a quarter of the memory */
  constructor(options: StoreOptions = {}) {
    this.maxExchanges = positive("maxExchanges", options.maxExchanges, DEFAULT_MAX_EXCHANGES, 1);
    this.maxBodyBytes = positive("maxBodyBytes", options.maxBodyBytes, DEFAULT_MAX_BODY_BYTES, 0);
    this.maxEvents = positive("maxEvents", options.maxEvents, DEFAULT_MAX_EVENTS, 1);
    this.memory = positive("memory", options.memory, DEFAULT_MEMORY, MIN_MEMORY);
    if (this.maxBodyBytes > this.memory / 4) {
      throw new RangeError(
        `Cannot create the store: maxBodyBytes (${this.maxBodyBytes}) must be at most a quarter of the memory budget (${this.memory} bytes); raise the memory (--inspector-memory) or lower the body cap (--max-body-bytes)`,
      );
    }
    this.#limits = {
      maxBodyBytes: this.maxBodyBytes,
      maxEvents: this.maxEvents,
      // An error's text in UTF-8 (3 bytes a unit at most) stays well inside half the ring.
      maxText: Math.min(64 * 1024, Math.floor(this.memory / 64)),
    };
    this.#ring = new FrameRing(this.memory, {
      oldestStart: () => this.#oldestStart(),
      evictOldest: () => this.#evictOldest(),
    });
    this.encoder = this.#ring.encoder;
    this.#index = new Index(Math.min(this.maxExchanges, 256));
    this.#onError = options.onError ??
      ((error) =>
        console.error(
          `Inspector failed to record an event; the exchange goes on unrecorded: ${
            error instanceof Error ? error.stack ?? error.message : String(error)
          }`,
        ));
  }

  // -------------------------------------------------------------------------
  // Recording

  /** The caps of each exchange's capture (app processes under the CLI are given the same). */
  get limits(): CaptureLimits {
    return this.#limits;
  }

  /** Starts recording an exchange (called by the gateway for each request). */
  begin(request: Request, time?: number): ExchangeWriter {
    let replayOf = 0;
    if (this.#tickets.size > 0) replayOf = this.#claimTicket(request.headers.get(REPLAY_HEADER));
    const seq = this.#open(replayOf);
    return new ExchangeWriter(this, seq, time ?? performance.now(), this.#limits);
  }

  /** Gives out the next seq and sets up its slot; evicts to stay within the count. */
  #open(replayOf: number): number {
    const seq = ++this.#seq;
    if (seq - this.#oldest + 1 > this.maxExchanges) this.#evictOldest();
    if (seq - this.#oldest + 1 > this.#index.slots) this.#grow();
    const ix = this.#index;
    const slot = seq % ix.slots;
    ix.seq[slot] = seq;
    ix.first[slot] = this.#ring.head;
    ix.last[slot] = -1;
    ix.request[slot] = -1;
    ix.sent[slot] = -1;
    ix.startedAt[slot] = NaN;
    ix.duration[slot] = NaN;
    ix.status[slot] = 0;
    ix.state[slot] = PENDING;
    ix.truncated[slot] = 0;
    ix.errors[slot] = 0;
    ix.events[slot] = 0;
    ix.read[slot] = 0;
    ix.requestSize[slot] = 0;
    ix.requestComplete[slot] = 0;
    ix.produced[slot] = 0;
    ix.bodyStart[slot] = 0;
    ix.sentBytes[slot] = NaN;
    ix.replayOf[slot] = replayOf;
    ix.generation[slot] = 0;
    ix.ingestKey[slot] = NaN;
    ix.imported[slot] = 0;
    return seq;
  }

  /** Doubles the index (up to `maxExchanges` slots), moving every kept exchange. */
  #grow(): void {
    const old = this.#index;
    const grown = new Index(Math.min(this.maxExchanges, old.slots * 2));
    const from = old.columns();
    const to = grown.columns();
    for (let c = 0; c < from.length; c++) {
      const a = from[c]!;
      const b = to[c]!;
      for (let seq = this.#oldest; seq < this.#seq; seq++) {
        b[seq % grown.slots] = a[seq % old.slots]!;
      }
    }
    this.#index = grown;
  }

  /** Whether exchange `seq` is still kept ({@linkcode WriterSink}). */
  alive(seq: number): boolean {
    return this.#index.seq[seq % this.#index.slots] === seq;
  }

  /** Marks exchange `seq` as loaded from a HAR file (before its first frame: summaries say so). */
  markImported(seq: number): void {
    if (this.alive(seq)) this.#index.imported[seq % this.#index.slots] = 1;
  }

  /** Whether exchange `seq` is still kept. */
  keeps(seq: number): boolean {
    return seq >= this.#oldest && seq <= this.#seq && this.alive(seq);
  }

  /** Indexes the frame just written for `seq` ({@linkcode WriterSink}). */
  commit(seq: number, code: number): void {
    const enc = this.encoder;
    const at = enc.start;
    const ix = this.#index;
    const slot = seq % ix.slots;
    if (ix.seq[slot] !== seq) {
      // Evicted while its frame was written (the ring needed the bytes).
      enc.abandon();
      return;
    }
    enc.start = enc.pos;
    const logical = this.#ring.base + at;
    const index = ix.events[slot]!;
    ix.events[slot] = index + 1;
    ix.last[slot] = logical;
    const view = this.#ring.view;
    let announce = false;
    switch (code) {
      case C.request:
        ix.request[slot] = logical;
        ix.startedAt[slot] = view.getFloat64(at + AT.startedAt, true);
        announce = true;
        break;
      case C.input: {
        const b = at + AT.inputBytes;
        const size = view.getFloat64(b + 8, true);
        ix.read[slot] = ix.read[slot]! + size;
        ix.requestSize[slot] = ix.requestSize[slot]! + size;
        if (view.getUint32(b + 16, true) < size) ix.truncated[slot] = 1;
        break;
      }
      case C.input_rest: {
        const b = at + AT.restBytes;
        const size = view.getFloat64(b + 8, true);
        ix.requestSize[slot] = ix.requestSize[slot]! + size;
        const complete = (view.getUint8(at + 5) & FLAG.COMPLETE) !== 0;
        if (complete) ix.requestComplete[slot] = 1;
        else ix.truncated[slot] = 1;
        if (view.getUint32(b + 16, true) < size) ix.truncated[slot] = 1;
        announce = true;
        break;
      }
      case C.start_response:
        if ((view.getUint8(at + 5) & FLAG.ERROR) === 0 && ix.status[slot] === 0) {
          ix.bodyStart[slot] = ix.produced[slot]!;
        }
        break;
      case C.write:
      case C.chunk: {
        const b = at + AT.chunkBytes;
        const size = view.getFloat64(b + 8, true);
        ix.produced[slot] = ix.produced[slot]! + size;
        if (view.getUint32(b + 16, true) < size) ix.truncated[slot] = 1;
        break;
      }
      case C.headers_sent:
        ix.status[slot] = view.getUint16(at + AT.sentStatus, true);
        ix.sent[slot] = logical;
        announce = true;
        break;
      case C.errors:
        if ((view.getUint8(at + 5) & FLAG.CUT) !== 0) ix.truncated[slot] = 1;
        break;
      case C.error:
        ix.errors[slot] = ix.errors[slot]! + 1;
        break;
      case C.end:
      case C.abort: {
        ix.duration[slot] = view.getFloat64(at + 12, true);
        let b = at + HEADER_SIZE;
        if (code === C.end) b += 2;
        else b += 4 + (view.getUint32(b, true) & 0x7fffffff);
        ix.sentBytes[slot] = view.getFloat64(b, true);
        if (view.getUint32(b + 8, true) > 0) ix.truncated[slot] = 1;
        ix.state[slot] = ix.errors[slot]! > 0 ? ERROR : code === C.end ? COMPLETE : ABORTED;
        announce = true;
        break;
      }
    }
    if (this.#listeners.size === 0) return;
    // The summary first, so that a client knows the exchange before its events.
    if (announce) this.announce({ kind: "exchange", seq });
    this.announce({ kind: "event", seq, index, at: logical });
  }

  /** Reports a recording failure (never throws; {@linkcode WriterSink}). */
  failed(error: unknown): void {
    this.#failures++;
    try {
      this.#onError(error);
    } catch {
      // Nothing left to tell.
    }
  }

  #oldestStart(): number {
    if (this.#oldest > this.#seq) return Infinity;
    return this.#index.first[this.#oldest % this.#index.slots]!;
  }

  #evictOldest(): void {
    const seq = this.#oldest;
    if (seq > this.#seq) return;
    const ix = this.#index;
    const slot = seq % ix.slots;
    if (ix.seq[slot] === seq) {
      ix.seq[slot] = 0;
      const key = ix.ingestKey[slot]!;
      if (!Number.isNaN(key)) this.#ingesting.delete(key);
    }
    this.#oldest = seq + 1;
    if (this.#listeners.size > 0) this.announce({ kind: "evict", before: this.#oldest });
  }

  // -------------------------------------------------------------------------
  // Frames from another process

  /**
   * A reader of one writer's frames (an app process under the CLI; see
   * `server/dev/contract.ts`): {@linkcode ExchangeStore.ingest} with a source
   * number of its own, and the exchanges it left open. With `secret` (the
   * access token in token mode), the secret is hidden wherever it appears
   * in a request's target, headers or environ (`./redact.ts`).
   */
  intake(secret?: string): RecordIntake {
    return new StoreIntake(this, ++this.#sources, secret ? new Secret(secret) : undefined);
  }

  /**
   * Takes frames written elsewhere (by an {@linkcode ExchangeWriter} over a
   * `FrameBuffer`, in another process): whole frames, back to back. Each
   * writer's exchange ids are mapped to this store's; `source` tells writers
   * apart (one number per process). An exchange begins with its `request`
   * frame; frames of an exchange this store does not keep (never begun here,
   * or evicted) are dropped. The frames are copied into the ring as they
   * are: only the `request` frame is read (checked field by field, for its
   * generation), and the index reads each frame's fixed fields.
   *
   * @throws {RangeError} when a frame is cut or not of this format (what came
   *   before it is kept)
   */
  ingest(frames: Uint8Array, source = 0, secret?: Secret): void {
    const view = new DataView(frames.buffer, frames.byteOffset, frames.byteLength);
    let at = 0;
    while (at < frames.length) {
      if (frames.length - at < HEADER_SIZE) {
        throw new RangeError(
          `Cannot ingest frames: ${frames.length - at} bytes left, less than a frame header`,
        );
      }
      const length = view.getUint32(at, true);
      if (length < HEADER_SIZE || at + length > frames.length) {
        throw new RangeError(
          `Cannot ingest frames: a frame of ${length} bytes at ${at} does not fit the ${frames.length} given`,
        );
      }
      const version = view.getUint16(at + 6, true);
      if (version !== FORMAT_VERSION) {
        throw new RangeError(
          `Cannot ingest frames: format version ${version} (this inspector reads version ${FORMAT_VERSION})`,
        );
      }
      const start = at;
      at += length;
      const code = frames[start + 4]!;
      if (code < 1 || code > MAX_CODE) {
        throw new RangeError(`Cannot ingest frames: unknown type code ${code} at ${start}`);
      }
      const key = source * 2 ** 32 + view.getUint32(start + 8, true);
      let seq = this.#ingesting.get(key);
      // Negative: ended, but an `input_rest` may still follow.
      if (seq !== undefined && seq < 0) seq = -seq;
      if (code === C.request) {
        // Checked before it takes a seq.
        const generation = requestGeneration(frames, view, start);
        let replayOf = 0;
        if (this.#tickets.size > 0) {
          const decoded = decodeFrame(frames, view, start);
          if (decoded.event.type === "request") {
            const header = decoded.event.data.headers.find(([n]) =>
              n.toLowerCase() === REPLAY_HEADER
            );
            replayOf = this.#claimTicket(header?.[1] ?? null);
          }
        }
        seq = this.#open(replayOf);
        this.#ingesting.set(key, seq);
        const slot = seq % this.#index.slots;
        this.#index.ingestKey[slot] = key;
        this.#index.generation[slot] = generation;
      }
      if (seq === undefined) continue;
      if (!this.alive(seq)) {
        this.#ingesting.delete(key);
        continue;
      }
      try {
        const frame = frames.subarray(start, at);
        if (secret && (code === C.request || code === C.environ) && secret.in(frame)) {
          this.#writeRedacted(frames, view, start, seq, secret.redaction);
        } else {
          const placed = this.#ring.append(frame);
          this.#ring.view.setUint32(placed + 8, seq >>> 0, true);
        }
      } catch (error) {
        this.encoder.abandon();
        this.failed(error);
        continue;
      }
      this.commit(seq, code);
      if (code === C.end || code === C.abort) this.#ingesting.set(key, -seq);
    }
  }

  /** Writes the `request` or `environ` frame at `at` again for `seq`, with the secret hidden. */
  #writeRedacted(
    frames: Uint8Array,
    view: DataView,
    at: number,
    seq: number,
    redact: Redaction,
  ): void {
    const { event } = decodeFrame(frames, view, at);
    const enc = this.encoder;
    enc.begin(frames[at + 4]!, 0, seq, event.t);
    if (event.type === "request") {
      const d = redact.request(event.data as never) as unknown as typeof event.data;
      writeRequest(
        enc,
        d.startedAt,
        d.method,
        d.target,
        d.version,
        d.peer,
        d.headers,
        d.generation ?? 0,
        d.ref,
      );
    } else if (event.type === "environ") writeEnviron(enc, redact.environ(event.data.environ));
    enc.end();
  }

  /** Exchanges of `source` begun ({@linkcode ExchangeStore.ingest}) and not ended, still kept. */
  openIngested(source: number): number {
    let n = 0;
    for (const [key, seq] of this.#ingesting) {
      if (seq > 0 && Math.floor(key / 2 ** 32) === source) n++;
    }
    return n;
  }

  /**
   * The exchanges of `source` begun and not ended, still kept, oldest
   * first: their client (from the `request` frame) and whether their
   * headers went out.
   */
  openIngestedExchanges(source: number): OpenExchange[] {
    const open: OpenExchange[] = [];
    const ix = this.#index;
    const ring = this.#ring;
    for (const [key, seq] of this.#ingesting) {
      if (seq < 0 || Math.floor(key / 2 ** 32) !== source || !this.alive(seq)) continue;
      const slot = seq % ix.slots;
      const requestAt = ix.request[slot]!;
      let peer: OpenExchange["peer"];
      let method = "";
      if (requestAt >= 0) {
        const frame = decodeFrame(ring.buf, ring.view, ring.at(requestAt));
        if (frame.event.type === "request") {
          peer = frame.event.data.peer ?? undefined;
          method = frame.event.data.method;
        }
      }
      open.push({
        id: key,
        method,
        peer,
        headersSent: ix.sent[slot]! >= 0,
        startedAt: ix.startedAt[slot]!,
      });
    }
    return open.sort((a, b) => a.startedAt - b.startedAt);
  }

  /**
   * Ends open exchange `id` of `source` with an answer the supervisor sent
   * in its writer's stead (see {@linkcode SupervisorAnswer}): recorded as
   * the gateway records its own 504 (`error`, `start_response`, `chunk`,
   * `close`, `headers_sent`, `end`). False
   * when it is no longer open.
   */
  answerIngested(
    source: number,
    id: number,
    answer: SupervisorAnswer,
    time = performance.now(),
  ): boolean {
    const seq = this.#ingesting.get(id);
    if (seq === undefined || seq < 0 || Math.floor(id / 2 ** 32) !== source) return false;
    this.#ingesting.delete(id);
    if (!this.alive(seq)) return false;
    const slot = seq % this.#index.slots;
    this.#index.ingestKey[slot] = NaN;
    const t0 = this.#index.startedAt[slot]! - performance.timeOrigin;
    const writer = new ExchangeWriter(this, seq, Number.isNaN(t0) ? time : t0, this.#limits);
    const { error, headers, body, statusLine } = answer;
    const status = Number(statusLine.slice(0, 3));
    writer.record("error", { where: "gateway", ...error, stack: undefined }, time);
    writer.record("start_response", { status: statusLine, headers, exc_info: false }, time);
    writer.record("chunk", { index: 0, bytes: body }, time);
    // As the gateway's own 504 page, an array with no close().
    writer.record("close", { called: false }, time);
    writer.record("headers_sent", { status, status_line: statusLine, headers }, time);
    writer.record("end", { status, bytes: body.length }, time);
    return true;
  }

  /**
   * Ends every exchange of `source` still open with an `error` and an
   * `abort` that say `reason` (its writer is gone); returns how many.
   */
  abortIngested(source: number, reason: string, time = performance.now()): number {
    let n = 0;
    for (const [key, seq] of this.#ingesting) {
      if (seq < 0 || Math.floor(key / 2 ** 32) !== source) continue;
      this.#ingesting.delete(key);
      if (!this.alive(seq)) continue;
      const slot = seq % this.#index.slots;
      this.#index.ingestKey[slot] = NaN;
      const t0 = this.#index.startedAt[slot]! - performance.timeOrigin;
      const writer = new ExchangeWriter(this, seq, Number.isNaN(t0) ? time : t0, this.#limits);
      writer.record("error", { where: "gateway", name: "Error", message: reason }, time);
      writer.record("abort", { reason, bytes: 0 }, time);
      n++;
    }
    return n;
  }

  // -------------------------------------------------------------------------
  // Reading

  /** Number of exchanges kept. */
  get size(): number {
    return this.#seq - this.#oldest + 1;
  }

  /** Bytes of the ring that hold kept exchanges' frames. */
  get used(): number {
    const start = this.#oldestStart();
    return start === Infinity ? 0 : Math.min(this.memory, this.#ring.head - start);
  }

  /** Recorder failures so far (each also went to `onError`). */
  get failures(): number {
    return this.#failures;
  }

  /** Whether anyone listens to the live stream (the recorder skips announcing when not). */
  get listening(): boolean {
    return this.#listeners.size > 0;
  }

  /** The kept exchange with this id, if any (a handle made now). */
  get(id: string): KeptExchange | undefined {
    if (!/^[1-9]\d{0,15}$/.test(id)) return undefined;
    const seq = Number(id);
    return this.keeps(seq) ? new KeptExchange(this, seq) : undefined;
  }

  /** Kept exchanges, newest first (handles made as the iteration goes). */
  *exchanges(): IterableIterator<KeptExchange> {
    for (let seq = this.#seq; seq >= this.#oldest; seq--) {
      if (this.keeps(seq)) yield new KeptExchange(this, seq);
    }
  }

  /** Reads `method` and `target` from a request frame at physical `at`. */
  #requestLine(at: number): { method: string; target: string } {
    const view = this.#ring.view;
    const buf = this.#ring.buf;
    let p = at + HEADER_SIZE + 8;
    const read = () => {
      const word = view.getUint32(p, true);
      const n = word & 0x7fffffff;
      const s = word & 0x80000000
        ? new TextDecoder().decode(buf.subarray(p + 4, p + 4 + n))
        : latin1(buf, p + 4, p + 4 + n);
      p += 4 + n;
      return s;
    };
    const method = read();
    return { method, target: read() };
  }

  /** The list line of a kept exchange, from the index (and its request line). */
  summaryOf(seq: number): ExchangeSummary | undefined {
    if (!this.keeps(seq)) return undefined;
    const ix = this.#index;
    const slot = seq % ix.slots;
    const ring = this.#ring;
    const requestAt = ix.request[slot]!;
    const { method, target } = requestAt < 0
      ? { method: "", target: "" }
      : this.#requestLine(ring.at(requestAt));
    const sentAt = ix.sent[slot]!;
    let statusLine: string | null = null;
    if (sentAt >= 0) {
      const frame = decodeFrame(ring.buf, ring.view, ring.at(sentAt));
      if (frame.event.type === "headers_sent") statusLine = frame.event.data.status_line;
    }
    const duration = ix.duration[slot]!;
    const sent = ix.sentBytes[slot]!;
    const status = ix.status[slot]!;
    const summary: ExchangeSummary = {
      id: String(seq),
      seq,
      startedAt: Number.isNaN(ix.startedAt[slot]!) ? 0 : Math.round(ix.startedAt[slot]!),
      method,
      target,
      status: status === 0 ? null : status,
      statusLine,
      duration: Number.isNaN(duration) ? null : round(duration),
      requestBytes: ix.read[slot]!,
      responseBytes: Number.isNaN(sent) ? ix.produced[slot]! - ix.bodyStart[slot]! : sent,
      state: STATE_NAMES[ix.state[slot]!]!,
      truncated: ix.truncated[slot] === 1,
      errors: ix.errors[slot]!,
    };
    const replayOf = ix.replayOf[slot]!;
    if (replayOf > 0) summary.replayOf = String(replayOf);
    const generation = ix.generation[slot]!;
    if (generation > 0) summary.generation = generation;
    if (ix.imported[slot] === 1) summary.imported = true;
    if (requestAt >= 0 && (ring.buf[ring.at(requestAt) + 5]! & FLAG.REF) !== 0) {
      const frame = decodeFrame(ring.buf, ring.view, ring.at(requestAt));
      if (frame.event.type === "request" && frame.event.data.ref !== undefined) {
        summary.ref = frame.event.data.ref;
      }
    }
    return summary;
  }

  /** Calls `fn` with the physical position of each kept frame of exchange `seq`, in order. */
  #frames(seq: number, fn: (at: number) => void): void {
    const ix = this.#index;
    const slot = seq % ix.slots;
    const last = ix.last[slot]!;
    if (last < 0) return;
    const view = this.#ring.view;
    const id = seq >>> 0;
    this.#ring.walk(ix.first[slot]!, last, (at) => {
      if (view.getUint32(at + 8, true) === id) fn(at);
    });
  }

  /** Decodes every frame of a kept exchange (see {@linkcode KeptExchange.bodies}). */
  readerOf(seq: number): ExchangeReader {
    return this.#read(seq);
  }

  /** Decodes every frame of exchange `seq`. */
  #read(seq: number): ExchangeReader {
    const reader = new ExchangeReader();
    const ring = this.#ring;
    this.#frames(seq, (at) => reader.add(decodeFrame(ring.buf, ring.view, at), ring.buf));
    return reader;
  }

  /** Everything recorded about a kept exchange, in the wire format. */
  detailOf(seq: number): ExchangeDetail | undefined {
    const summary = this.summaryOf(seq);
    return summary && detailOf(summary, this.#read(seq));
  }

  /** The request line and headers of a kept exchange. */
  requestOf(seq: number): { method: string; target: string; headers: Pair[] } {
    const slot = seq % this.#index.slots;
    const at = this.#index.request[slot]!;
    if (!this.keeps(seq) || at < 0) return { method: "", target: "", headers: [] };
    const frame = decodeFrame(this.#ring.buf, this.#ring.view, this.#ring.at(at));
    if (frame.event.type !== "request") return { method: "", target: "", headers: [] };
    const { method, target, headers } = frame.event.data;
    return { method, target, headers };
  }

  /** The request body of a kept exchange as the client sent it. */
  requestBodyOf(seq: number): RequestBody {
    const ix = this.#index;
    const slot = seq % ix.slots;
    if (!this.keeps(seq)) return { bytes: new Uint8Array(0), size: 0, read: 0, complete: false };
    const reader = this.#read(seq);
    const bytes = reader.request.bytes().slice();
    const size = ix.requestSize[slot]!;
    const read = ix.read[slot]!;
    // Complete: nothing cut, and either the drain reached the end, or nothing was left to drain.
    const cut = bytes.length < size;
    const complete = !cut && (ix.requestComplete[slot] === 1 || !reader.drained);
    return { bytes, size, read, complete };
  }

  /** The live-stream message of one event (`at`: its frame's logical position), if it is still kept. */
  eventMessageOf(seq: number, index: number, at: number): StreamMessage | undefined {
    if (!this.keeps(seq) || at < this.#ring.tail) return undefined;
    const ring = this.#ring;
    const frame = decodeFrame(ring.buf, ring.view, ring.at(at));
    return eventMessage(String(seq), index, frame, ring.buf);
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
    const ix = this.#index;
    let total = 0;
    const exchanges: ExchangeSummary[] = [];
    for (let seq = this.#seq; seq >= this.#oldest; seq--) {
      const slot = seq % ix.slots;
      if (ix.seq[slot] !== seq) continue;
      if (status !== undefined && !status(ix.status[slot]!)) continue;
      if (method !== undefined || q !== undefined) {
        const at = ix.request[slot]!;
        const line = at < 0 ? { method: "", target: "" } : this.#requestLine(this.#ring.at(at));
        if (method !== undefined && line.method.toUpperCase() !== method) continue;
        if (q !== undefined && !line.target.toLowerCase().includes(q)) continue;
      }
      if (filter.match !== undefined && !filter.match(new KeptExchange(this, seq))) continue;
      total++;
      if (seq < before && exchanges.length < limit) exchanges.push(this.summaryOf(seq)!);
    }
    return {
      total,
      exchanges,
      maxExchanges: this.maxExchanges,
      memory: { budget: this.memory, used: this.used },
    };
  }

  /** Drops every kept exchange and tells listeners. Returns how many were dropped. */
  clear(): number {
    const count = this.size;
    const ix = this.#index;
    for (let seq = this.#oldest; seq <= this.#seq; seq++) ix.seq[seq % ix.slots] = 0;
    this.#oldest = this.#seq + 1;
    this.#ingesting.clear();
    this.announce({ kind: "clear" });
    return count;
  }

  // -------------------------------------------------------------------------
  // Listeners and replays

  /**
   * Listens to new exchanges, their summary changes, their events and
   * evictions. Messages carry positions; decode them when sending, not in
   * the listener (the listener runs on the app server's hot path).
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

  /** The seq of the original a replay header's ticket names (0: none), linking it once. */
  #claimTicket(value: string | null): number {
    const ticket = value === null ? undefined : this.#tickets.get(value);
    if (ticket === undefined || ticket.seq !== undefined) return 0;
    ticket.seq = this.#seq + 1;
    return Number(ticket.original) || 0;
  }

  /**
   * Issues a ticket that links the next request carrying its header to
   * `originalId`, as a replay. Release it when the replay is over.
   */
  replayTicket(originalId: string): ReplayTicket {
    const value = `${originalId}; ${++this.#nonce}-${crypto.randomUUID()}`;
    const entry: { original: string; seq?: number } = { original: originalId };
    this.#tickets.set(value, entry);
    const handle = (seq: number) => new KeptExchange(this, seq);
    return {
      header: [REPLAY_HEADER, value],
      get exchange() {
        return entry.seq === undefined ? undefined : handle(entry.seq);
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
