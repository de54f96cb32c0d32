/**
 * The record format's encoder: {@linkcode FrameEncoder} writes frames of
 * `docs/record.md` straight into its sink's buffer (the store's ring, or a
 * buffer bound for a pipe), with no intermediate buffer and no allocation
 * per frame. When a write does not fit before `limit`, it asks the sink for
 * room, and the sink may move the frame begun so far (to the ring's start,
 * or into a bigger buffer): positions kept across a write must be relative
 * to `start`. The payload of each event type is written by
 * `record_write.ts`; `record.ts` re-exports both.
 *
 * @module
 */

import { FORMAT_VERSION, HEADER_SIZE, MAX_STRING, UTF8_FLAG } from "./record_format.ts";

/** Memo places of an encoder (see `FrameEncoder.strAt`), and bytes kept at each. */
const MEMO_PLACES = 91;
const MEMO_BYTES = 64;
/** The first memo place of each kind of string. */
export const PLACE = {
  /** request: method, target, version, peer host; then each header's name and value (16). */
  REQUEST: 0,
  REQUEST_HEADERS: 4,
  /** call: the application's name. */
  APP: 36,
  /** start_response: the status; then each header's name and value (24). */
  STATUS: 37,
  STATUS_HEADERS: 38,
  /** headers_sent: the status line; then each header's name and value (24). */
  SENT: 62,
  SENT_HEADERS: 63,
  /** A derived environ: its URL, server name, port and scheme (4). */
  DERIVED: 87,
  /** The end (exclusive). */
  END: 91,
} as const;

const utf8Encoder = new TextEncoder();

/** Where an encoder writes: a buffer that makes room when asked. */
export interface FrameSink {
  /**
   * Makes room for `need` more bytes at `encoder.pos` (setting the encoder's
   * `buf`, `view`, `pos`, `start` and `limit`), or throws when it cannot.
   */
  more(encoder: FrameEncoder, need: number): void;
}

/**
 * Writes frames into a sink's buffer. One frame at a time:
 * {@linkcode FrameEncoder.begin}, the payload, {@linkcode FrameEncoder.end}.
 */
export class FrameEncoder {
  /** The buffer written to (the sink's). */
  buf: Uint8Array;
  /** A view of `buf`. */
  view: DataView;
  /** The next byte to write. */
  pos = 0;
  /** Where the frame being written began. */
  start = 0;
  /** The first byte that may not be written without asking the sink. */
  limit = 0;
  readonly #sink: FrameSink;
  /** The string last written at each memo place (see {@linkcode FrameEncoder.strAt}). */
  readonly #memo: (string | undefined)[] = new Array(MEMO_PLACES).fill(undefined);
  /** Its encoding (length word included): `MEMO_BYTES` bytes a place. */
  readonly #memoBytes = new Uint8Array(MEMO_PLACES * MEMO_BYTES);
  readonly #memoView = new DataView(this.#memoBytes.buffer);
  readonly #memoLength = new Uint8Array(MEMO_PLACES);

  /** Frames start at multiples of this (1 or 8). */
  readonly #align: number;

  /** @param align frames start at multiples of this: 8 in the store's ring, 1 in a pipe */
  constructor(sink: FrameSink, buf: Uint8Array, align = 1) {
    this.#sink = sink;
    this.#align = align;
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  /** Makes sure `n` more bytes can be written. */
  need(n: number): void {
    if (this.pos + n > this.limit) this.#sink.more(this, n);
  }

  /** Starts a frame: the header, its length left to {@linkcode FrameEncoder.end}. */
  begin(code: number, flags: number, id: number, t: number): void {
    this.need(HEADER_SIZE);
    const at = this.pos;
    this.start = at;
    const view = this.view;
    view.setUint32(at, 0, true);
    view.setUint8(at + 4, code);
    view.setUint8(at + 5, flags);
    view.setUint16(at + 6, FORMAT_VERSION, true);
    view.setUint32(at + 8, id >>> 0, true);
    view.setFloat64(at + 12, t, true);
    this.pos = at + HEADER_SIZE;
  }

  /** Ends the frame: writes its length, moves on to where the next frame may start, and returns the length. */
  end(): number {
    const length = this.pos - this.start;
    this.view.setUint32(this.start, length, true);
    if (this.#align === 8) this.pos = this.start + ((length + 7) & ~7);
    return length;
  }

  /** Drops the frame begun, as if it had not been. */
  abandon(): void {
    this.pos = this.start;
  }

  /** Sets the flags of the frame being written. */
  flags(flags: number): void {
    this.buf[this.start + 5] = flags;
  }

  u8(value: number): void {
    this.need(1);
    this.buf[this.pos++] = value;
  }

  u16(value: number): void {
    this.need(2);
    this.view.setUint16(this.pos, value, true);
    this.pos += 2;
  }

  u32(value: number): void {
    this.need(4);
    this.view.setUint32(this.pos, value, true);
    this.pos += 4;
  }

  f64(value: number): void {
    this.need(8);
    this.view.setFloat64(this.pos, value, true);
    this.pos += 8;
  }

  /** A string: latin-1 when every character fits in a byte, else UTF-8. */
  str(s: string): void {
    const n = s.length;
    this.need(4 + n);
    const buf = this.buf;
    const at = this.pos;
    let p = at + 4;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c > 0xff) {
        this.#utf8(s);
        return;
      }
      buf[p++] = c;
    }
    this.view.setUint32(at, n, true);
    this.pos = p;
  }

