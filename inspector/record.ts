/**
 * The record format: one frame of bytes per timeline event, self-contained, so
 * that one process can write an exchange's events and another read them.
 * The format is specified in `docs/record.md`. This file is its writer:
 * {@linkcode FrameEncoder} writes frames, and the payload writers the fixed
 * fields of each event type. Its constants and tables are in
 * `record_format.ts`, its reader ({@linkcode decodeFrame},
 * {@linkcode FrameSplitter}) in `record_read.ts`; both are re-exported here,
 * so that this module is the format's one entry point.
 *
 * In short: little-endian; a 20-byte header (`u32` length of the whole frame,
 * `u8` type code, `u8` flags, `u16` format version, `u32` exchange id, `f64`
 * milliseconds since the exchange's arrival), then the payload in a fixed
 * order per type. Protocol strings (method, target, headers, environ values)
 * are written as latin-1 when they fit, which they almost always do (they are
 * bytes-as-latin-1 already), else as UTF-8; a flag in their length says
 * which.
 *
 * The encoder writes straight into its sink's buffer (the store's ring, or a
 * buffer bound for a pipe): no intermediate buffer and no allocation per
 * frame. When a write does not fit before `limit`, it asks the sink for room,
 * and the sink may move the frame begun so far (to the ring's start, or into
 * a bigger buffer): positions kept across a write must be relative to
 * `start`.
 *
 * @module
 */

import type { InputMethod } from "./protocol.ts";
import {
  FLAG,
  FORMAT_VERSION,
  HEADER_SIZE,
  INPUT_CODE,
  KEY_CODE,
  MAX_STRING,
  TAG,
  UTF8_FLAG,
} from "./record_format.ts";

export {
  AT,
  ENVIRON_KEYS,
  FLAG,
  FORMAT_VERSION,
  HEADER_SIZE,
  PAD,
  TYPE_CODE,
} from "./record_format.ts";
export {
  type DecodedFrame,
  decodeFrame,
  frameHead,
  FrameSplitter,
  latin1,
  requestGeneration,
} from "./record_read.ts";

