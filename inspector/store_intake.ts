/**
 * The store's intake: frames written by another process (an app process
 * under the CLI, `server/dev/`), in the same record format, taken into the
 * store's ring as they are.
 *
 * Each writer numbers its own exchanges; the intake maps (source, writer's
 * id) to the store's seq, from the exchange's `request` frame on, and drops
 * frames of an exchange it does not keep. Only the `request` frame is read
 * (checked field by field, for its app generation, without decoding its
 * strings); every other frame is copied as it is, and the store's index reads
 * its fixed fields. In token mode ({@linkcode Secret}) a `request` or
 * `environ` frame holding the token is decoded and written again with the
 * token hidden.
 *
 * @module
 */

import type { OpenExchange, RecordIntake, SupervisorAnswer } from "../server/recorder.ts";
import { FLAG, FORMAT_VERSION, HEADER_SIZE, TYPE_CODE } from "./record_format.ts";
import { decodeFrame, requestGeneration } from "./record_read.ts";
import { type FrameEncoder, writeEnviron, writeRequest } from "./record.ts";
import { type Redaction, redaction } from "./redact.ts";

const C = TYPE_CODE;
/** The largest type code of the format. */
const MAX_CODE = Object.keys(TYPE_CODE).length;

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

/** What the intake needs of the store that owns it. */
export interface IntakeHost {
  /** The store's encoder (its ring's), for frames written again. */
  readonly encoder: FrameEncoder;
  /** Opens a new exchange (linked as a replay of `replayOf`, 0: none); its seq. */
  open(replayOf: number): number;
  /** The seq of the original a replay header's value names (0: none), linking it once. */
  claimTicket(value: string | null): number;
  /** Whether replay tickets are pending (only then is a request's header list read). */
  ticketsPending(): boolean;
  /** Whether `seq` is still kept. */
  alive(seq: number): boolean;
  /** Records, for a kept `seq`, its key in the intake's map and its app generation. */
  tag(seq: number, key: number, generation: number): void;
  /** Copies a whole frame into the ring, for `seq` (its header's id becomes `seq`). */
  append(frame: Uint8Array, seq: number): void;
  /** Indexes the frame just written for `seq`. */
  commit(seq: number, code: number): void;
  /** Reports a failure (never throws). */
  failed(error: unknown): void;
  /** The request header that links a replay (lower case). */
  readonly replayHeader: string;
  /** Ends the exchanges `source` left open (`ExchangeStore.abortIngested`); how many. */
  abortIngested(source: number, reason: string): number;
  /** The exchanges `source` left open, as the supervisor sees them (`ExchangeStore.openIngestedExchanges`). */
  openIngestedExchanges(source: number): OpenExchange[];
  /** Ends open exchange `id` of `source` with the supervisor's answer (`ExchangeStore.answerIngested`). */
  answerIngested(source: number, id: number, answer: SupervisorAnswer): boolean;
}

/**
 * The map from other writers' exchanges to the store's: per source, the
 * writer's id to the seq, negated once the exchange ended (an `input_rest`
 * may still follow); an entry goes when its exchange is evicted. Keys in the
 * index are `source * 2^32 + id`, numbers in a typed array, so that nothing
 * per exchange is a heap object beyond the map's own entries.
 */
export class Intake {
  readonly #host: IntakeHost;
  readonly #sources = new Map<number, Map<number, number>>();
  /** The last source number given out. */
  #last = 0;

  constructor(host: IntakeHost) {
    this.#host = host;
  }

  /** A reader of one writer's frames, with a source number of its own (see `ExchangeStore.intake`). */
  reader(secret: Secret | undefined): RecordIntake {
    return new IntakeReader(this, this.#host, ++this.#last, secret);
  }

  #map(source: number): Map<number, number> {
    let map = this.#sources.get(source);
    if (map === undefined) this.#sources.set(source, map = new Map());
    return map;
  }

  /** Whether any exchange came in through a reader (else there is nothing to forget). */
  get active(): boolean {
    return this.#sources.size > 0;
  }

  /** Forgets the entry of an evicted exchange (`key` from the index; NaN: none). */
  forget(key: number): void {
    if (Number.isNaN(key)) return;
    const source = Math.floor(key / 2 ** 32);
    this.#sources.get(source)?.delete(key - source * 2 ** 32);
  }

  /** Forgets every entry (the store was cleared). */
  clear(): void {
    this.#sources.clear();
  }

