/**
 * Capture: what is kept of an exchange, as the gateway hands over its live
 * payloads, written at once as frames of the record format (`record.ts`)
 * into a sink: the store's ring in this process, or a {@linkcode FrameBuffer}
 * bound for a pipe to another process ({@linkcode FrameRecorder}).
 *
 * {@linkcode ExchangeWriter} is the {@linkcode ExchangeRecorder} of one
 * exchange. It lives only while the exchange runs, and keeps a few counters;
 * everything recorded is in the frames. Its caps, per exchange:
 *
 * - body bytes: the first `maxBodyBytes` of each stream (the request: what
 *   the app read, then what was drained after the response; the response:
 *   every chunk and `write()`), with every true size counted;
 * - `wsgi.errors` text: the first `maxBodyBytes` bytes of it in UTF-8;
 * - an error's name, message and stack: `maxText` characters each;
 * - events: `maxEvents`; past it only the last steps (`headers_sent`,
 *   `close`, `end`, `abort`, `input_rest`) are written, and `end`/`abort` say
 *   how many were dropped (with those a HAR file says were, on import).
 *
 * `record()` never throws: a failure is reported once through the sink and
 * the exchange is no longer recorded.
 *
 * @module
 */

import type {
  EnvironRule,
  EventMap,
  EventType,
  ExchangeRecorder,
  Recorder,
} from "../server/recorder.ts";
import { FLAG, TYPE_CODE as C } from "./record_format.ts";
import {
  cut,
  FrameEncoder,
  type FrameSink,
  writeCall,
  writeDerivedEnviron,
  writeEnviron,
  writeError,
  writeHeadersSent,
  writeInput,
  writeRequest,
  writeStartResponse,
} from "./record.ts";
import { cutUtf8 } from "./utf8.ts";

/** The caps of one exchange's capture. */
export interface CaptureLimits {
  /** Body bytes kept per stream (request, response); also of `wsgi.errors` text, in UTF-8. */
  readonly maxBodyBytes: number;
  /** Events kept. */
  readonly maxEvents: number;
  /** Characters kept of an error's name, message and stack, of a lint message or an abort reason. */
  readonly maxText: number;
}

/** Where an {@linkcode ExchangeWriter} writes: an encoder, and what to do with each frame. */
export interface WriterSink {
  /** Whether exchange `id` is still kept (a writer stops once it is not). */
  alive(id: number): boolean;
  /**
   * Whether the reader of these frames rebuilds environs with `rule` (the
   * gateway's, `server/environ_rule.ts`): then an environ nothing else has
   * touched is written as its derivation, else entry by entry.
   */
  derives(rule: EnvironRule): boolean;
  /** The encoder whose sink makes room (the writer begins and ends frames in it). */
  readonly encoder: FrameEncoder;
  /**
   * A frame of exchange `id` was written, at `encoder.start` up to
   * `encoder.pos`. Returns false when the exchange is no longer kept (the
   * frame is dropped, and the writer stops).
   */
  commit(id: number, code: number): boolean;
  /** Recording failed; the exchange is no longer recorded. Must not throw. */
  failed(error: unknown): void;
}

/** `performance.timeOrigin`, read once (a getter call each time otherwise). */
const TIME_ORIGIN = performance.timeOrigin;

/** What `#payload` returns instead of a type code when the exchange is no longer kept (the padding code: never an event's). */
const GONE = 0;

/** Events written even past the event budget: each comes at most once. */
const LAST_STEPS: ReadonlySet<EventType> = new Set<EventType>([
  "headers_sent",
  "close",
  "end",
  "abort",
  "input_rest",
]);

/**
 * The recorder of one exchange: each event becomes one frame, written into
 * the sink before `record()` returns (so the live payload's bytes are copied,
 * up to the caps, and never held).
 */