/** Memo places of an encoder (see `FrameEncoder.strAt`), and bytes kept at each. */
const MEMO_PLACES = 88;
const MEMO_BYTES = 64;
/** The first memo place of each kind of string. */
const PLACE = {
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
  /** The end (exclusive). */
  END: 87,
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
      this.need(n);
      const buf = this.buf;
      const memo = this.#memoBytes;
      const from = place * MEMO_BYTES;
      const to = this.pos;
      for (let i = 0; i < n; i++) buf[to + i] = memo[from + i]!;
      this.pos = to + n;
      return;
    }
    const at = this.pos;
    this.str(s);
    const n = this.pos - at;
    if (n <= MEMO_BYTES) {
      this.#memo[place] = s;
      this.#memoLength[place] = n;
      const buf = this.buf;
      const memo = this.#memoBytes;
      const to = place * MEMO_BYTES;
      for (let i = 0; i < n; i++) memo[to + i] = buf[at + i]!;
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
   * A byte field: `size` bytes of a stream at `offset`, of which the first
   * `kept` (at most `bytes.length`) are written.
   */
  bytes(bytes: Uint8Array, offset: number, kept: number): void {
    this.need(20 + kept);
    const at = this.pos;
    const view = this.view;
    view.setFloat64(at, offset, true);
    view.setFloat64(at + 8, bytes.length, true);
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

// ---------------------------------------------------------------------------
// Payload writers: the fixed field order of each event type (docs/record.md).

/**
 * `request`: arrival (epoch ms), method, target, version, peer, headers;
 * then, under the CLI, the app generation and the app process's name for the
 * exchange (flags `GENERATION`, `REF`).
 */
export function writeRequest(
  enc: FrameEncoder,
  startedAt: number,
  method: string,
  target: string,
  version: string,
  peer: { hostname: string; port: number } | undefined | null,
  headers: readonly (readonly [string, string])[],
  generation = 0,
  ref?: string,
): void {
  let flags = 0;
  enc.f64(startedAt);
  enc.strAt(method, PLACE.REQUEST);
  enc.strAt(target, PLACE.REQUEST + 1);
  enc.strAt(version, PLACE.REQUEST + 2);
  if (peer) {
    flags |= FLAG.PEER;
    enc.strAt(peer.hostname, PLACE.REQUEST + 3);
    enc.u32(peer.port);
  }
  enc.pairs(headers, PLACE.REQUEST_HEADERS, PLACE.APP - PLACE.REQUEST_HEADERS);
  if (generation > 0) {
    flags |= FLAG.GENERATION;
    enc.u32(generation);
  }
  if (typeof ref === "string") {
    flags |= FLAG.REF;
    enc.str(ref);
  }
  enc.flags(flags);
}

/** Describes a value that is not plain data, for the environ and messages. */
export function describe(value: unknown): string {
  switch (typeof value) {
    case "function":
      return `[function ${value.name || "anonymous"}]`;
    case "bigint":
    case "symbol":
      return value.toString();
    case "undefined":
      return "undefined";
  }
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function writeValue(enc: FrameEncoder, value: unknown, depth: number): void {
  switch (typeof value) {
    case "string":
      enc.u8(TAG.STRING);
      enc.str(value);
      return;
    case "number":
      if (Number.isFinite(value)) {
        enc.u8(TAG.NUMBER);
        enc.f64(value);
      } else {
        enc.u8(TAG.DESCRIBED);
        enc.str(String(value));
      }
      return;
    case "boolean":
      enc.u8(value ? TAG.TRUE : TAG.FALSE);
      return;
    case "undefined":
      enc.u8(TAG.NULL);
      return;
  }
  if (value === null) {
    enc.u8(TAG.NULL);
  } else if (Array.isArray(value) && depth < 3) {
    const n = Math.min(value.length, 100);
    enc.u8(TAG.ARRAY);
    enc.u32(n);
    for (let i = 0; i < n; i++) writeValue(enc, value[i], depth + 1);
  } else {
    enc.u8(TAG.DESCRIBED);
    enc.str(describe(value));
  }
}

/**
 * The code of the key last seen at each position of an environ: the gateway
 * builds its environs in one order, so comparing a key with the one at its
 * place last time (the same string object: a pointer compare) spares a
 * lookup. (Copying runs of unchanged entries from the previous environ was
 * tried too: with real requests, whose values change from one to the next,
 * it saved nothing.)
 */
const seenKeys: string[] = [];
const seenCodes: number[] = [];

/**
 * `environ`: `u32` count, then each key (`u8` code of {@linkcode ENVIRON_KEYS},
 * or 0 and the key) and its tagged value. Objects (`wsgi.input`,
 * `wsgi.errors`) are described now, as they are when the environ is built; a
 * key whose getter throws is recorded as unreadable.
 */
export function writeEnviron(enc: FrameEncoder, environ: Readonly<Record<string, unknown>>): void {
  enc.u32(0);
  const countAt = enc.pos - 4 - enc.start;
  let count = 0;
  for (const key in environ) {
    let value: unknown;
    try {
      value = environ[key];
    } catch (error) {
      value = `<unreadable: ${describe(error)}>`;
    }
    let code: number;
    if (seenKeys[count] === key) code = seenCodes[count]!;
    else {
      code = KEY_CODE.get(key) ?? 0;
      if (count < 128) {
        seenKeys[count] = key;
        seenCodes[count] = code;
      }
    }
    enc.u8(code);
    if (code === 0) enc.str(key);
    writeValue(enc, value, 0);
    count++;
  }
  enc.view.setUint32(enc.start + countAt, count, true);
}

/** `input`: how the app read (a code), the size it asked for (`NaN`: none), the bytes. */
export function writeInput(
  enc: FrameEncoder,
  method: InputMethod,
  size: number | undefined | null,
  bytes: Uint8Array,
  offset: number,
  kept: number,
): void {
  enc.u8(INPUT_CODE[method] ?? 0);
  enc.f64(typeof size === "number" ? size : NaN);
  enc.bytes(bytes, offset, kept);
}

/** Shows a status that is not a string (a call that broke a rule), as a string. */
function statusText(status: unknown): string {
  return typeof status === "string" ? status : describe(status);
}

/**
 * `start_response`: the status (described if not a string), the header list
 * (each item described as a pair of strings if it is not one), and the rule
 * broken, if any. Flags: `EXC_INFO`, `ERROR`.
 */
export function writeStartResponse(
  enc: FrameEncoder,
  status: unknown,
  headers: unknown,
  excInfo: boolean,
  error: string | undefined,
): void {
  enc.flags((excInfo ? FLAG.EXC_INFO : 0) | (error !== undefined ? FLAG.ERROR : 0));
  enc.strAt(statusText(status), PLACE.STATUS);
  if (Array.isArray(headers)) {
    enc.u32(headers.length);
    for (let i = 0; i < headers.length; i++) {
      const item: unknown = headers[i];
      if (Array.isArray(item)) {
        const name = typeof item[0] === "string" ? item[0] : describe(item[0]);
        const value = typeof item[1] === "string" ? item[1] : describe(item[1]);
        if (i < 12) {
          enc.strAt(name, PLACE.STATUS_HEADERS + 2 * i);
          enc.strAt(value, PLACE.STATUS_HEADERS + 2 * i + 1);
        } else {
          enc.str(name);
          enc.str(value);
        }
      } else {
        enc.str(describe(item));
        enc.str("");
      }
    }
  } else enc.u32(0);
  if (error !== undefined) enc.str(error);
}

/** `headers_sent`: the status code, the status line, the headers. */
export function writeHeadersSent(
  enc: FrameEncoder,
  status: number,
  statusLine: string,
  headers: readonly (readonly [string, string])[],
): void {
  enc.u16(status);
  enc.strAt(statusLine, PLACE.SENT);
  enc.pairs(headers, PLACE.SENT_HEADERS, PLACE.END - PLACE.SENT_HEADERS);
}

/** `call`: the application's name. */
export function writeCall(enc: FrameEncoder, app: string): void {
  enc.strAt(app, PLACE.APP);
}

/** `error`: where, name, message, and the stack (flag `STACK`). Texts are cut at `max` characters. */
export function writeError(
  enc: FrameEncoder,
  where: string,
  name: string,
  message: string,
  stack: string | undefined,
  max: number,
): void {
  enc.str(where);
  enc.str(cut(name, max));
  enc.str(cut(message, max));
  if (typeof stack === "string") {
    enc.flags(FLAG.STACK);
    enc.str(cut(stack, max));
  }
}

/** Cuts a text at `max` UTF-16 units (not inside a surrogate pair). */
export function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const c = text.charCodeAt(max - 1);
  return text.slice(0, c >= 0xd800 && c <= 0xdbff ? max - 1 : max);
}
