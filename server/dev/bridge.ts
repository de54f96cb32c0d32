/**
 * The recording bridge: the app process's gateway events, carried over the
 * channel (`./channel.ts`) to the supervisor, which feeds them to the
 * inspector as if the gateway had run in its own process.
 *
 * Two halves behind one small interface, so that the encoding can change
 * without touching the supervisor or the app process:
 *
 * - {@linkcode ChannelRecorder} (app process): a `Recorder` that turns each
 *   event into one self-contained RECORD message;
 * - {@linkcode RecordIngest} (supervisor): decodes those messages and replays
 *   them into any `Recorder` (the inspector's store), with the arrival and
 *   times mapped onto the supervisor's clock.
 *
 * The payload of a RECORD message is one event, encoded by `./codec.ts`;
 * the inspector's compact record format (issue 9) is meant to replace that
 * encoding, here and nowhere else.
 *
 * @module
 */

import type { EventMap, EventType, ExchangeRecorder, Pair, Recorder } from "../recorder.ts";
import { type ChannelWriter, RECORD } from "./channel.ts";
import { decodeEvent, encodeEvent, type EventExtras } from "./codec.ts";

/**
 * Where an environ keeps its exchange's reference, for the debug page's link:
 * a symbol, which `for...in` and `Object.keys` skip, so the application and
 * the recorded environ do not see it (a WeakMap would cost the garbage
 * collector more).
 */
const REF: unique symbol = Symbol("wsgi.exchange_ref");

/** The exchanges an app process has begun and not yet ended. */
class OpenExchange implements ExchangeRecorder {
  readonly id: number;
  readonly t0: number;
  /** `generation.worker.id`: how the inspector finds this exchange (the debug page links to it). */
  readonly ref: string;
  readonly #owner: ChannelRecorder;
  /** Body bytes sent so far per direction, for the cap. */
  inBytes = 0;
  outBytes = 0;

  constructor(owner: ChannelRecorder, id: number, t0: number, ref: string) {
    this.#owner = owner;
    this.id = id;
    this.t0 = t0;
    this.ref = ref;
  }

  /** How much of an unread request body to drain after the response (see `server/recorder.ts`). */
  get restWanted(): number {
    return Math.max(0, this.#owner.cap - this.inBytes);
  }

  record<K extends EventType>(type: K, data: EventMap[K], time?: number): void {
    this.#owner.write(this, type, data, (time ?? performance.now()) - this.t0);
    if (type === "end" || type === "abort") this.#owner.open.delete(this);
  }
}

/**
 * The app process's recorder: each event becomes one RECORD message on the
 * channel. Bytes beyond `maxBodyBytes` per exchange and direction are not
 * sent (their true size is).
 */
export class ChannelRecorder implements Recorder {
  readonly #out: ChannelWriter;
  /** Body bytes sent per exchange and direction. */
  readonly cap: number;
  readonly #prefix: string;
  #seq = 0;
  /** Exchanges begun and not ended: a fault with one open can be put on it. */
  readonly open = new Set<OpenExchange>();
  readonly #extras: EventExtras = { arrival: 0, ref: "", keep: -1 };

  /**
   * @param maxBodyBytes body bytes sent per exchange and direction
   * @param prefix of each exchange's reference (`generation.worker`)
   */
  constructor(out: ChannelWriter, maxBodyBytes: number, prefix = "0.0") {
    this.#out = out;
    this.cap = maxBodyBytes;
    this.#prefix = prefix;
  }

  begin(_request: Request, time?: number): ExchangeRecorder {
    const id = ++this.#seq;
    const exchange = new OpenExchange(this, id, time ?? performance.now(), `${this.#prefix}.${id}`);
    this.open.add(exchange);
    return exchange;
  }

  /** The reference of the exchange that `environ` belongs to, while it is open. */
  refOf(environ: object): string | undefined {
    return (environ as { [REF]?: string })[REF];
  }

  /** Encodes one event of `exchange` at `t` ms since its arrival. */
  write<K extends EventType>(exchange: OpenExchange, type: K, data: EventMap[K], t: number): void {
    const out = this.#out.open(RECORD);
    if (!out) return;
    const extras = this.#extras;
    if (type === "request") {
      extras.arrival = performance.timeOrigin + exchange.t0;
      extras.ref = exchange.ref;
    } else if (type === "environ") {
      const environ = (data as EventMap["environ"]).environ as unknown as { [REF]?: string };
      environ[REF] = exchange.ref;
    } else if (type === "input" || type === "input_rest" || type === "write" || type === "chunk") {
      const n = (data as EventMap["chunk"]).bytes.length;
      const input = type === "input" || type === "input_rest";
      const keep = Math.min(
        n,
        Math.max(0, this.cap - (input ? exchange.inBytes : exchange.outBytes)),
      );
      if (input) exchange.inBytes += keep;
      else exchange.outBytes += keep;
      extras.keep = keep === n ? -1 : keep;
    }
    encodeEvent(out, exchange.id, type, t, data, extras);
    this.#out.end(out.at);
    // Out before the application runs: if it never returns (a CPU-bound loop),
    // the supervisor still knows which request it was (Deno starts the write at
    // once). At most one such write a millisecond: under load the batches of
    // the timer carry the events, and a request that spins within a
    // millisecond of the last write goes unrecorded.
    if (type === "call") this.#out.flushEager(1);
  }
}

/** An exchange being replayed into the supervisor's recorder. */
interface Replayed {
  rec: ExchangeRecorder | undefined;
  /** Arrival on the supervisor's `performance.now()` clock. */
  t0: number;
}

/**
 * The supervisor's half: replays one app process's RECORD messages into a
 * `Recorder`, and knows which of its exchanges are still open.
 */
export class RecordIngest {
  readonly #recorder: Recorder;
  readonly #open = new Map<number, Replayed>();

  constructor(recorder: Recorder) {
    this.#recorder = recorder;
  }

  /** Exchanges begun and not yet ended. */
  get open(): number {
    return this.#open.size;
  }

  /** Replays one RECORD payload. Never throws for a well-formed one. */
  ingest(payload: Uint8Array): void {
    const e = decodeEvent(payload);
    let x = this.#open.get(e.exchange);
    if (e.type === "request") {
      const t0 = e.arrival! - performance.timeOrigin;
      const headers = (e.data as EventMap["request"]).headers;
      // The store reads headers only to link a replay: built only then.
      const request = {
        get headers() {
          return new Headers(headers as Pair[]);
        },
      } as unknown as Request;
      x = { rec: this.#recorder.begin(request, t0), t0 };
      this.#open.set(e.exchange, x);
      if (e.ref) (e.data as { ref?: string }).ref = e.ref;
    }
    if (x === undefined) return;
    x.rec?.record(e.type, e.data as never, x.t0 + e.t);
    if (e.type === "end" || e.type === "abort") this.#open.delete(e.exchange);
  }

  /**
   * Ends every open exchange with an `abort` (the app process is gone):
   * `reason` says why.
   */
  abortOpen(reason: string): number {
    const now = performance.now();
    const n = this.#open.size;
    for (const x of this.#open.values()) {
      x.rec?.record("error", {
        where: "gateway",
        name: "Error",
        message: reason,
      }, now);
      x.rec?.record("abort", { reason, bytes: 0 }, now);
    }
    this.#open.clear();
    return n;
  }
}