export class ExchangeWriter implements ExchangeRecorder {
  /** The exchange's id in its frames (the store's `seq`, or a writer-local number). */
  readonly id: number;
  /** The arrival, a `performance.now()` reading. */
  readonly t0: number;
  readonly #sink: WriterSink;
  readonly #limits: CaptureLimits;
  /** Request stream bytes so far (read, then drained). */
  #input = 0;
  /** Response stream bytes so far. */
  #output = 0;
  /** `wsgi.errors` bytes so far (UTF-8). */
  #errors = 0;
  #events = 0;
  #dropped = 0;
  #off = false;
  /** The size of the part the byte event being recorded stands for (-1: its bytes' length). */
  #partSize = -1;
  /** The app generation that serves this exchange, under the CLI (0: none); set before the `request` event. */
  generation = 0;
  /**
   * Its name outside the store, under the CLI (`generation.worker.id`, which
   * the debug page links to); set before the `request` event.
   */
  ref: string | undefined = undefined;
  /**
   * Events dropped before this writer saw the exchange, which `end` and
   * `abort` count with those it drops itself: a HAR import sets the file's
   * `dropped_events` before writing the `end` or `abort`.
   */
  droppedBefore = 0;

  constructor(sink: WriterSink, id: number, t0: number, limits: CaptureLimits) {
    this.#sink = sink;
    this.id = id;
    this.t0 = t0;
    this.#limits = limits;
  }

  /**
   * How many more request body bytes this writer would keep: the gateway
   * drains at most that much of what the app left unread (0 once it is no
   * longer recording).
   */
  get restWanted(): number {
    return this.#off ? 0 : Math.max(0, this.#limits.maxBodyBytes - this.#input);
  }

  /**
   * Records a byte event (`input`, `input_rest`, `write`, `chunk`) for a
   * part of `size` bytes of a stream of which only the first are given
   * (`data.bytes`, maybe none): a part known from a file that kept only some
   * of its bytes (a HAR import). The sizes count `size`; what is kept is at
   * most the bytes given. Never throws.
   */
  recordPart<K extends "input" | "input_rest" | "write" | "chunk">(
    type: K,
    data: EventMap[K],
    size: number,
    time?: number,
  ): void {
    this.#partSize = size;
    this.record(type, data, time);
    this.#partSize = -1;
  }

