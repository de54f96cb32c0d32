/**
 * The record format: one frame of bytes per timeline event, self-contained, so
 * that one process can write an exchange's events and another read them.
 * The format is specified in `docs/record.md`; this file is its code, both
 * ways: {@linkcode FrameEncoder} writes frames (the writers of event payloads
 * are here too), {@linkcode decodeFrame} reads one back into a typed
 * {@linkcode WireEvent}.
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

import type {
  BytesRef,
  EnvironValue,
  EventType,
  InputMethod,
  Pair,
  StreamName,
  WireData,
  WireEvent,
} from "./protocol.ts";
import { EVENT_TYPES } from "./protocol.ts";

/** The version of the format, in every frame's header. */
export const FORMAT_VERSION = 1;
/** Bytes of a frame's header. */
export const HEADER_SIZE = 20;
/** The type code of padding (never an event; the store's ring uses it to skip to its start). */
export const PAD = 0;
/** Set in a string's length when its bytes are UTF-8 (else latin-1). */
const UTF8_FLAG = 0x80000000;
/** The longest string a frame can hold, in bytes. */
const MAX_STRING = 0x7fffffff;
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

/** The type code of each event type: its place in `EVENT_TYPES`, from 1. */
export const TYPE_CODE: Readonly<Record<EventType, number>> = {
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
  input_rest: 15,
};
for (const [i, type] of EVENT_TYPES.entries()) {
  if (TYPE_CODE[type] !== i + 1) throw new Error(`TYPE_CODE of ${type} is not ${i + 1}`);
}

/** Flag bits, by event type (see `docs/record.md`). */
export const FLAG = {
  /** `request`: the peer is known. */
  PEER: 1,
  /** `request`: the app generation that served it follows (under the CLI). */
  GENERATION: 2,
  /** `request`: the app process's name for the exchange follows (under the CLI). */
  REF: 4,
  /** `start_response`: `exc_info` was passed. */
  EXC_INFO: 1,
  /** `start_response`: the call broke a rule (the error follows). */
  ERROR: 2,
  /** `error`: a stack follows. */
  STACK: 1,
  /** `close`: the iterable had a `close()`. */
  CALLED: 1,
  /** `input_rest`: the body's end was reached. */
  COMPLETE: 1,
  /** `errors`: the text was cut at the cap. */
  CUT: 1,
} as const;

const INPUT_METHODS: readonly InputMethod[] = ["read", "readline", "readlines", "iterate"];
const INPUT_CODE: Readonly<Record<InputMethod, number>> = {
  read: 0,
  readline: 1,
  readlines: 2,
  iterate: 3,
};

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });

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

/** Tags of environ values. */
const TAG = { STRING: 0, NUMBER: 1, TRUE: 2, FALSE: 3, NULL: 4, ARRAY: 5, DESCRIBED: 6 } as const;

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
 * Environ keys written as one byte (their place in this list, from 1): the
 * keys of PEP 3333 and of common request headers. Part of format version 1:
 * entries are only ever appended, and a reader that finds a code past its
 * list's end refuses the frame.
 */
export const ENVIRON_KEYS: readonly string[] = [
  "REQUEST_METHOD",
  "SCRIPT_NAME",
  "PATH_INFO",
  "QUERY_STRING",
  "CONTENT_TYPE",
  "CONTENT_LENGTH",
  "SERVER_NAME",
  "SERVER_PORT",
  "SERVER_PROTOCOL",
  "SERVER_SOFTWARE",
  "GATEWAY_INTERFACE",
  "REMOTE_ADDR",
  "REMOTE_PORT",
  "REMOTE_HOST",
  "REMOTE_USER",
  "AUTH_TYPE",
  "RAW_URI",
  "REQUEST_URI",
  "wsgi.version",
  "wsgi.url_scheme",
  "wsgi.input",
  "wsgi.errors",
  "wsgi.multithread",
  "wsgi.multiprocess",
  "wsgi.run_once",
  "wsgi.input_terminated",
  "wsgi.file_wrapper",
  "HTTP_HOST",
  "HTTP_USER_AGENT",
  "HTTP_ACCEPT",
  "HTTP_ACCEPT_LANGUAGE",
  "HTTP_ACCEPT_ENCODING",
  "HTTP_CONNECTION",
  "HTTP_COOKIE",
  "HTTP_REFERER",
  "HTTP_ORIGIN",
  "HTTP_CACHE_CONTROL",
  "HTTP_PRAGMA",
  "HTTP_UPGRADE_INSECURE_REQUESTS",
  "HTTP_SEC_FETCH_DEST",
  "HTTP_SEC_FETCH_MODE",
  "HTTP_SEC_FETCH_SITE",
  "HTTP_SEC_FETCH_USER",
  "HTTP_SEC_CH_UA",
  "HTTP_SEC_CH_UA_MOBILE",
  "HTTP_SEC_CH_UA_PLATFORM",
  "HTTP_DNT",
  "HTTP_IF_NONE_MATCH",
  "HTTP_IF_MODIFIED_SINCE",
  "HTTP_AUTHORIZATION",
  "HTTP_X_FORWARDED_FOR",
  "HTTP_X_FORWARDED_PROTO",
  "HTTP_X_FORWARDED_HOST",
  "HTTP_X_REQUESTED_WITH",
  "HTTP_PRIORITY",
  "HTTP_TE",
  "HTTP_CONTENT_TYPE",
  "HTTP_CONTENT_LENGTH",
];
const KEY_CODE = new Map(ENVIRON_KEYS.map((key, i) => [key, i + 1]));

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

