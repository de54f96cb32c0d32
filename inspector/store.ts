/**
 * The bounded store: the inspector's {@linkcode Recorder}.
 *
 * Every event of every exchange is one frame of the record format
 * (`record.ts`, specified in `docs/record.md`), written by an
 * {@linkcode ExchangeWriter} straight into one byte ring of `memory` bytes
 * (`ring.ts`; 64 MiB by default). Besides the ring, the store keeps a small
 * index record per exchange in one typed array (`store_index.ts`: where its
 * frames are, its status, its byte counts: what the list needs without
 * decoding), and no JavaScript object per kept exchange, so a kept exchange
 * costs the garbage collector nothing. Frames are decoded only when the API
 * or the live stream asks (`store_read.ts`, `wire.ts`).
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
 * come in through {@linkcode ExchangeStore.intake} (`store_intake.ts`).
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

import type {
  EnvironRule,
  OpenExchange,
  Recorder,
  RecordIntake,
  SupervisorAnswer,
} from "../server/recorder.ts";
import { type CaptureLimits, ExchangeWriter, type WriterSink } from "./capture.ts";
import type {
  ExchangeDetail,
  ExchangeList,
  ExchangeSummary,
  Pair,
  SearchCut,
  StreamMessage,
} from "./protocol.ts";
import type { FrameEncoder } from "./record.ts";
import { decodeFrame } from "./record_read.ts";
import { FrameRing } from "./ring.ts";
import { CHANGES_SUMMARY, ExchangeIndex } from "./store_index.ts";
import { Intake, Secret } from "./store_intake.ts";
import {
  detailFrom,
  eventMessageFrom,
  KeptExchange,
  type KeptSource,
  type ListFilter,
  readExchange,
  type RequestBody,
  requestBodyFrom,
  requestFrom,
  requestLine,
  statusFilter,
  summaryOf,
} from "./store_read.ts";
import type { ExchangeReader } from "./wire.ts";

export { Secret } from "./store_intake.ts";
export { KeptExchange, type ListFilter, type RequestBody } from "./store_read.ts";

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
  /**
   * The gateway's rule to rebuild an environ from its derivation
   * (`deriveEnviron` of `server/environ_rule.ts`), for derived environs
   * that come from other processes ({@linkcode ExchangeStore.ingest}). In
   * this process the store takes the rule the gateway hands it with the
   * first environ.
   */
  environRule?: EnvironRule;
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

/** A pending replay: its header value, and the exchange it became once it arrived. */
export interface ReplayTicket {
  /** The header to send with the replayed request. */
  readonly header: Pair;
  /** The new exchange, once the app server began recording it. */
  readonly exchange: KeptExchange | undefined;
  /** Forgets the ticket (call it when the replay is over). */
  release(): void;
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
export class ExchangeStore implements Recorder, WriterSink, KeptSource {
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
  #index: ExchangeIndex;
  readonly #intake: Intake;
  readonly #onError: (error: unknown) => void;
  /** The last seq given out. */
  #seq = 0;
  /** The smallest seq that may still be kept: every seq from it to `#seq` is. */
  #oldest = 1;
  readonly #listeners = new Set<StoreListener>();
  readonly #tickets = new Map<string, { original: string; seq?: number }>();
  #nonce = 0;
  #failures = 0;
  /** How derived environs are rebuilt (see {@linkcode StoreOptions.environRule}). */
  #environRule: EnvironRule | undefined;

  /** @throws {RangeError} for a cap that is not a positive integer, or a body cap over a quarter of the memory */
  constructor(options: StoreOptions = {}) {
    this.maxExchanges = positive("maxExchanges", options.maxExchanges, DEFAULT_MAX_EXCHANGES, 1);
    this.maxBodyBytes = positive("maxBodyBytes", options.maxBodyBytes, DEFAULT_MAX_BODY_BYTES, 0);
    this.maxEvents = positive("maxEvents", options.maxEvents, DEFAULT_MAX_EVENTS, 1);
    this.#environRule = options.environRule;
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
    this.#index = new ExchangeIndex(Math.min(this.maxExchanges, 256));
    this.#intake = new Intake({
      encoder: this.encoder,
      open: (replayOf) => this.#open(replayOf),
      claimTicket: (value) => this.#claimTicket(value),
      ticketsPending: () => this.#tickets.size > 0,
      alive: (seq) => this.alive(seq),
      tag: (seq, key, generation) => {
        this.#index.setIngestKey(seq, key);
        this.#index.setGeneration(seq, generation);
      },
      append: (frame, seq) => this.#place(frame, seq),
      commit: (seq, code) => this.commit(seq, code),
      failed: (error) => this.failed(error),
      replayHeader: REPLAY_HEADER,
      abortIngested: (source, reason) => this.abortIngested(source, reason),
      openIngestedExchanges: (source) => this.openIngestedExchanges(source),
      answerIngested: (source, id, answer) => this.answerIngested(source, id, answer),
    });
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
    if (seq - this.#oldest + 1 > this.#index.slots) {
      // Doubles the index (up to `maxExchanges` slots), moving every kept exchange.
      const slots = Math.min(this.maxExchanges, this.#index.slots * 2);
      this.#index = this.#index.grown(slots, this.#oldest, seq - 1);
    }
    this.#index.open(seq, this.#ring.head, replayOf);
    return seq;
  }