  /**
   * A string, as {@linkcode FrameEncoder.str} writes it, at a memo place: a
   * fixed number for where in a frame it goes (the n-th environ value, the
   * request's method, ...). The same string as last time at that place (the
   * same object, or equal text) is copied from the bytes written then, which
   * costs far less than reading it character by character; most strings of
   * an exchange are the ones of the exchange before.
   */
  strAt(s: string, place: number): void {
    if (this.#memo[place] === s) {
      const n = this.#memoLength[place]!;
      const from = place * MEMO_BYTES;
      const to = this.pos;
      if (to + n + 3 <= this.limit) {
        // Four bytes at a time (a byte loop was the encoder's hottest line): up
        // to 3 bytes past the string are written too, and overwritten next.
        const view = this.view;
        const memo = this.#memoView;
        for (let i = 0; i < n; i += 4) view.setUint32(to + i, memo.getUint32(from + i));
        this.pos = to + n;
        return;
      }
      this.need(n);
      const buf = this.buf;
      const memo = this.#memoBytes;
      const at = this.pos;
      for (let i = 0; i < n; i++) buf[at + i] = memo[from + i]!;
      this.pos = at + n;
      return;
    }
    // Relative to the frame's start: the sink may move the frame while the string is written.
    const from = this.pos - this.start;
    this.str(s);
    const at = this.start + from;
    const n = this.pos - at;
    if (n <= MEMO_BYTES) {
      this.#memo[place] = s;
      this.#memoLength[place] = n;
      const memo = this.#memoBytes;
      const to = place * MEMO_BYTES;
      if (at + n + 3 <= this.buf.length) {
        const view = this.view;
        const memoView = this.#memoView;
        for (let i = 0; i < n; i += 4) memoView.setUint32(to + i, view.getUint32(at + i));
      } else {
        const buf = this.buf;
        for (let i = 0; i < n; i++) memo[to + i] = buf[at + i]!;
      }
    } else this.#memo[place] = undefined;
  }

  #utf8(s: string): void {
    const most = s.length * 3;
    if (most > MAX_STRING) {
      throw new RangeError(`Cannot record a string of ${s.length} characters: at most 715 million`);
    }
    this.need(4 + most);
    const at = this.pos;
    const { written } = utf8Encoder.encodeInto(s, this.buf.subarray(at + 4, at + 4 + most));
    this.view.setUint32(at, (written | UTF8_FLAG) >>> 0, true);
    this.pos = at + 4 + written;
  }

  /** A list of `[name, value]` string pairs; the first `places / 2` at memo places from `place`. */
  pairs(list: readonly (readonly [string, string])[], place = 0, places = 0): void {
    const n = list.length;
    this.u32(n);
    for (let i = 0; i < n; i++) {
      const pair = list[i]!;
      if (2 * i + 1 < places) {
        this.strAt(pair[0], place + 2 * i);
        this.strAt(pair[1], place + 2 * i + 1);
      } else {
        this.str(pair[0]);
        this.str(pair[1]);
      }
    }
  }

  /**
   * A byte field: `size` bytes of a stream at `offset` (`bytes.length` by
   * default; more when only the first ones are known), of which the first
   * `kept` (at most `bytes.length`) are written.
   */
  bytes(bytes: Uint8Array, offset: number, kept: number, size: number = bytes.length): void {
    this.need(20 + kept);
    const at = this.pos;
    const view = this.view;
    view.setFloat64(at, offset, true);
    view.setFloat64(at + 8, size, true);
    view.setUint32(at + 16, kept, true);
    const to = at + 20;
    if (kept <= 32) {
      // A loop beats set() (and its view) for the small bodies of most exchanges.
      const buf = this.buf;
      for (let i = 0; i < kept; i++) buf[to + i] = bytes[i]!;
    } else this.buf.set(kept === bytes.length ? bytes : bytes.subarray(0, kept), to);
    this.pos = to + kept;
  }
}
