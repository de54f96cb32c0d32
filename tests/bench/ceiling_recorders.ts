/**
 * Recorders that bound what any recorder can cost, for the throughput
 * benchmark's ceiling contenders (`inprocess_server.ts --recorder NAME`) and
 * `record_cpu.ts`:
 *
 * - {@linkcode seamRecorder} (`seam`): records nothing. The gateway with it
 *   pays the recording seam alone (the recorded exchange, its events'
 *   payloads filled, its clock readings): what the gateway costs any
 *   recorder before the recorder does anything.
 * - {@linkcode CopyRecorder} (`copy`): does only what any recorder must do to
 *   keep an exchange at all: copies the request head (method, target, header
 *   names and values), the response head (status line, header names and
 *   values) and the body bytes into one preallocated ring of bytes, each
 *   string with a length, and nothing else: no environ, no event times, no
 *   index, no eviction bookkeeping, no live stream. The inspector records
 *   all of those, so `copy` is a generous ceiling: no recorder that keeps the
 *   exchange can run faster than the gateway with `copy`.
 * - {@linkcode MinimalRecorder} (`minimal`): what the design asks to keep
 *   of an exchange, and nothing else: `copy`, plus a time and a type for
 *   every event (DESIGN.md: "every step ... is an event with a
 *   high-resolution time") and the environ's snapshot, written with the
 *   store's own environ writers (`inspector/record_environ.ts`: an environ
 *   the gateway alone has touched as its derivation, else known keys as one
 *   byte and runs of entries equal to the previous environ's copied from
 *   its bytes), and the heads' strings through the encoder's memo, as the
 *   store writes them. No frame headers, no index, no eviction, no live stream, no
 *   caps, one exchange at a time: no recorder that keeps what the design
 *   asks for can run faster, so `minimal/gateway` bounds `inspector/gateway`.
 * - {@linkcode FramedRecorder} (`framed`): `minimal`, plus what issue 9 asks
 *   of a store, each in its cheapest form: a self-contained frame per event,
 *   a slot per exchange for the list, the oldest dropped beyond 1000. It
 *   does more than `minimal`, so it bounds `inspector/gateway` at least as
 *   tightly; measured, the two run alike (`framed/minimal` 0.99-1.01).
 * - `copy-environ`: the same as `copy`, plus the environ's snapshot that the design
 *   asks for (`DESIGN.md`: "a snapshot of every key"), copied naively: each
 *   key and each value (a string character by character, a number as 8
 *   bytes, anything else as `String(value)`). Not a ceiling: it costs more
 *   than the whole store (`record_cpu.ts`), whose environ writer codes the
 *   known keys as one byte and copies a value equal to the previous
 *   environ's from the bytes written then (`record_environ.ts`). It shows
 *   what those two cut.
 *
 * @module
 */

import type {
  EventMap,
  EventType,
  ExchangeRecorder,
  Pair,
  Recorder,
} from "../../server/recorder.ts";
import { FrameEncoder, PLACE } from "../../inspector/record_encoder.ts";
import { writeDerivedEnviron, writeEnviron } from "../../inspector/record_environ.ts";
import { TYPE_CODE } from "../../inspector/record_format.ts";

/** The recording seam alone: every exchange's recorder records nothing. */
const nothing: ExchangeRecorder = { record() {} };

/** A recorder whose exchanges record nothing: the seam's own cost. */
export const seamRecorder: Recorder = { begin: () => nothing };

/**
 * Copies the heads and bodies of every exchange into one ring of `size`
 * bytes (1 MiB by default, the store's first size), wrapping at its end.
 */
export class CopyRecorder implements Recorder, ExchangeRecorder {
  readonly buf: Uint8Array;
  readonly #view: DataView;
  readonly #environ: boolean;
  #at = 0;

  /** @param environ whether to copy the environ's snapshot too */
  constructor(size = 1 << 20, environ = false) {
    this.buf = new Uint8Array(size);
    this.#view = new DataView(this.buf.buffer);
    this.#environ = environ;
  }

  /** One recorder serves every exchange: it keeps no state per exchange. */
  begin(): ExchangeRecorder {
    return this;
  }

  record<K extends EventType>(type: K, data: EventMap[K]): void {
    switch (type) {
      case "request": {
        const d = data as EventMap["request"];
        this.#str(d.method);
        this.#str(d.target);
        this.#pairs(d.headers);
        break;
      }
      case "headers_sent": {
        const d = data as EventMap["headers_sent"];
        this.#str(d.status_line);
        this.#pairs(d.headers);
        break;
      }
      case "environ":
        if (this.#environ) this.#snapshot((data as EventMap["environ"]).environ);
        break;
      case "chunk":
      case "write":
      case "input":
      case "input_rest":
        this.#bytes((data as EventMap["chunk"]).bytes);
        break;
    }
  }

