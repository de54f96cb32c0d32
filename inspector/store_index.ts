/**
 * The store's index: a few numbers per kept exchange (where its frames are,
 * its status, its byte counts), what the list needs without decoding a
 * frame, updated from each frame's fixed fields as it is committed.
 *
 * One record of 128 bytes per slot, in one buffer, rather than a typed array
 * per field: an exchange's numbers share two cache lines, where a column per
 * field touched one line per field on every exchange (a cost that shows in a
 * running server, whose caches the HTTP stack keeps cold between requests).
 * Slots are a power of two, so a seq's slot is `seq & mask`.
 *
 * @module
 */

import { AT, FLAG, HEADER_SIZE, TYPE_CODE } from "./record_format.ts";
import type { ExchangeState } from "./protocol.ts";

/** Numbers (`f64`) per slot. */
const STRIDE = 16;

// The `f64` fields of a slot, at `slot * STRIDE + field`.
/** The seq in the slot (0: none). */
const SEQ = 0;
/** Logical position where the exchange's frames begin (the ring's head when it began). */
const FIRST = 1;
/** Logical position of its last frame (-1: none yet). */
const LAST = 2;
/** Logical position of its `request` frame (-1: none yet). */
const REQUEST = 3;
/** Logical position of its `headers_sent` frame (-1: none yet). */
const SENT = 4;
/** Arrival, epoch ms (NaN: no `request` frame yet). */
const STARTED_AT = 5;
/** Milliseconds to end or abort (NaN while pending). */
const DURATION = 6;
/** Bytes the app read (true total). */
const READ = 7;
/** Bytes of the request stream (read, then drained). */
const REQUEST_SIZE = 8;
/** Response bytes produced. */
const PRODUCED = 9;
/** Where the response that was sent begins in the response stream. */
const BODY_START = 10;
/** Body bytes sent, from `end`/`abort` (NaN before). */
const SENT_BYTES = 11;
/** The seq this exchange replays (0: none). */
const REPLAY_OF = 12;
/** The key of an ingested exchange in the intake's map (NaN: none; see `store_intake.ts`). */
const INGEST_KEY = 13;

// The `u32` fields of a slot, at `slot * 2 * STRIDE + field` (the last two numbers' room).
/** Status (low 16 bits), state (next 8), flags (top 8). */
const STATUS = 28;
/** `error` events. */
const ERRORS = 29;
/** Frames kept. */
const EVENTS = 30;
/** The app generation that served it, under the CLI (0: none). */
const GENERATION = 31;

/** Flags in the top byte of `STATUS`. */
const TRUNCATED = 1 << 24;
const REQUEST_COMPLETE = 2 << 24;
/** Loaded from a HAR file (`har_import.ts`), not recorded here. */
const IMPORTED = 4 << 24;

/** The states, by their number in the index. */
export const STATE_NAMES: readonly ExchangeState[] = ["pending", "complete", "aborted", "error"];
const PENDING = 0, COMPLETE = 1, ABORTED = 2, ERROR = 3;

const C = TYPE_CODE;

/** Whether a frame of this type changes an exchange's list line (the live stream says so first). */
export const CHANGES_SUMMARY: readonly boolean[] = Array.from(
  { length: 16 },
  (_, code) =>
    code === C.request || code === C.input_rest || code === C.headers_sent || code === C.end ||
    code === C.abort,
);