// ---------------------------------------------------------------------------
// Reading.

/** A frame read back: its header, its event, and where its kept bytes are. */
export interface DecodedFrame {
  /** The whole frame's length in bytes. */
  length: number;
  /** The exchange id in the header. */
  id: number;
  event: WireEvent;
  /** Where the event's kept bytes begin in the buffer (-1 when it has none). */
  bytesAt: number;
}

/** A read position in a frame, with bounds checks. */
class Cursor {
  readonly buf: Uint8Array;
  readonly view: DataView;
  pos: number;
  readonly end: number;

  constructor(buf: Uint8Array, view: DataView, pos: number, end: number) {
    this.buf = buf;
    this.view = view;
    this.pos = pos;
    this.end = end;
  }

  take(n: number): number {
    const at = this.pos;
    if (at + n > this.end) {
      throw new RangeError(
        `Cannot read the record: a field runs past the end of its frame (needs ${n} bytes, ${
          this.end - at
        } left); the frame is cut, or not of format version ${FORMAT_VERSION}`,
      );
    }
    this.pos = at + n;
    return at;
  }

  u8(): number {
    return this.buf[this.take(1)]!;
  }

  u16(): number {
    return this.view.getUint16(this.take(2), true);
  }

  u32(): number {
    return this.view.getUint32(this.take(4), true);
  }

  f64(): number {
    return this.view.getFloat64(this.take(8), true);
  }

  str(): string {
    const word = this.u32();
    const n = word & MAX_STRING;
    const at = this.take(n);
    return word & UTF8_FLAG
      ? utf8Decoder.decode(this.buf.subarray(at, at + n))
      : latin1(this.buf, at, at + n);
  }

  /** Steps over a `str`. */
  skipStr(): void {
    this.take(this.u32() & MAX_STRING);
  }