  /** Room for `n` more bytes: wraps to the start when the end is near. */
  #room(n: number): number {
    if (this.#at + n > this.buf.length) this.#at = 0;
    const at = this.#at;
    this.#at = at + n;
    return at;
  }

  /** A latin-1 string (protocol strings are), with a 4-byte length. */
  #str(s: string): void {
    const n = s.length;
    const buf = this.buf;
    let at = this.#room(n + 4);
    buf[at++] = n;
    buf[at++] = n >>> 8;
    buf[at++] = n >>> 16;
    buf[at++] = n >>> 24;
    for (let i = 0; i < n; i++) buf[at + i] = s.charCodeAt(i);
  }

  #snapshot(environ: Readonly<Record<string, unknown>>): void {
    for (const key in environ) {
      this.#str(key);
      const value = environ[key];
      if (typeof value === "string") this.#str(value);
      else if (typeof value === "number") this.#view.setFloat64(this.#room(8), value, true);
      else this.#str(String(value));
    }
  }

  #pairs(pairs: Pair[]): void {
    for (let i = 0; i < pairs.length; i++) {
      const pair = pairs[i]!;
      this.#str(pair[0]);
      this.#str(pair[1]);
    }
  }

  #bytes(bytes: Uint8Array): void {
    const n = Math.min(bytes.length, this.buf.length >>> 1);
    const at = this.#room(n);
    this.buf.set(n === bytes.length ? bytes : bytes.subarray(0, n), at);
  }
}

/**
 * Writes what the design asks to keep of one event, and nothing more: the
 * heads through the encoder's memo, as the store writes them (no recorder
 * writes strings cheaper), the environ's snapshot with the store's own
 * writers, the body bytes. Returns the event's type code.
 */
function writeKept<K extends EventType>(enc: FrameEncoder, type: K, data: EventMap[K]): number {
  switch (type) {
    case "request": {
      const d = data as EventMap["request"];
      enc.strAt(d.method, PLACE.REQUEST);
      enc.strAt(d.target, PLACE.REQUEST + 1);
      enc.pairs(d.headers, PLACE.REQUEST_HEADERS, PLACE.APP - PLACE.REQUEST_HEADERS);
      return REQUEST;
    }
    case "environ": {
      const d = data as EventMap["environ"];
      if (d.derivation !== undefined) writeDerivedEnviron(enc, d.derivation);
      else writeEnviron(enc, d.environ);
      return ENVIRON;
    }
    case "headers_sent": {
      const d = data as EventMap["headers_sent"];
      enc.strAt(d.status_line, PLACE.SENT);
      enc.pairs(d.headers, PLACE.SENT_HEADERS, PLACE.DERIVED - PLACE.SENT_HEADERS);
      return HEADERS_SENT;
    }
    case "chunk":
    case "write":
    case "input":
    case "input_rest": {
      const bytes = (data as EventMap["chunk"]).bytes;
      enc.bytes(bytes, 0, Math.min(bytes.length, 1 << 16));
      return type === "chunk" ? CHUNK : TYPE_CODE[type];
    }
  }
  return TYPE_CODE[type];
}
const REQUEST = TYPE_CODE.request;
const ENVIRON = TYPE_CODE.environ;
const CHUNK = TYPE_CODE.chunk;
const HEADERS_SENT = TYPE_CODE.headers_sent;
const END = TYPE_CODE.end;

/**
 * Keeps what the design asks for and nothing more (see the module doc): the
 * heads and bodies as `copy` does, the environ's snapshot, and each event's
 * type and time, in one preallocated ring that wraps without bookkeeping.
 */
export class MinimalRecorder implements Recorder, ExchangeRecorder {
  readonly encoder: FrameEncoder;
  /** The arrival of the exchange being recorded (one at a time: a ceiling, not a store). */
  #t0 = 0;

  constructor(size = 1 << 20) {
    // The ring: when the end is near, what is being written moves to the start.
    const sink = {
      more(enc: FrameEncoder, need: number) {
        const length = enc.pos - enc.start;
        if (length + need > size / 2) throw new RangeError(`Cannot keep ${length + need} bytes`);
        enc.buf.copyWithin(0, enc.start, enc.pos);
        enc.start = 0;
        enc.pos = length;
        enc.limit = size;
      },
    };
    this.encoder = new FrameEncoder(sink, new Uint8Array(size));
    this.encoder.limit = size;
  }