/** The smallest power of two at least `n`. */
const pow2 = (n: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/** The per-exchange index: `slots` records; an exchange's slot is `seq & mask`. */
export class ExchangeIndex {
  readonly slots: number;
  readonly mask: number;
  /** The records, as numbers. */
  readonly f: Float64Array;
  /** The same records, as `u32`s (for the small fields). */
  readonly u: Uint32Array;

  /** @param slots rounded up to a power of two */
  constructor(slots: number) {
    this.slots = pow2(slots);
    this.mask = this.slots - 1;
    this.f = new Float64Array(this.slots * STRIDE);
    this.u = new Uint32Array(this.f.buffer);
  }

  /** Whether `seq` is in its slot. */
  has(seq: number): boolean {
    return this.f[(seq & this.mask) * STRIDE] === seq;
  }

  /** Sets up the slot of a new exchange, whose frames begin at logical `first`. */
  open(seq: number, first: number, replayOf: number): void {
    const s = (seq & this.mask) * STRIDE;
    const f = this.f;
    f[s + SEQ] = seq;
    f[s + FIRST] = first;
    f[s + LAST] = -1;
    f[s + REQUEST] = -1;
    f[s + SENT] = -1;
    f[s + STARTED_AT] = NaN;
    f[s + DURATION] = NaN;
    f[s + READ] = 0;
    f[s + REQUEST_SIZE] = 0;
    f[s + PRODUCED] = 0;
    f[s + BODY_START] = 0;
    f[s + SENT_BYTES] = NaN;
    f[s + REPLAY_OF] = replayOf;
    f[s + INGEST_KEY] = NaN;
    const u = this.u;
    const w = 2 * s;
    u[w + STATUS] = PENDING << 16;
    u[w + ERRORS] = 0;
    u[w + EVENTS] = 0;
    u[w + GENERATION] = 0;
  }

  /** Empties the slot of `seq` (evicted or cleared). */
  drop(seq: number): void {
    const s = (seq & this.mask) * STRIDE;
    if (this.f[s] === seq) this.f[s] = 0;
  }

  /** A bigger index holding the same records for seqs `from` to `to`. */
  grown(slots: number, from: number, to: number): ExchangeIndex {
    const next = new ExchangeIndex(slots);
    for (let seq = from; seq <= to; seq++) {
      const s = (seq & this.mask) * STRIDE;
      next.f.set(this.f.subarray(s, s + STRIDE), (seq & next.mask) * STRIDE);
    }
    return next;
  }

  /**
   * Indexes a frame of `seq` written at physical `at` of `view` (logical
   * position `logical`): what its type says of the exchange. Returns the
   * frame's number in its exchange.
   */
  frame(seq: number, code: number, view: DataView, at: number, logical: number): number {
    const s = (seq & this.mask) * STRIDE;
    const f = this.f;
    const u = this.u;
    const w = 2 * s;
    const index = u[w + EVENTS]!;
    u[w + EVENTS] = index + 1;
    f[s + LAST] = logical;
    switch (code) {
      case C.chunk:
      case C.write: {
        const b = at + AT.chunkBytes;
        const size = view.getFloat64(b + 8, true);
        f[s + PRODUCED] = f[s + PRODUCED]! + size;
        if (view.getUint32(b + 16, true) < size) u[w + STATUS] = u[w + STATUS]! | TRUNCATED;
        break;
      }
      case C.request:
        f[s + REQUEST] = logical;
        f[s + STARTED_AT] = view.getFloat64(at + AT.startedAt, true);
        break;
      case C.start_response:
        if ((view.getUint8(at + 5) & FLAG.ERROR) === 0 && (u[w + STATUS]! & 0xffff) === 0) {
          f[s + BODY_START] = f[s + PRODUCED]!;
        }
        break;
      case C.headers_sent:
        u[w + STATUS] = (u[w + STATUS]! & ~0xffff) | view.getUint16(at + AT.sentStatus, true);
        f[s + SENT] = logical;
        break;
      case C.end:
      case C.abort: {
        f[s + DURATION] = view.getFloat64(at + 12, true);
        let b = at + HEADER_SIZE;
        if (code === C.end) b += 2;
        else b += 4 + (view.getUint32(b, true) & 0x7fffffff);
        f[s + SENT_BYTES] = view.getFloat64(b, true);
        let status = u[w + STATUS]!;
        if (view.getUint32(b + 8, true) > 0) status |= TRUNCATED;
        const state = u[w + ERRORS]! > 0 ? ERROR : code === C.end ? COMPLETE : ABORTED;
        u[w + STATUS] = (status & ~(0xff << 16)) | (state << 16);
        break;
      }
      case C.input: {
        const b = at + AT.inputBytes;
        const size = view.getFloat64(b + 8, true);
        f[s + READ] = f[s + READ]! + size;
        f[s + REQUEST_SIZE] = f[s + REQUEST_SIZE]! + size;
        if (view.getUint32(b + 16, true) < size) u[w + STATUS] = u[w + STATUS]! | TRUNCATED;
        break;
      }
      case C.input_rest: {
        const b = at + AT.restBytes;
        const size = view.getFloat64(b + 8, true);
        f[s + REQUEST_SIZE] = f[s + REQUEST_SIZE]! + size;
        const complete = (view.getUint8(at + 5) & FLAG.COMPLETE) !== 0;
        let status = u[w + STATUS]! | (complete ? REQUEST_COMPLETE : TRUNCATED);
        if (view.getUint32(b + 16, true) < size) status |= TRUNCATED;
        u[w + STATUS] = status;
        break;
      }
      case C.errors:
        if ((view.getUint8(at + 5) & FLAG.CUT) !== 0) u[w + STATUS] = u[w + STATUS]! | TRUNCATED;
        break;
      case C.error:
        u[w + ERRORS] = u[w + ERRORS]! + 1;
        break;
    }
    return index;
  }

  // Reading a slot (of a seq the caller knows is kept).

  #s(seq: number): number {
    return (seq & this.mask) * STRIDE;
  }
  first(seq: number): number {
    return this.f[this.#s(seq) + FIRST]!;
  }
  last(seq: number): number {
    return this.f[this.#s(seq) + LAST]!;
  }
  request(seq: number): number {
    return this.f[this.#s(seq) + REQUEST]!;
  }
  sent(seq: number): number {
    return this.f[this.#s(seq) + SENT]!;
  }
  startedAt(seq: number): number {
    return this.f[this.#s(seq) + STARTED_AT]!;
  }
  duration(seq: number): number {
    return this.f[this.#s(seq) + DURATION]!;
  }
  read(seq: number): number {
    return this.f[this.#s(seq) + READ]!;
  }
  requestSize(seq: number): number {
    return this.f[this.#s(seq) + REQUEST_SIZE]!;
  }
  /** Response bytes sent: from `end`/`abort`, else those produced since the response began. */
  responseBytes(seq: number): number {
    const s = this.#s(seq);
    const sent = this.f[s + SENT_BYTES]!;
    return Number.isNaN(sent) ? this.f[s + PRODUCED]! - this.f[s + BODY_START]! : sent;
  }
  replayOf(seq: number): number {
    return this.f[this.#s(seq) + REPLAY_OF]!;
  }
  ingestKey(seq: number): number {
    return this.f[this.#s(seq) + INGEST_KEY]!;
  }
  setIngestKey(seq: number, key: number): void {
    this.f[this.#s(seq) + INGEST_KEY] = key;
  }
  /** The status sent (0: none yet). */
  status(seq: number): number {
    return this.u[2 * this.#s(seq) + STATUS]! & 0xffff;
  }
  state(seq: number): ExchangeState {
    return STATE_NAMES[(this.u[2 * this.#s(seq) + STATUS]! >>> 16) & 0xff]!;
  }
  truncated(seq: number): boolean {
    return (this.u[2 * this.#s(seq) + STATUS]! & TRUNCATED) !== 0;
  }
  /** Whether the request body's end was seen (by the app's reads or the drain). */
  requestComplete(seq: number): boolean {
    return (this.u[2 * this.#s(seq) + STATUS]! & REQUEST_COMPLETE) !== 0;
  }
  /** Whether it was loaded from a HAR file rather than recorded here. */
  imported(seq: number): boolean {
    return (this.u[2 * this.#s(seq) + STATUS]! & IMPORTED) !== 0;
  }
  setImported(seq: number): void {
    const w = 2 * this.#s(seq) + STATUS;
    this.u[w] = this.u[w]! | IMPORTED;
  }
  errors(seq: number): number {
    return this.u[2 * this.#s(seq) + ERRORS]!;
  }
  generation(seq: number): number {
    return this.u[2 * this.#s(seq) + GENERATION]!;
  }
  setGeneration(seq: number, generation: number): void {
    this.u[2 * this.#s(seq) + GENERATION] = generation;
  }
}