  pairs(): Pair[] {
    const n = this.u32();
    // Each pair takes at least 8 bytes: a count beyond that is a broken frame.
    if (n * 8 > this.end - this.pos) this.take(n * 8);
    const out: Pair[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = [this.str(), this.str()];
    return out;
  }

  value(depth: number): EnvironValue {
    const tag = this.u8();
    switch (tag) {
      case TAG.STRING:
      case TAG.DESCRIBED:
        return this.str();
      case TAG.NUMBER:
        return this.f64();
      case TAG.TRUE:
        return true;
      case TAG.FALSE:
        return false;
      case TAG.NULL:
        return null;
      case TAG.ARRAY: {
        const n = this.u32();
        if (depth >= 3 || n > this.end - this.pos) this.take(n + 1);
        const out: EnvironValue[] = [];
        for (let i = 0; i < n; i++) out.push(this.value(depth + 1));
        return out;
      }
    }
    throw new RangeError(`Cannot read the record: unknown environ value tag ${tag}`);
  }

  bytes(stream: StreamName): BytesRef {
    const offset = this.f64();
    const size = this.f64();
    const kept = this.u32();
    this.take(kept);
    return { stream, offset, size, kept };
  }
}

/** Latin-1 bytes as a string (TextDecoder's "latin1" is windows-1252, so not that). */
export function latin1(buf: Uint8Array, start: number, end: number): string {
  if (end - start <= 4096) {
    return String.fromCharCode.apply(null, buf.subarray(start, end) as unknown as number[]);
  }
  let out = "";
  for (let i = start; i < end; i += 4096) {
    out += String.fromCharCode.apply(
      null,
      buf.subarray(i, Math.min(end, i + 4096)) as unknown as number[],
    );
  }
  return out;
}

/**
 * Checks the `request` frame at `at` (whose length the caller checked) field
 * by field without decoding its strings, and returns its app generation (0:
 * none): what a store taking frames from a pipe needs of it.
 *
 * @throws {RangeError} when a field runs past the frame's end
 */
export function requestGeneration(buf: Uint8Array, view: DataView, at: number): number {
  const flags = view.getUint8(at + 5);
  const c = new Cursor(buf, view, at + HEADER_SIZE, at + view.getUint32(at, true));
  c.take(8);
  c.skipStr();
  c.skipStr();
  c.skipStr();
  if (flags & FLAG.PEER) {
    c.skipStr();
    c.take(4);
  }
  const n = c.u32();
  for (let i = 0; i < 2 * n; i++) c.skipStr();
  const generation = flags & FLAG.GENERATION ? c.u32() : 0;
  if (flags & FLAG.REF) c.skipStr();
  return generation;
}

/** Reads a frame's length and type code at `at` (at least 5 bytes must be there). */
export function frameHead(view: DataView, at: number): { length: number; code: number } {
  return { length: view.getUint32(at, true), code: view.getUint8(at + 4) };
}

/**
 * Reads the frame at `at` of `buf` back into its event.
 *
 * @throws {RangeError} when the frame is cut, of another format version, or
 *   of an unknown type
 *
 * @example
 * ```ts
 * import { decodeFrame, FrameEncoder, TYPE_CODE } from "./record.ts";
 * const buf = new Uint8Array(64);
 * const enc = new FrameEncoder({ more() { throw new RangeError("full"); } }, buf);
 * enc.limit = buf.length;
 * enc.begin(TYPE_CODE.call, 0, 7, 0.25);
 * enc.str("application");
 * enc.end();
 * const frame = decodeFrame(buf, new DataView(buf.buffer), 0);
 * console.assert(frame.id === 7 && frame.event.type === "call" && frame.event.t === 0.25);
 * ```
 */
export function decodeFrame(buf: Uint8Array, view: DataView, at: number): DecodedFrame {
  if (at + HEADER_SIZE > buf.length) {
    throw new RangeError(
      `Cannot read the record: a frame header needs ${HEADER_SIZE} bytes (got ${buf.length - at})`,
    );
  }
  const length = view.getUint32(at, true);
  const code = view.getUint8(at + 4);
  const flags = view.getUint8(at + 5);
  const version = view.getUint16(at + 6, true);
  if (version !== FORMAT_VERSION) {
    throw new RangeError(
      `Cannot read the record: format version ${version} (this inspector reads version ${FORMAT_VERSION})`,
    );
  }
  if (length < HEADER_SIZE || at + length > buf.length) {
    throw new RangeError(
      `Cannot read the record: frame length ${length} does not fit (${buf.length - at} bytes left)`,
    );
  }
  const id = view.getUint32(at + 8, true);
  const t = view.getFloat64(at + 12, true);
  const c = new Cursor(buf, view, at + HEADER_SIZE, at + length);
  const type = EVENT_TYPES[code - 1];
  let bytesAt = -1;
  let event: WireEvent;
  switch (type) {
    case "request": {
      const startedAt = c.f64();
      const method = c.str();
      const target = c.str();
      const version = c.str();
      let peer: { hostname: string; port: number } | null = null;
      if (flags & FLAG.PEER) peer = { hostname: c.str(), port: c.u32() };
      const headers = c.pairs();
      const data: WireData["request"] = { method, target, version, peer, headers, startedAt };
      if (flags & FLAG.GENERATION) data.generation = c.u32();
      if (flags & FLAG.REF) data.ref = c.str();
      event = { type, t, data };
      break;
    }
    case "environ": {
      const n = c.u32();
      const environ: Record<string, EnvironValue> = {};
      for (let i = 0; i < n; i++) {
        const code = c.u8();
        const key = code === 0 ? c.str() : ENVIRON_KEYS[code - 1];
        if (key === undefined) {
          throw new RangeError(`Cannot read the record: unknown environ key code ${code}`);
        }
        environ[key] = c.value(0);
      }
      event = { type, t, data: { environ } };
      break;
    }
    case "call":
      event = { type, t, data: { app: c.str() } };
      break;
    case "input": {
      const method = INPUT_METHODS[c.u8()] ?? "read";
      const size = c.f64();
      bytesAt = c.pos + 20;
      const bytes = c.bytes("request");
      event = { type, t, data: { method, size: Number.isNaN(size) ? null : size, bytes } };
      break;
    }
    case "input_rest": {
      bytesAt = c.pos + 20;
      const bytes = c.bytes("request");
      event = { type, t, data: { bytes, complete: (flags & FLAG.COMPLETE) !== 0 } };
      break;
    }
    case "start_response": {
      const status = c.str();
      const headers = c.pairs();
      const data: WireEvent & { type: "start_response" } = {
        type,
        t,
        data: { status, headers, exc_info: (flags & FLAG.EXC_INFO) !== 0 },
      };
      if (flags & FLAG.ERROR) data.data.error = c.str();
      event = data;
      break;
    }
    case "write":
    case "chunk": {
      const index = c.u32();
      bytesAt = c.pos + 20;
      event = { type, t, data: { index, bytes: c.bytes("response") } };
      break;
    }
    case "headers_sent": {
      const status = c.u16();
      const statusLine = c.str();
      event = { type, t, data: { status, status_line: statusLine, headers: c.pairs() } };
      break;
    }
    case "errors": {
      const size = c.f64();
      event = { type, t, data: { text: c.str(), size } };
      break;
    }
    case "error": {
      const where = c.str();
      const name = c.str();
      const message = c.str();
      const data: WireEvent & { type: "error" } = { type, t, data: { where, name, message } };
      if (flags & FLAG.STACK) data.data.stack = c.str();
      event = data;
      break;
    }
    case "lint":
      event = { type, t, data: { rule: c.str(), message: c.str() } };
      break;
    case "close":
      event = { type, t, data: { called: (flags & FLAG.CALLED) !== 0 } };
      break;
    case "end": {
      const status = c.u16();
      const bytes = c.f64();
      event = { type, t, data: { status, bytes, dropped_events: c.u32() } };
      break;
    }
    case "abort": {
      const reason = c.str();
      const bytes = c.f64();
      event = { type, t, data: { reason, bytes, dropped_events: c.u32() } };
      break;
    }
    default:
      throw new RangeError(`Cannot read the record: unknown event type code ${code}`);
  }
  return { length, id, event, bytesAt };
}

/** Offsets, in a frame, of the fields the store's index reads without decoding. */
export const AT = {
  /** `request`: the arrival, epoch ms (`f64`). */
  startedAt: HEADER_SIZE,
  /** `input`: the byte field (after the method code and the size). */
  inputBytes: HEADER_SIZE + 9,
  /** `input_rest`: the byte field. */
  restBytes: HEADER_SIZE,
  /** `write`/`chunk`: the byte field (after the index). */
  chunkBytes: HEADER_SIZE + 4,
  /** `headers_sent`: the status (`u16`). */
  sentStatus: HEADER_SIZE,
  /** `end`: the status (`u16`), then bytes (`f64`), then dropped events (`u32`). */
  endStatus: HEADER_SIZE,
  /** `errors`: the true size (`f64`), then the kept text. */
  errorsSize: HEADER_SIZE,
} as const;

/**
 * Splits a byte stream of frames (a pipe from another process, read in
 * chunks of any size) into runs of whole frames.
 *
 * @example
 * ```ts
 * import { FrameSplitter } from "./record.ts";
 * const splitter = new FrameSplitter();
 * const frame = new Uint8Array(24);
 * new DataView(frame.buffer).setUint32(0, 24, true);
 * console.assert(splitter.push(frame.subarray(0, 10)).length === 0);
 * console.assert(splitter.push(frame.subarray(10)).length === 24);
 * ```
 */
export class FrameSplitter {
  #pending: Uint8Array = new Uint8Array(0);

  /** Bytes received that do not make a whole frame yet. */
  get pending(): number {
    return this.#pending.length;
  }

  /**
   * Takes the next bytes of the stream; returns the whole frames they
   * complete, back to back (empty when none).
   *
   * @throws {RangeError} when a frame's length is smaller than a header
   */
  push(chunk: Uint8Array): Uint8Array {
    let bytes = chunk;
    if (this.#pending.length > 0) {
      bytes = new Uint8Array(this.#pending.length + chunk.length);
      bytes.set(this.#pending);
      bytes.set(chunk, this.#pending.length);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    let end = 0;
    while (bytes.length - end >= 4) {
      const length = view.getUint32(end, true);
      if (length < HEADER_SIZE) {
        throw new RangeError(
          `Cannot read the record stream: a frame of ${length} bytes is shorter than its header (${HEADER_SIZE})`,
        );
      }
      if (end + length > bytes.length) break;
      end += length;
    }
    this.#pending = bytes.slice(end);
    return bytes.subarray(0, end);
  }
}