  begin(_request: Request, time?: number): ExchangeRecorder {
    this.#t0 = time ?? performance.now();
    return this;
  }

  /** A type byte and a time, then the payload; the type byte is filled in last. */
  record<K extends EventType>(type: K, data: EventMap[K], time?: number): void {
    const enc = this.encoder;
    enc.need(9);
    enc.pos += 1;
    enc.f64((time ?? performance.now()) - this.#t0);
    // The event's first byte: relative to `start`, since the ring may move what is being written.
    enc.start = enc.pos - 9;
    const code = writeKept(enc, type, data);
    enc.buf[enc.start] = code;
    enc.start = enc.pos;
  }
}

/**
 * `minimal`, plus what issue 9 asks of a store's bytes and bookkeeping, each
 * in its cheapest form: every event a self-contained frame of the record
 * format (`docs/record.md`: length, type, exchange id, time; the bytes one
 * process writes and another reads), a slot per exchange for the list
 * (where its frames begin, its status, its duration), the oldest dropped
 * beyond 1000 exchanges, and the live stream's check for listeners (none
 * here). Cheaper than any store can be: one exchange at a time (one arrival
 * kept, no writer object per exchange), no caps or counts of bytes, frames
 * not aligned, and when the ring wraps every older exchange goes at once
 * rather than as its bytes are overwritten. So `framed/gateway` bounds
 * `inspector/gateway` for a recorder that keeps what the issue asks.
 */
export class FramedRecorder implements Recorder, ExchangeRecorder {
  readonly encoder: FrameEncoder;
  /** Four numbers a slot: seq, logical start, status, duration. */
  readonly #index = new Float64Array(1024 * 4);
  #seq = 0;
  #oldest = 1;
  /** The logical position of the buffer's first byte (grows at each wrap). */
  #base = 0;
  #t0 = 0;
  /** Subscribers of the live stream (the benchmark has none). */
  listeners = 0;

  constructor(size = 1 << 20) {
    const sink = {
      more: (enc: FrameEncoder, need: number) => {
        const length = enc.pos - enc.start;
        if (length + need > size / 2) throw new RangeError(`Cannot keep ${length + need} bytes`);
        this.#base += enc.start;
        enc.buf.copyWithin(0, enc.start, enc.pos);
        enc.start = 0;
        enc.pos = length;
        enc.limit = size;
        // Whatever came before the frame being written is overwritten from now on.
        while (this.#oldest < this.#seq) this.#drop();
      },
    };
    this.encoder = new FrameEncoder(sink, new Uint8Array(size));
    this.encoder.limit = size;
  }

  #drop(): void {
    const s = (this.#oldest & 1023) * 4;
    if (this.#index[s] === this.#oldest) this.#index[s] = 0;
    this.#oldest++;
  }

  begin(_request: Request, time?: number): ExchangeRecorder {
    this.#t0 = time ?? performance.now();
    const seq = ++this.#seq;
    if (seq - this.#oldest >= 1000) this.#drop();
    const s = (seq & 1023) * 4;
    const index = this.#index;
    index[s] = seq;
    index[s + 1] = this.#base + this.encoder.pos;
    index[s + 2] = 0;
    index[s + 3] = NaN;
    return this;
  }

  record<K extends EventType>(type: K, data: EventMap[K], time?: number): void {
    const enc = this.encoder;
    const t = (time ?? performance.now()) - this.#t0;
    enc.begin(0, 0, this.#seq, t);
    const code = writeKept(enc, type, data);
    enc.buf[enc.start + 4] = code;
    enc.end();
    enc.start = enc.pos;
    // The list's fields.
    if (code === HEADERS_SENT) {
      this.#index[(this.#seq & 1023) * 4 + 2] = (data as EventMap["headers_sent"]).status;
    } else if (code === END) this.#index[(this.#seq & 1023) * 4 + 3] = t;
    if (this.listeners !== 0) throw new Error("no live stream in a ceiling");
  }
}

/** The ceiling recorders by the name `inprocess_server.ts --recorder` takes. */
export const CEILINGS: Record<string, () => Recorder> = {
  seam: () => seamRecorder,
  copy: () => new CopyRecorder(),
  minimal: () => new MinimalRecorder(),
  framed: () => new FramedRecorder(),
  "copy-environ": () => new CopyRecorder(1 << 20, true),
};