  /** The size of a byte event's part: its bytes' length, unless `recordPart()` said more. */
  #sizeOf(bytes: Uint8Array): number {
    return this.#partSize < 0 ? bytes.length : this.#partSize;
  }

  /** Kept bytes of `size` more at `offset` of a stream. */
  #kept(offset: number, size: number): number {
    const room = this.#limits.maxBodyBytes - offset;
    return room <= 0 ? 0 : size < room ? size : room;
  }

  /** Records one event (at `time`, a `performance.now()` reading; now by default). Never throws. */
  record<K extends EventType>(type: K, data: EventMap[K], time?: number): void {
    if (this.#off) return;
    if (this.#events >= this.#limits.maxEvents && !LAST_STEPS.has(type)) {
      this.#dropped++;
      return;
    }
    const sink = this.#sink;
    const enc = sink.encoder;
    let code: number;
    try {
      // The type code goes in once the payload is written: the switch that
      // writes it knows it (a lookup by the type's name cost more).
      enc.begin(0, 0, this.id, (time ?? performance.now()) - this.t0);
      code = this.#payload(enc, type, data);
      if (code === GONE) {
        enc.abandon();
        this.#off = true;
        return;
      }
      enc.buf[enc.start + 4] = code;
      enc.end();
    } catch (error) {
      enc.abandon();
      this.#off = true;
      sink.failed(error);
      return;
    }
    this.#events++;
    // An exchange evicted before or while its frame was written is recorded no further.
    if (!sink.commit(this.id, code)) this.#off = true;
  }

  /**
   * Whether the exchange is no longer kept, asked before an event's bytes or
   * text are written: a frame that may be big must not make the ring evict
   * kept exchanges for a writer whose own exchange is gone. (The small frames
   * are written and then dropped by `commit()`: one check less each.)
   */
  #gone(): boolean {
    return !this.#sink.alive(this.id);
  }

  /** Events dropped, here and before (`droppedBefore`), as many as a `u32` holds. */
  #droppedAll(): number {
    return Math.min(this.#dropped + this.droppedBefore, 0xffffffff);
  }

  /** Writes the payload of an event; returns its type code, or {@linkcode GONE}. */
  #payload<K extends EventType>(enc: FrameEncoder, type: K, payload: EventMap[K]): number {
    switch (type) {
      case "request": {
        const d = payload as EventMap["request"];
        writeRequest(
          enc,
          TIME_ORIGIN + this.t0,
          d.method,
          d.target,
          d.version,
          d.peer,
          d.headers,
          this.generation,
          this.ref,
        );
        return C.request;
      }
      case "environ": {
        const d = payload as EventMap["environ"];
        const derivation = d.derivation;
        if (derivation !== undefined && this.#sink.derives(derivation.rule)) {
          enc.flags(FLAG.DERIVED);
          writeDerivedEnviron(enc, derivation);
        } else writeEnviron(enc, d.environ);
        return C.environ;
      }
      case "call":
        writeCall(enc, (payload as EventMap["call"]).app);
        return C.call;
      case "input": {
        if (this.#gone()) return GONE;
        const d = payload as EventMap["input"];
        const size = this.#sizeOf(d.bytes);
        const offset = this.#input;
        this.#input += size;
        const kept = Math.min(this.#kept(offset, size), d.bytes.length);
        writeInput(enc, d.method, d.size, d.bytes, offset, kept, size);
        return C.input;
      }
      case "input_rest": {
        if (this.#gone()) return GONE;
        const d = payload as EventMap["input_rest"];
        const size = this.#sizeOf(d.bytes);
        const offset = this.#input;
        this.#input += size;
        if (d.complete) enc.flags(FLAG.COMPLETE);
        enc.bytes(d.bytes, offset, Math.min(this.#kept(offset, size), d.bytes.length), size);
        return C.input_rest;
      }
      case "start_response": {
        const d = payload as EventMap["start_response"];
        writeStartResponse(enc, d.status, d.headers, d.exc_info, d.error);
        return C.start_response;
      }
      case "write":
      case "chunk": {
        if (this.#gone()) return GONE;
        const d = payload as EventMap["chunk"];
        const size = this.#sizeOf(d.bytes);
        const offset = this.#output;
        this.#output += size;
        enc.u32(d.index);
        enc.bytes(d.bytes, offset, Math.min(this.#kept(offset, size), d.bytes.length), size);
        return type === "write" ? C.write : C.chunk;
      }
      case "headers_sent": {
        const d = payload as EventMap["headers_sent"];
        writeHeadersSent(enc, d.status, d.status_line, d.headers);
        return C.headers_sent;
      }
      case "errors": {
        if (this.#gone()) return GONE;
        const text = (payload as EventMap["errors"]).text;
        // The cap counts UTF-8 bytes: by characters, a text of three-byte
        // characters could make a frame of three times the cap.
        const { kept, size } = cutUtf8(text, Math.max(0, this.#limits.maxBodyBytes - this.#errors));
        this.#errors += size;
        if (kept.length < text.length) enc.flags(FLAG.CUT);
        enc.f64(text.length);
        enc.str(kept);
        return C.errors;
      }
      case "error": {
        if (this.#gone()) return GONE;
        const d = payload as EventMap["error"];
        writeError(enc, d.where, d.name, d.message, d.stack, this.#limits.maxText);
        return C.error;
      }
      case "lint": {
        if (this.#gone()) return GONE;
        const d = payload as EventMap["lint"];
        enc.str(cut(d.rule, this.#limits.maxText));
        enc.str(cut(d.message, this.#limits.maxText));
        return C.lint;
      }
      case "close":
        if ((payload as EventMap["close"]).called) enc.flags(FLAG.CALLED);
        return C.close;
      case "end": {
        const d = payload as EventMap["end"];
        enc.u16(d.status);
        enc.f64(d.bytes);
        enc.u32(this.#droppedAll());
        return C.end;
      }
      case "abort": {
        const d = payload as EventMap["abort"];
        enc.str(cut(d.reason, this.#limits.maxText));
        enc.f64(d.bytes);
        enc.u32(this.#droppedAll());
        return C.abort;
      }
      default:
        throw new TypeError(`Cannot record event ${JSON.stringify(type)}: not a timeline event`);
    }
  }
}

/**
 * A growing buffer of frames, for frames bound for another process: writers
 * append, {@linkcode FrameBuffer.take} hands over what was written and starts
 * again.
 */
export class FrameBuffer implements FrameSink, WriterSink {
  readonly encoder: FrameEncoder;
  readonly #onError: (error: unknown) => void;
  /** Called after each frame is written. */
  onCommit: (() => void) | undefined;

  /** @param onError told when recording an event failed */
  constructor(onError: (error: unknown) => void = reportToStderr, size = 64 * 1024) {
    this.encoder = new FrameEncoder(this, new Uint8Array(size));
    this.encoder.limit = size;
    this.#onError = onError;
  }

  /** Bytes written and not yet taken. */
  get size(): number {
    return this.encoder.pos;
  }

  more(enc: FrameEncoder, need: number): void {
    const size = Math.max(enc.buf.length * 2, enc.pos + need);
    if (size > 0x7fffffff) {
      throw new RangeError(`Cannot record a frame of ${enc.pos + need} bytes: at most 2 GiB`);
    }
    const grown = new Uint8Array(size);
    grown.set(enc.buf.subarray(0, enc.pos));
    enc.buf = grown;
    enc.view = new DataView(grown.buffer);
    enc.limit = size;
  }

  alive(): boolean {
    return true;
  }

  /** Whether its reader rebuilds environs with the gateway's rule (set by whoever knows the reader). */
  derivesEnviron = false;

  derives(): boolean {
    return this.derivesEnviron;
  }

  commit(): boolean {
    this.onCommit?.();
    return true;
  }

  failed(error: unknown): void {
    try {
      this.#onError(error);
    } catch {
      // Nothing left to tell.
    }
  }

  /** The frames written since the last call (a copy), and starts again. */
  take(): Uint8Array {
    const out = this.encoder.buf.slice(0, this.encoder.pos);
    this.encoder.pos = 0;
    this.encoder.start = 0;
    return out;
  }
}

function reportToStderr(error: unknown): void {
  console.error(
    `Inspector failed to record an event; the exchange goes on unrecorded: ${
      error instanceof Error ? error.stack ?? error.message : String(error)
    }`,
  );
}

/** Options of {@linkcode FrameRecorder}. */
export interface FrameRecorderOptions {
  /** Receives batches of whole frames, in order. */
  write(frames: Uint8Array): void;
  /** Body bytes kept per exchange and stream; 1 MiB by default. */
  maxBodyBytes?: number;
  /** Events kept per exchange; 10,000 by default. */
  maxEvents?: number;
  /** Milliseconds frames may wait before `write` gets them; 5 by default. */
  flushMs?: number;
  /** Told when recording an event failed; stderr by default. */
  onError?: (error: unknown) => void;
}

/**
 * A {@linkcode Recorder} that writes every exchange's frames to a byte
 * stream (a pipe to the process that keeps them), in batches. Exchange ids
 * in its frames count from 1 in this recorder; the reading store maps them
 * to its own (`ExchangeStore.ingest`).
 *
 * @example
 * ```ts
 * import { FrameRecorder } from "./capture.ts";
 * import { ExchangeStore } from "./store.ts";
 * import { toFetch } from "../server/gateway.ts";
 *
 * const store = new ExchangeStore();
 * const recorder = new FrameRecorder({ write: (frames) => store.ingest(frames) });
 * const handler = toFetch((_environ, start_response) => {
 *   start_response("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("hi")];
 * }, { recorder });
 * await (await handler(new Request("http://localhost/x"))).text();
 * recorder.flush();
 * console.assert(store.list().exchanges[0]?.target === "/x");
 * ```
 */
export class FrameRecorder implements Recorder {
  readonly #buffer: FrameBuffer;
  readonly #write: (frames: Uint8Array) => void;
  readonly #limits: CaptureLimits;
  readonly #flushMs: number;
  #id = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: FrameRecorderOptions) {
    this.#buffer = new FrameBuffer(options.onError);
    this.#buffer.onCommit = () => this.#schedule();
    this.#write = options.write;
    this.#limits = {
      maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024,
      maxEvents: options.maxEvents ?? 10_000,
      maxText: 64 * 1024,
    };
    this.#flushMs = options.flushMs ?? 5;
  }

  /** Starts recording an exchange. */
  begin(_request: Request, time?: number): ExchangeWriter {
    this.#id = (this.#id + 1) >>> 0 || 1;
    return new ExchangeWriter(this.#buffer, this.#id, time ?? performance.now(), this.#limits);
  }

  #schedule(): void {
    if (this.#buffer.size >= 256 * 1024) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.#flushMs);
  }

  /** Writes out every frame recorded so far, now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#buffer.size > 0) this.#write(this.#buffer.take());
  }
}
