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
 * The payload of a RECORD message (little-endian): `u32 exchange` (the app
 * process's own count), `u8 type` ({@linkcode TYPE_CODES}), `f64 t`
 * (milliseconds since the exchange arrived), `u32 n`, `n` bytes of UTF-8
 * JSON (the event's data, bytes left out), then the event's bytes, if any
 * (input, write, chunk), up to the per-exchange cap; the JSON's `size` says
 * how many there were. The `request` event's JSON also carries `arrival`
 * (epoch milliseconds); the `environ` event's carries a JSON-safe snapshot.
 * The inspector's compact record format (issue 9) replaces this encoding
 * here, and nowhere else.
 *
 * @module
 */

import type { EventMap, EventType, ExchangeRecorder, Pair, Recorder } from "../recorder.ts";
import { type ChannelWriter, RECORD } from "./channel.ts";

/** Each event type's one-byte code on the channel. */
export const TYPE_CODES: Record<EventType, number> = {
  request: 1,
  environ: 2,
  call: 3,
  input: 4,
  start_response: 5,
  write: 6,
  chunk: 7,
  headers_sent: 8,
  errors: 9,
  error: 10,
  lint: 11,
  close: 12,
  end: 13,
  abort: 14,
};
const TYPES: EventType[] = [];
for (const [type, code] of Object.entries(TYPE_CODES)) TYPES[code] = type as EventType;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A JSON-safe value: what an environ snapshot holds. */
type Snapshot = string | number | boolean | null | Snapshot[];

function describe(value: unknown, depth = 0): Snapshot {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "undefined":
      return null;
    case "function":
      return `[function ${value.name || "anonymous"}]`;
    case "bigint":
    case "symbol":
      return value.toString();
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

function snapshot(environ: Readonly<Record<string, unknown>>): Record<string, Snapshot> {
  const out: Record<string, Snapshot> = {};
  for (const key in environ) {
    const value = environ[key];
    out[key] = typeof value === "string" ? value : describe(value);
  }
  return out;
}

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
  readonly #cap: number;
  readonly #prefix: string;
  #seq = 0;
  /** Exchanges begun and not ended: a fault with one open can be put on it. */
  readonly open = new Set<OpenExchange>();
  readonly #byEnviron = new WeakMap<object, OpenExchange>();

  /**
   * @param maxBodyBytes body bytes sent per exchange and direction
   * @param prefix of each exchange's reference (`generation.worker`)
   */
  constructor(out: ChannelWriter, maxBodyBytes: number, prefix = "0.0") {
    this.#out = out;
    this.#cap = maxBodyBytes;
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
    return this.#byEnviron.get(environ)?.ref;
  }

  /** Encodes one event of `exchange` at `t` ms since its arrival. */
  write<K extends EventType>(exchange: OpenExchange, type: K, data: EventMap[K], t: number): void {
    let json: unknown = data;
    let bytes: Uint8Array | undefined;
    switch (type) {
      case "request": {
        const d = data as EventMap["request"];
        json = {
          method: d.method,
          target: d.target,
          version: d.version,
          peer: d.peer && { hostname: d.peer.hostname, port: d.peer.port },
          headers: d.headers,
          arrival: performance.timeOrigin + exchange.t0,
          ref: exchange.ref,
        };
        break;
      }
      case "environ": {
        const environ = (data as EventMap["environ"]).environ;
        this.#byEnviron.set(environ, exchange);
        json = { environ: snapshot(environ) };
        break;
      }
      case "input":
      case "write":
      case "chunk": {
        const d = data as EventMap["chunk"] & Partial<EventMap["input"]>;
        const input = type === "input";
        const room = Math.max(0, this.#cap - (input ? exchange.inBytes : exchange.outBytes));
        bytes = d.bytes.length > room ? d.bytes.subarray(0, room) : d.bytes;
        if (input) exchange.inBytes += bytes.length;
        else exchange.outBytes += bytes.length;
        json = input
          ? { method: d.method, size: d.bytes.length, requested: d.size }
          : { index: d.index, size: d.bytes.length };
        break;
      }
      case "start_response": {
        const d = data as EventMap["start_response"];
        json = { ...d, status: describe(d.status), headers: describe(d.headers) };
        if (Array.isArray(d.headers) && d.error === undefined) json = d;
        break;
      }
    }
    const text = JSON.stringify(json);
    const extra = bytes?.length ?? 0;
    const m = this.#out.begin(RECORD, 17 + text.length * 3 + extra);
    if (!m) return;
    const { buf, view } = m;
    let at = m.at;
    view.setUint32(at, exchange.id, true);
    view.setUint8(at + 4, TYPE_CODES[type]);
    view.setFloat64(at + 5, t, true);
    const n = encoder.encodeInto(text, buf.subarray(at + 17)).written;
    view.setUint32(at + 13, n, true);
    at += 17 + n;
    if (bytes && extra > 0) {
      buf.set(bytes, at);
      at += extra;
    }
    this.#out.end(at);
  }
}

/** One decoded RECORD message. */
export interface DecodedEvent {
  exchange: number;
  type: EventType;
  t: number;
  data: Record<string, unknown>;
}

/** Decodes a RECORD payload (byte fields become views of `payload`). */
export function decodeRecord(payload: Uint8Array): DecodedEvent {
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const exchange = view.getUint32(0, true);
  const type = TYPES[view.getUint8(4)];
  if (type === undefined) {
    throw new RangeError(`Cannot decode a recorded event: unknown type ${view.getUint8(4)}`);
  }
  const t = view.getFloat64(5, true);
  const n = view.getUint32(13, true);
  const data = JSON.parse(decoder.decode(payload.subarray(17, 17 + n))) as Record<string, unknown>;
  if (type === "input") {
    // The recorder's payload: the size asked for, and the bytes (the cap may have cut them).
    data.size = data.requested;
    delete data.requested;
    data.bytes = payload.subarray(17 + n);
  } else if (type === "write" || type === "chunk") {
    delete data.size;
    data.bytes = payload.subarray(17 + n);
  }
  return { exchange, type, t, data };
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
    const e = decodeRecord(payload);
    let x = this.#open.get(e.exchange);
    if (e.type === "request") {
      const d = e.data as EventMap["request"] & { arrival: number };
      const t0 = d.arrival - performance.timeOrigin;
      const headers = d.headers;
      // The store reads headers only to link a replay: built only then.
      const request = {
        get headers() {
          return new Headers(headers as Pair[]);
        },
      } as unknown as Request;
      x = { rec: this.#recorder.begin(request, t0), t0 };
      this.#open.set(e.exchange, x);
      delete (d as { arrival?: number }).arrival;
      // `ref` stays in the payload: an inspector that knows it keeps it (see DevInspector).
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
