/**
 * The private channel between the supervisor and an app process: a Unix
 * socket in a temporary folder, never stdout or stderr, which belong to the
 * application (its `console.log` and the request log pass through untouched).
 *
 * Everything on it is a message: `u32 length` (little-endian, the whole
 * message, header included), `u8 kind`, then the payload. Kinds:
 *
 * | kind | direction | payload |
 * |---|---|---|
 * | `RECORD` (1) | app → supervisor | whole frames of the record format (`docs/record.md`), back to back, as the inspector's app recorder writes them |
 * | `CONTROL` (2) | both | one JSON object, a {@linkcode ToSupervisor} or {@linkcode ToChild} |
 * | `HEARTBEAT` (3) | app → supervisor | none: the app process's event loop is alive |
 *
 * The writer batches: messages go into one reused buffer that is written out
 * when it holds 64 KiB or a few milliseconds after the first message, so a
 * busy server makes one system call per batch, not one per event.
 *
 * @module
 */

import type { LoadError } from "./load_error.ts";
import type { Fault } from "./contract.ts";
import type { ChildConfig } from "./child_config.ts";

/** Recorded frames (`docs/record.md`). */
export const RECORD = 1;
/** A JSON control message. */
export const CONTROL = 2;
/** The app process is alive (no payload). */
export const HEARTBEAT = 3;

/** Control messages from an app process. */
export type ToSupervisor =
  | { type: "hello"; worker: number; generation: number; pid: number }
  | { type: "ready"; port: number }
  | { type: "load_error"; error: LoadError }
  /** `exchange`: the reference of the exchange it was recorded on, if any. */
  | { type: "fault"; fault: Fault; exchange?: string }
  /** It was told to retire and no longer accepts connections. */
  | { type: "unlistened" };

/** Control messages to an app process. */
export type ToChild =
  /** Stop accepting, finish what is in flight, then exit. */
  | { type: "retire" }
  /** A standby: load the module and serve, with this configuration. */
  | { type: "load"; config: ChildConfig };

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Bytes queued before a write goes out at once. */
const FLUSH_AT = 64 * 1024;

/** Anything with an async `write` that may write only part of what it is given. */
export interface Writable {
  write(p: Uint8Array): Promise<number>;
}

/**
 * Batches messages into a buffer and writes them out in order.
 *
 * While a write is under way new messages go to the next buffer; a buffer
 * that reaches 64 KiB joins a queue of buffers written one after the other
 * (buffers of one size, reused: a reader far behind costs the writer the
 * bytes queued, never a buffer that doubles and is copied).
 * {@linkcode ChannelWriter.backlog} says how far behind the reader is, and
 * {@linkcode ChannelWriter.below} waits for it to catch up: an app process
 * holds new requests back while the supervisor is behind, and its recorder
 * stops starting new exchanges only when the supervisor takes nothing at all
 * (`server/dev/child.ts`), so that a stuck supervisor cannot make the app
 * process grow without bound, and no exchange is recorded in part.
 */
export class ChannelWriter {
  #sink: Writable;
  #buf: Uint8Array<ArrayBuffer> = new Uint8Array(2 * FLUSH_AT);
  #view = new DataView(this.#buf.buffer);
  #used = 0;
  #writing = false;
  /** When the last write began (`performance.now()`). */
  #lastFlush = 0;
  /** Filled buffers waiting for the write under way, in order. */
  readonly #queue: Uint8Array<ArrayBuffer>[] = [];
  /** Their bytes, the one being written included. */
  #queued = 0;
  /** Buffers of the usual size, written out and ready to be filled again. */
  readonly #spares: Uint8Array<ArrayBuffer>[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;
  /** Where the last message queued begins when it is a RECORD one that frames may join (-1: none). */
  #recordAt = -1;
  readonly #delay: number;
  /** Callers of `below()` waiting for the backlog to fall to their mark, in order. */
  readonly #waiters: { bytes: number; resolve: (caughtUp: boolean) => void }[] = [];
  /** When the reader last took bytes, or a write began after none was under way. */
  #progressAt = 0;
  #stallTimer: ReturnType<typeof setTimeout> | undefined;