  /** See `ExchangeStore.ingest`. */
  ingest(frames: Uint8Array, source: number, secret: Secret | undefined): void {
    const host = this.#host;
    const map = this.#map(source);
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
      const id = view.getUint32(start + 8, true);
      let seq = map.get(id);
      // Negative: ended, but an `input_rest` may still follow.
      if (seq !== undefined && seq < 0) seq = -seq;
      if (code === C.request) {
        // Checked before it takes a seq.
        const generation = requestGeneration(frames, view, start);
        let replayOf = 0;
        if (host.ticketsPending()) {
          const decoded = decodeFrame(frames, view, start);
          if (decoded.event.type === "request") {
            const header = decoded.event.data.headers.find(([n]) =>
              n.toLowerCase() === host.replayHeader
            );
            replayOf = host.claimTicket(header?.[1] ?? null);
          }
        }
        seq = host.open(replayOf);
        map.set(id, seq);
        host.tag(seq, source * 2 ** 32 + id, generation);
      }
      if (seq === undefined) continue;
      if (!host.alive(seq)) {
        map.delete(id);
        continue;
      }
      try {
        const frame = frames.subarray(start, at);
        if (secret && code === C.environ && (frames[start + 5]! & FLAG.DERIVED) !== 0) {
          // App processes are told not to derive in token mode (`deriveEnviron`).
          throw new RangeError(
            "Cannot take a derived environ in token mode: the token is hidden in whole environs only",
          );
        }
        if (secret && (code === C.request || code === C.environ) && secret.in(frame)) {
          this.#writeRedacted(frames, view, start, seq, secret.redaction);
        } else host.append(frame, seq);
      } catch (error) {
        host.encoder.abandon();
        host.failed(error);
        continue;
      }
      host.commit(seq, code);
      if (code === C.end || code === C.abort) map.set(id, -seq);
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
    const enc = this.#host.encoder;
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

  /** Exchanges of `source` begun and not ended, still kept. */
  open(source: number): number {
    let n = 0;
    for (const seq of this.#sources.get(source)?.values() ?? []) if (seq > 0) n++;
    return n;
  }

  /**
   * The exchanges of `source` begun and not ended: each one's key
   * (`source * 2^32 + id`, the id `RecordIntake.answerOpen` takes) and seq.
   */
  openEntries(source: number): [key: number, seq: number][] {
    const entries: [number, number][] = [];
    for (const [id, seq] of this.#sources.get(source) ?? []) {
      if (seq > 0) entries.push([source * 2 ** 32 + id, seq]);
    }
    return entries;
  }

  /**
   * Takes out the exchange of `source` whose key is `key` (see
   * {@linkcode Intake.openEntries}) if it is still open, and returns its
   * seq, for the store to end it.
   */
  takeOne(source: number, key: number): number | undefined {
    if (Math.floor(key / 2 ** 32) !== source) return undefined;
    const id = key - source * 2 ** 32;
    const map = this.#sources.get(source);
    const seq = map?.get(id);
    if (seq === undefined || seq < 0) return undefined;
    map!.delete(id);
    return seq;
  }

  /**
   * Takes out every exchange of `source` still open (its writer is gone),
   * and returns their seqs, for the store to end them.
   */
  takeOpen(source: number): number[] {
    const map = this.#sources.get(source);
    const open: number[] = [];
    if (map === undefined) return open;
    for (const [id, seq] of map) {
      if (seq < 0) continue;
      map.delete(id);
      open.push(seq);
    }
    return open;
  }
}

/** One writer's frames, as `ExchangeStore.intake` takes them. */
class IntakeReader implements RecordIntake {
  readonly #intake: Intake;
  readonly #host: IntakeHost;
  readonly #source: number;
  readonly #secret: Secret | undefined;

  constructor(intake: Intake, host: IntakeHost, source: number, secret: Secret | undefined) {
    this.#intake = intake;
    this.#host = host;
    this.#source = source;
    this.#secret = secret;
  }

  ingest(frames: Uint8Array): void {
    this.#intake.ingest(frames, this.#source, this.#secret);
  }

  abortOpen(reason: string): number {
    return this.#host.abortIngested(this.#source, reason);
  }

  get open(): number {
    return this.#intake.open(this.#source);
  }

  openExchanges(): OpenExchange[] {
    return this.#host.openIngestedExchanges(this.#source);
  }

  answerOpen(id: number, answer: SupervisorAnswer): boolean {
    return this.#host.answerIngested(this.#source, id, answer);
  }
}