  /**
   * Whether environs built with `rule` may be written as their derivation
   * ({@linkcode WriterSink}): yes with the store's rule, which is the first
   * one it is asked about when none was given.
   */
  derives(rule: EnvironRule): boolean {
    this.#environRule ??= rule;
    return rule === this.#environRule;
  }

  /** The rule derived environs are rebuilt with, once known. */
  get environRule(): EnvironRule | undefined {
    return this.#environRule;
  }

  /**
   * Whether exchange `seq`, given out by this store, is still kept
   * ({@linkcode WriterSink}): exchanges go in seq order (evicted or
   * cleared), so a store field says it, without the index's slot.
   */
  alive(seq: number): boolean {
    return seq >= this.#oldest;
  }

  /**
   * Keeps one exchange whose frames were written elsewhere, whole, before
   * any of them reached the store (by an {@linkcode ExchangeWriter} over a
   * `FrameBuffer`: `har_import.ts` writes an entry so), as a new exchange
   * marked imported: whole frames back to back, its `request` frame
   * first. The caller checks that each frame takes at most half the memory
   * budget (eight-byte aligned), as the ring asks: a bigger one would throw
   * with the exchange half kept. Like a new recording, it may evict the
   * oldest exchanges to make room.
   *
   * @returns its seq
   */
  importFrames(frames: Uint8Array): number {
    const seq = this.#open(0);
    this.#index.setImported(seq);
    const view = new DataView(frames.buffer, frames.byteOffset, frames.byteLength);
    for (let at = 0; at < frames.length;) {
      const length = view.getUint32(at, true);
      this.#place(frames.subarray(at, at + length), seq);
      if (!this.commit(seq, frames[at + 4]!)) break;
      at += length;
    }
    return seq;
  }