  /** @param delay at most how long a message waits, in milliseconds */
  constructor(out: Writable, delay = 2) {
    this.#sink = out;
    this.#delay = delay;
  }

  /** Whether a write failed: the reader is gone, and nothing sent from now on reaches it. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes queued and not yet written: how far behind the reader is. */
  get backlog(): number {
    return this.#queued + this.#used;
  }

  /**
   * Resolves `true` once at most `bytes` are queued (at once when they are
   * already), or `false` when the reader took nothing for `stallMs` (it is
   * stuck, or gone) or the channel closed. One timer serves every waiter; the
   * backlog is checked each time a write ends, so waiting costs no polling.
   */
  below(bytes: number, stallMs: number): Promise<boolean> {
    if (this.backlog <= bytes) return Promise.resolve(true);
    if (this.#closed) return Promise.resolve(false);
    // What is queued must be going out for the reader's progress to count.
    this.flush();
    return new Promise((resolve) => {
      this.#waiters.push({ bytes, resolve });
      this.#watchStall(stallMs);
    });
  }

  /** Wakes the waiters whose mark the backlog is at or under. */
  #progress(): void {
    if (this.#waiters.length === 0) return;
    const backlog = this.backlog;
    const still = this.#waiters.filter((w) => {
      if (backlog > w.bytes) return true;
      w.resolve(true);
      return false;
    });
    this.#waiters.length = 0;
    this.#waiters.push(...still);
  }

  /** Checks, `stallMs` after the reader's last progress, whether it made any since. */
  #watchStall(stallMs: number): void {
    if (this.#stallTimer !== undefined) return;
    const check = () => {
      this.#stallTimer = undefined;
      if (this.#waiters.length === 0) return;
      const idle = performance.now() - this.#progressAt;
      if (idle < stallMs && !this.#closed) {
        this.#stallTimer = setTimeout(check, stallMs - idle);
        return;
      }
      for (const w of this.#waiters.splice(0)) w.resolve(false);
    };
    this.#stallTimer = setTimeout(check, stallMs);
  }

  /** Makes room for `n` more bytes after the messages queued. */
  #reserve(n: number): void {
    const at = this.#used;
    if (at + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < at + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, at));
    // Frees the old bytes now (nothing else refers to them), not when the collector gets to them.
    this.#buf.buffer.transfer(0);
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  /**
   * Starts a message of `kind` whose payload is at most `max` bytes; returns
   * the buffer and the offset where the payload goes (`undefined` once the
   * channel is closed). Finish it with {@linkcode ChannelWriter.end}.
   */
  begin(kind: number, max: number): { buf: Uint8Array; view: DataView; at: number } | undefined {
    this.#recordAt = -1;
    if (this.#closed) return undefined;
    this.#reserve(5 + max);
    this.#view.setUint8(this.#used + 4, kind);
    return { buf: this.#buf, view: this.#view, at: this.#used + 5 };
  }

  /** Ends the message begun last, whose payload ends at `end`. */
  end(end: number): void {
    this.#view.setUint32(this.#used, end - this.#used, true);
    this.#used = end;
    if (this.#used >= FLUSH_AT) this.flush();
    else if (this.#timer === undefined && !this.#writing) {
      this.#timer = setTimeout(() => this.flush(), this.#delay);
    }
  }

  /**
   * Queues recorded frames: they join the RECORD message queued last when
   * nothing else was queued since and it is still small (so that the reader
   * takes a batch of frames at once), else they start a new one.
   */
  record(frames: Uint8Array): void {
    const at = this.#recordAt;
    if (at < 0 || this.#used - at + frames.length > FLUSH_AT) {
      const start = this.#used;
      this.send(RECORD, frames);
      // Unless the message went out at once (a full buffer), frames may join it.
      if (this.#used === start + 5 + frames.length) this.#recordAt = start;
      return;
    }
    this.#reserve(frames.length);
    this.#buf.set(frames, this.#used);
    this.#used += frames.length;
    this.#view.setUint32(at, this.#used - at, true);
    if (this.#used >= FLUSH_AT) this.flush();
  }

  /** Sends one message with a byte payload. */
  send(kind: number, payload: Uint8Array = new Uint8Array(0)): void {
    const m = this.begin(kind, payload.length);
    if (!m) return;
    m.buf.set(payload, m.at);
    this.end(m.at + payload.length);
  }

  /** Sends a JSON control message. */
  control(message: ToSupervisor | ToChild): void {
    const text = JSON.stringify(message);
    const m = this.begin(CONTROL, text.length * 3);
    if (!m) return;
    this.end(m.at + encoder.encodeInto(text, m.buf.subarray(m.at)).written);
  }

  /**
   * Writes out now, unless a write went out less than `gapMs` ago: what must
   * leave before code that may never yield runs (an application that spins),
   * without a system call per message under load.
   */
  flushEager(gapMs = 1): void {
    if (performance.now() - this.#lastFlush >= gapMs) this.flush();
  }

  /**
   * Writes out what is queued (in the background). While a write is under
   * way, a buffer of 64 KiB or more joins the queue; a smaller one waits for
   * the write to end.
   */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#used === 0 || this.#closed) return;
    if (this.#writing && this.#used < FLUSH_AT) return;
    // The buffer joins the queue; the next messages go to another.
    this.#queue.push(this.#buf.subarray(0, this.#used));
    this.#queued += this.#used;
    const spare = this.#spares.pop();
    this.#buf = spare ?? new Uint8Array(2 * FLUSH_AT);
    this.#view = new DataView(this.#buf.buffer);
    this.#used = 0;
    this.#recordAt = -1;
    if (!this.#writing) this.#pump();
  }

  /** Writes the queue out, buffer by buffer, then what was queued meanwhile. */
  async #pump(): Promise<void> {
    this.#writing = true;
    this.#progressAt = performance.now();
    try {
      for (let bytes = this.#queue.shift(); bytes !== undefined; bytes = this.#queue.shift()) {
        this.#lastFlush = performance.now();
        for (let rest = bytes; rest.length > 0;) {
          rest = rest.subarray(await this.#sink.write(rest));
          this.#progressAt = performance.now();
        }
        this.#queued -= bytes.length;
        this.#progress();
        // Buffers of the usual size are filled again (a few: the rest go to the collector).
        if (bytes.buffer.byteLength === 2 * FLUSH_AT && this.#spares.length < 4) {
          this.#spares.push(new Uint8Array(bytes.buffer));
        } else {
          // Written, and no spare: its memory is freed now, not when the collector gets to it
          // (a supervisor far behind leaves megabytes of these).
          bytes.buffer.transfer(0);
        }
      }
    } catch {
      this.#closed = true;
      this.#queue.length = 0;
      this.#queued = 0;
      for (const w of this.#waiters.splice(0)) w.resolve(false);
      return;
    } finally {
      this.#writing = false;
    }
    if (this.#used >= FLUSH_AT) this.flush();
    else if (this.#used > 0 && this.#timer === undefined) {
      this.#timer = setTimeout(() => this.flush(), this.#delay);
    }
  }

  /** Resolves once everything queued so far was written. */
  async drain(): Promise<void> {
    this.flush();
    while ((this.#writing || this.#used > 0) && !this.#closed) {
      await new Promise((r) => setTimeout(r, 1));
      this.flush();
    }
  }
}

/** Bytes a read of the channel may take at least (the splitter makes room for them). */
const READ_AT_LEAST = 64 * 1024;

/**
 * Splits a byte stream into messages, synchronously: {@linkcode MessageSplitter.push}
 * (or a read into {@linkcode MessageSplitter.room}, then
 * {@linkcode MessageSplitter.wrote}) calls `onMessage` for each complete
 * message in what it is given, keeping a partial one for the next bytes. (An
 * async generator would cost a promise and a microtask a message: a few
 * microseconds an exchange.)
 *
 * The reader reads straight into the splitter's buffer, so that a message's
 * bytes are copied once in JavaScript (by whoever keeps them), not first
 * from a read buffer into this one: under a flood of large uploads that copy
 * was a fifth of the supervisor's time. Only the partial message at the end
 * of a read moves, when the room after it runs short.
 */
export class MessageSplitter {
  #buf: Uint8Array;
  #view: DataView;
  #start = 0;
  #end = 0;
  readonly #onMessage: (kind: number, payload: Uint8Array) => void;

  /**
   * @param onMessage gets each message's kind and payload (a view, valid during the call)
   * @param size the buffer's first size (it grows for a message that does not fit)
   */
  constructor(onMessage: (kind: number, payload: Uint8Array) => void, size = 64 * 1024) {
    this.#buf = new Uint8Array(size);
    this.#view = new DataView(this.#buf.buffer);
    this.#onMessage = onMessage;
  }

  /**
   * Where the next bytes of the stream go: at least `min` bytes of the
   * buffer, after the partial message kept. Tell {@linkcode MessageSplitter.wrote}
   * how many were put there.
   */
  room(min = READ_AT_LEAST): Uint8Array {
    if (this.#buf.length - this.#end >= min) return this.#buf.subarray(this.#end);
    const keep = this.#end - this.#start;
    // The partial message's whole length, when its header is in: room for all of it at once
    // (up to 16 MiB; past that the buffer grows as the bytes come).
    const whole = keep >= 4 ? Math.min(this.#view.getUint32(this.#start, true), 16 << 20) : 0;
    const need = Math.max(keep + min, whole);
    if (need > this.#buf.length) {
      const next = new Uint8Array(Math.max(need, this.#buf.length * 2));
      next.set(this.#buf.subarray(this.#start, this.#end));
      this.#buf = next;
      this.#view = new DataView(next.buffer);
    } else this.#buf.copyWithin(0, this.#start, this.#end);
    this.#start = 0;
    this.#end = keep;
    return this.#buf.subarray(this.#end);
  }

  /**
   * Takes the `n` bytes just put at the start of {@linkcode MessageSplitter.room}.
   *
   * @throws {RangeError} when the stream is not made of messages
   */
  wrote(n: number): void {
    this.#end += n;
    const buf = this.#buf;
    while (this.#end - this.#start >= 5) {
      const at = this.#start;
      const length = this.#view.getUint32(at, true);
      if (length < 5) throw new RangeError(`Cannot read the channel: a message of ${length} bytes`);
      if (this.#end - at < length) break;
      this.#start = at + length;
      this.#onMessage(buf[at + 4]!, buf.subarray(at + 5, at + length));
    }
    if (this.#start === this.#end) this.#start = this.#end = 0;
  }

  /**
   * Takes the next bytes of the stream (copied).
   *
   * @throws {RangeError} when the stream is not made of messages
   */
  push(chunk: Uint8Array): void {
    this.room(chunk.length).set(chunk);
    this.wrote(chunk.length);
  }
}

/**
 * Reads a connection to its end, handing each message to `onMessage`: each
 * read goes straight into the splitter's buffer (256 KiB to begin with, reads
 * of 64 KiB and more).
 */
export async function readChannel(
  conn: { read(p: Uint8Array): Promise<number | null> },
  onMessage: (kind: number, payload: Uint8Array) => void,
): Promise<void> {
  const splitter = new MessageSplitter(onMessage, 256 * 1024);
  for (;;) {
    const n = await conn.read(splitter.room());
    if (n === null) return;
    splitter.wrote(n);
  }
}

/** Decodes a CONTROL payload. */
export function parseControl<T>(payload: Uint8Array): T {
  return JSON.parse(decoder.decode(payload)) as T;
}