  /** Copies a whole frame written elsewhere into the ring, as exchange `seq`'s (its id rewritten); `commit()` indexes it. */
  #place(frame: Uint8Array, seq: number): void {
    const ring = this.#ring;
    const placed = ring.append(frame);
    ring.view.setUint32(placed + 8, seq >>> 0, true);
  }

  /** How many kept exchanges were recorded here, and how many loaded from HAR files. */
  origins(): { recorded: number; imported: number } {
    const ix = this.#index;
    let recorded = 0;
    let imported = 0;
    for (let seq = this.#oldest; seq <= this.#seq; seq++) {
      if (!ix.has(seq)) continue;
      if (ix.imported(seq)) imported++;
      else recorded++;
    }
    return { recorded, imported };
  }

  /** Whether exchange `seq` is still kept. */
  keeps(seq: number): boolean {
    return seq >= this.#oldest && seq <= this.#seq && this.#index.has(seq);
  }

  /** Indexes the frame just written for `seq` ({@linkcode WriterSink}). */
  commit(seq: number, code: number): boolean {
    const enc = this.encoder;
    const at = enc.start;
    const ix = this.#index;
    if (seq < this.#oldest) {
      // Evicted, before or while its frame was written (the ring needed the bytes).
      enc.abandon();
      return false;
    }
    enc.start = enc.pos;
    const logical = this.#ring.base + at;
    const index = ix.frame(seq, code, this.#ring.view, at, logical);
    if (this.#listeners.size === 0) return true;
    // The summary first, so that a client knows the exchange before its events.
    if (CHANGES_SUMMARY[code]) this.announce({ kind: "exchange", seq });
    this.announce({ kind: "event", seq, index, at: logical });
    return true;
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
    return this.#index.first(this.#oldest);
  }

  #evictOldest(): void {
    const seq = this.#oldest;
    if (seq > this.#seq) return;
    const ix = this.#index;
    if (ix.has(seq)) {
      // An in-process store's slots hold no intake key: not read (the slot's second cache line).
      if (this.#intake.active) this.#intake.forget(ix.ingestKey(seq));
      ix.drop(seq);
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
    return this.#intake.reader(secret ? new Secret(secret) : undefined);
  }

  /**
   * Takes frames written elsewhere (by an {@linkcode ExchangeWriter} over a
   * `FrameBuffer`, in another process): whole frames, back to back. Each
   * writer's exchange ids are mapped to this store's; `source` tells writers
   * apart (one number per process). An exchange begins with its `request`
   * frame; frames of an exchange this store does not keep (never begun here,
   * or evicted) are dropped. The frames are copied into the ring as they
   * are: only the `request` frame is read (checked field by field, for its
   * generation), and the index reads each frame's fixed fields
   * (`store_intake.ts`).
   *
   * @throws {RangeError} when a frame is cut or not of this format (what came
   *   before it is kept)
   */
  ingest(frames: Uint8Array, source = 0, secret?: Secret): void {
    this.#intake.ingest(frames, source, secret);
  }

  /** Exchanges of `source` begun ({@linkcode ExchangeStore.ingest}) and not ended, still kept. */
  openIngested(source: number): number {
    return this.#intake.open(source);
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
    for (const [key, seq] of this.#intake.openEntries(source)) {
      if (!this.alive(seq)) continue;
      const requestAt = ix.request(seq);
      let peer: OpenExchange["peer"];
      let method = "";
      let target: string | undefined;
      if (requestAt >= 0) {
        const frame = decodeFrame(ring.buf, ring.view, ring.at(requestAt));
        if (frame.event.type === "request") {
          peer = frame.event.data.peer ?? undefined;
          method = frame.event.data.method;
          target = frame.event.data.target;
        }
      }
      open.push({
        id: key,
        method,
        target,
        peer,
        headersSent: ix.sent(seq) >= 0,
        startedAt: ix.startedAt(seq),
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
    const seq = this.#intake.takeOne(source, id);
    if (seq === undefined || !this.alive(seq)) return false;
    this.#index.setIngestKey(seq, NaN);
    const t0 = this.#index.startedAt(seq) - performance.timeOrigin;
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
    for (const seq of this.#intake.takeOpen(source)) {
      if (!this.alive(seq)) continue;
      const ix = this.#index;
      ix.setIngestKey(seq, NaN);
      const t0 = ix.startedAt(seq) - performance.timeOrigin;
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

  /** The list line of a kept exchange, from the index (and its request line). */
  summaryOf(seq: number): ExchangeSummary | undefined {
    return this.keeps(seq) ? summaryOf(this.#ring, this.#index, seq) : undefined;
  }

  /** Decodes every frame of a kept exchange (see {@linkcode KeptExchange.bodies}). */
  readerOf(seq: number): ExchangeReader {
    return readExchange(this.#ring, this.#index, seq, this.#environRule);
  }

  /** Everything recorded about a kept exchange, in the wire format. */
  detailOf(seq: number): ExchangeDetail | undefined {
    return this.keeps(seq)
      ? detailFrom(this.#ring, this.#index, seq, this.#environRule)
      : undefined;
  }

  /** The request line and headers of a kept exchange. */
  requestOf(seq: number): { method: string; target: string; headers: Pair[] } {
    if (!this.keeps(seq)) return { method: "", target: "", headers: [] };
    return requestFrom(this.#ring, this.#index, seq);
  }

  /** The request body of a kept exchange as the client sent it. */
  requestBodyOf(seq: number): RequestBody {
    if (!this.keeps(seq)) return { bytes: new Uint8Array(0), size: 0, read: 0, complete: false };
    return requestBodyFrom(this.#ring, this.#index, seq);
  }

  /** The live-stream message of one event (`at`: its frame's logical position), if it is still kept. */
  eventMessageOf(seq: number, index: number, at: number): StreamMessage | undefined {
    if (!this.keeps(seq) || at < this.#ring.tail) return undefined;
    return eventMessageFrom(this.#ring, this.#index, seq, index, at, this.#environRule);
  }

  /**
   * One page of exchange summaries, newest first.
   *
   * @throws {RangeError} when `status` is neither a code nor a class like `4xx`
   */
  list(filter: ListFilter = {}): ExchangeList {
    const method = filter.method?.toUpperCase() || undefined;
    const q = filter.q?.toLowerCase() || undefined;
    const status = filter.status ? statusFilter(filter.status) : undefined;
    const limit = filter.limit ?? 100;
    const before = filter.before ?? Infinity;
    const ix = this.#index;
    let total = 0;
    let cut: SearchCut | undefined;
    const exchanges: ExchangeSummary[] = [];
    for (let seq = this.#seq; seq >= this.#oldest; seq--) {
      if (!ix.has(seq)) continue;
      if (status !== undefined && !status(ix.status(seq))) continue;
      if (method !== undefined || q !== undefined) {
        const line = requestLine(this.#ring, ix, seq);
        if (method !== undefined && line.method.toUpperCase() !== method) continue;
        if (q !== undefined && !line.target.toLowerCase().includes(q)) continue;
      }
      if (filter.match !== undefined) {
        const kept = filter.match(new KeptExchange(this, seq));
        if (typeof kept === "object") {
          cut = kept;
          break;
        }
        if (!kept) continue;
      }
      total++;
      if (seq < before && exchanges.length < limit) exchanges.push(summaryOf(this.#ring, ix, seq));
    }
    const list: ExchangeList = {
      total,
      exchanges,
      maxExchanges: this.maxExchanges,
      memory: { budget: this.memory, used: this.used },
    };
    if (cut !== undefined) list.searchCut = cut;
    return list;
  }

  /** Drops every kept exchange and tells listeners. Returns how many were dropped. */
  clear(): number {
    const count = this.size;
    const ix = this.#index;
    for (let seq = this.#oldest; seq <= this.#seq; seq++) ix.drop(seq);
    this.#oldest = this.#seq + 1;
    this.#intake.clear();
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
