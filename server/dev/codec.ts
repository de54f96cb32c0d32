/**
 * The binary encoding of one recorded event on the channel (the payload of
 * a RECORD message, `./channel.ts`): what an app process writes and the
 * supervisor reads. Self-contained: nothing in it refers to the writer's
 * memory or clock. This is the dev loop's stand-in for the inspector's own
 * compact record format (issue 9); when that lands, it replaces this file.
 *
 * Little-endian. Header: `u32 exchange`, `u8 type` ({@linkcode TYPE_CODES}),
 * `f64 t` (ms since the exchange arrived). Then, by type:
 *
 * | type | payload |
 * |---|---|
 * | request | method, target, version (str); peer (u8 0/1, str host, u16 port); headers (pairs); f64 arrival (epoch ms); ref (str) |
 * | environ | u32 n, then n × (key, value): tag u8 0 str, 1 f64, 2 true, 3 false, 4 null, 5 array (u32 n + values), 6 object described (str) |
 * | call | app (str) |
 * | input | method (str), f64 size asked (NaN: none), u32 true size, the kept bytes to the end |
 * | start_response | u8 0: status (str), headers (pairs), u8 exc_info; u8 1 (a call that broke a rule): JSON of the described payload (str) |
 * | write, chunk | u32 index, u32 true size, the kept bytes to the end |
 * | headers_sent | u16 status, status line (str), headers (pairs) |
 * | errors | text (str) |
 * | error | where, name, message (str), u8 0/1 + stack (str) |
 * | lint | rule, message (str) |
 * | close | u8 called |
 * | end | u16 status, f64 bytes |
 * | abort | reason (str), f64 bytes |
 * | input_rest | u8 complete, u32 true size, the kept bytes to the end |
 *
 * `str` is `u32 length` then the bytes: latin-1 (one byte a character) when
 * every character fits, else UTF-8 with the length's top bit set (bit 30
 * says the latin-1 bytes are all ASCII). `pairs` is `u32 n` then n × (str,
 * str). An environ key is one byte, its index in a static table of
 * well-known keys, or `0` and the key as a str.
 *
 * @module
 */

import type { EventMap, EventType, Pair } from "../recorder.ts";

/** Each event type's one-byte code. */
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
  input_rest: 15,
};
const TYPES: EventType[] = [];
for (const [type, code] of Object.entries(TYPE_CODES)) TYPES[code] = type as EventType;

const UTF8 = 0x80000000;
/** Latin-1 bytes that are all ASCII: decodable natively as UTF-8. */
const ASCII = 0x40000000;
/** The length bits of a `str`'s header. */
const LENGTH = 0x3fffffff;

/**
 * Environ keys written as one byte (a static table: frames stay
 * self-contained). `0` means the key follows as a string.
 */
const KEYS = [
  "",
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
  "REQUEST_URI",
  "RAW_URI",
  "HTTP_HOST",
  "HTTP_USER_AGENT",
  "HTTP_ACCEPT",
  "HTTP_ACCEPT_ENCODING",
  "HTTP_ACCEPT_LANGUAGE",
  "HTTP_CONNECTION",
  "HTTP_COOKIE",
  "HTTP_REFERER",
  "HTTP_CACHE_CONTROL",
  "wsgi.version",
  "wsgi.url_scheme",
  "wsgi.input",
  "wsgi.errors",
  "wsgi.multithread",
  "wsgi.multiprocess",
  "wsgi.run_once",
  "wsgi.input_terminated",
];
const KEY_CODES = new Map(KEYS.map((k, i) => [k, i]));
const encoder = new TextEncoder();
const utf8 = new TextDecoder();

/** A growable output: the writer hands one out per message. */
export interface Out {
  buf: Uint8Array;
  view: DataView;
  at: number;
  /** Makes room for `n` more bytes (may replace `buf` and `view`). */
  need(n: number): void;
}

function str(o: Out, s: string): void {
  const n = s.length;
  o.need(4 + n * 3);
  const buf = o.buf;
  let at = o.at + 4;
  let i = 0;
  let high = 0;
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c > 0xff) break;
    high |= c;
    buf[at++] = c;
  }
  if (i === n) {
    o.view.setUint32(o.at, high < 0x80 ? (n | ASCII) : n, true);
    o.at = at;
    return;
  }
  const written = encoder.encodeInto(s, buf.subarray(o.at + 4)).written;
  o.view.setUint32(o.at, (written | UTF8) >>> 0, true);
  o.at += 4 + written;
}

function u8(o: Out, v: number): void {
  o.need(1);
  o.buf[o.at++] = v;
}
function u16(o: Out, v: number): void {
  o.need(2);
  o.view.setUint16(o.at, v, true);
  o.at += 2;
}
function u32(o: Out, v: number): void {
  o.need(4);
  o.view.setUint32(o.at, v, true);
  o.at += 4;
}
function f64(o: Out, v: number): void {
  o.need(8);
  o.view.setFloat64(o.at, v, true);
  o.at += 8;
}
function bytes(o: Out, b: Uint8Array): void {
  o.need(b.length);
  o.buf.set(b, o.at);
  o.at += b.length;
}
function pairs(o: Out, list: readonly Pair[]): void {
  u32(o, list.length);
  for (let i = 0; i < list.length; i++) {
    const p = list[i]!;
    str(o, p[0]);
    str(o, p[1]);
  }
}

function describe(value: unknown): string {
  try {
    return typeof value === "function" ? `[function ${value.name || "anonymous"}]` : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

function value(o: Out, v: unknown, depth: number): void {
  switch (typeof v) {
    case "string":
      u8(o, 0);
      str(o, v);
      return;
    case "number":
      u8(o, 1);
      f64(o, v);
      return;
    case "boolean":
      u8(o, v ? 2 : 3);
      return;
    case "undefined":
      u8(o, 4);
      return;
  }
  if (v === null) return u8(o, 4);
  if (Array.isArray(v) && depth < 3) {
    const n = Math.min(v.length, 100);
    u8(o, 5);
    u32(o, n);
    for (let i = 0; i < n; i++) value(o, v[i], depth + 1);
    return;
  }
  u8(o, 6);
  str(o, describe(v));
}

/**
 * What an event carries besides its payload, filled in by the caller before
 * each {@linkcode encodeEvent} (one object, reused: no allocation per event).
 */
export interface EventExtras {
  /** The request's arrival, epoch ms (`request` only). */
  arrival: number;
  /** The exchange's reference (`request` only). */
  ref: string;
  /** Body bytes to keep of this event's bytes (the rest are counted, not sent); -1: all. */
  keep: number;
}

/** Encodes one event into `o` (header included). */
export function encodeEvent<K extends EventType>(
  o: Out,
  exchange: number,
  type: K,
  t: number,
  data: EventMap[K],
  extras: EventExtras,
): void {
  u32(o, exchange);
  u8(o, TYPE_CODES[type]);
  f64(o, t);
  switch (type) {
    case "request": {
      const d = data as EventMap["request"];
      str(o, d.method);
      str(o, d.target);
      str(o, d.version);
      if (d.peer) {
        u8(o, 1);
        str(o, d.peer.hostname);
        u16(o, d.peer.port);
      } else u8(o, 0);
      pairs(o, d.headers);
      f64(o, extras.arrival);
      str(o, extras.ref);
      return;
    }
    case "environ": {
      const environ = (data as EventMap["environ"]).environ;
      const countAt = o.at;
      u32(o, 0);
      let n = 0;
      for (const key in environ) {
        let v: unknown;
        try {
          v = environ[key];
        } catch (error) {
          v = `<unreadable: ${describe(error)}>`;
        }
        const code = KEY_CODES.get(key);
        if (code) u8(o, code);
        else {
          u8(o, 0);
          str(o, key);
        }
        value(o, v, 0);
        n++;
      }
      o.view.setUint32(countAt, n, true);
      return;
    }
    case "call":
      return str(o, (data as EventMap["call"]).app);
    case "input": {
      const d = data as EventMap["input"];
      str(o, d.method);
      f64(o, d.size ?? NaN);
      u32(o, d.bytes.length);
      return bytes(o, extras.keep < 0 ? d.bytes : d.bytes.subarray(0, extras.keep));
    }
    case "input_rest": {
      const d = data as EventMap["input_rest"];
      u8(o, d.complete ? 1 : 0);
      u32(o, d.bytes.length);
      return bytes(o, extras.keep < 0 ? d.bytes : d.bytes.subarray(0, extras.keep));
    }
    case "start_response": {
      const d = data as EventMap["start_response"];
      if (d.error === undefined && typeof d.status === "string" && Array.isArray(d.headers)) {
        u8(o, 0);
        str(o, d.status);
        pairs(o, d.headers as Pair[]);
        return u8(o, d.exc_info ? 1 : 0);
      }
      u8(o, 1);
      return str(
        o,
        JSON.stringify({
          status: describe(d.status),
          headers: describe(d.headers),
          exc_info: d.exc_info,
          error: d.error,
        }),
      );
    }
    case "write":
    case "chunk": {
      const d = data as EventMap["chunk"];
      u32(o, d.index);
      u32(o, d.bytes.length);
      return bytes(o, extras.keep < 0 ? d.bytes : d.bytes.subarray(0, extras.keep));
    }
    case "headers_sent": {
      const d = data as EventMap["headers_sent"];
      u16(o, d.status);
      str(o, d.status_line);
      return pairs(o, d.headers);
    }
    case "errors":
      return str(o, (data as EventMap["errors"]).text);
    case "error": {
      const d = data as EventMap["error"];
      str(o, d.where);
      str(o, d.name);
      str(o, d.message);
      if (d.stack === undefined) return u8(o, 0);
      u8(o, 1);
      return str(o, d.stack);
    }
    case "lint": {
      const d = data as EventMap["lint"];
      str(o, d.rule);
      return str(o, d.message);
    }
    case "close":
      return u8(o, (data as EventMap["close"]).called ? 1 : 0);
    case "end": {
      const d = data as EventMap["end"];
      u16(o, d.status);
      return f64(o, d.bytes);
    }
    case "abort": {
      const d = data as EventMap["abort"];
      str(o, d.reason);
      return f64(o, d.bytes);
    }
  }
}

/** Where the decoder memoizes strings (see `In.memo`). */
const PLACE = {
  /** Each well-known environ key's value: ENVIRON + its code. */
  ENVIRON: 0,
  METHOD: 40,
  VERSION: 41,
  PEER: 42,
  APP: 43,
  STATUS: 44,
  SENT: 45,
  /** 16 pairs of the request's headers, 8 of start_response's and of the sent ones. */
  REQUEST_HEADERS: 46,
  STATUS_HEADERS: 78,
  SENT_HEADERS: 94,
} as const;
/** Memo places, and the most bytes a memoized string may have. */
const MEMO_PLACES = 110;
const MEMO_BYTES = 64;

/** Reads one encoded event; one reader is reused (its view too, while the buffer is the same). */
class In {
  at = 0;
  end = 0;
  buf: Uint8Array = new Uint8Array(0);
  view: DataView = new DataView(this.buf.buffer);
  /**
   * The last string read at each memo place, and its bytes: a value that
   * comes again (a header name, `HTTP/1.1`, the server's name, the user
   * agent) is the same string object, not a new one per event. Fewer new
   * strings kept in the store is less work for the garbage collector, which
   * was a third of the supervisor's time.
   */
  readonly #memo: (string | undefined)[] = new Array(MEMO_PLACES);
  readonly #memoBytes = new Uint8Array(MEMO_PLACES * MEMO_BYTES);
  readonly #memoRaw = new Uint32Array(MEMO_PLACES);
  reset(payload: Uint8Array): void {
    if (payload.buffer !== this.buf.buffer) {
      this.buf = new Uint8Array(payload.buffer as ArrayBuffer);
      this.view = new DataView(payload.buffer);
    }
    this.at = payload.byteOffset;
    this.end = payload.byteOffset + payload.byteLength;
  }
  u8(): number {
    return this.buf[this.at++]!;
  }
  u16(): number {
    const v = this.view.getUint16(this.at, true);
    this.at += 2;
    return v;
  }
  u32(): number {
    const v = this.view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }
  f64(): number {
    const v = this.view.getFloat64(this.at, true);
    this.at += 8;
    return v;
  }
  str(): string {
    const raw = this.u32();
    const n = raw & LENGTH;
    const start = this.at;
    this.at += n;
    if (raw & UTF8 || (raw & ASCII && n > 12)) {
      return utf8.decode(this.buf.subarray(start, start + n));
    }
    if (n <= 12) {
      let s = "";
      for (let i = start; i < start + n; i++) s += String.fromCharCode(this.buf[i]!);
      return s;
    }
    let s = "";
    for (let i = start; i < start + n; i += 8192) {
      const part = this.buf.subarray(i, Math.min(i + 8192, start + n));
      s += String.fromCharCode.apply(null, part as unknown as number[]);
    }
    return s;
  }
  /** A string read through memo place `place` (see `#memo`); past the places, a plain read. */
  memo(place: number): string {
    if (place >= MEMO_PLACES) return this.str();
    const raw = this.view.getUint32(this.at, true);
    const n = raw & LENGTH;
    const start = this.at + 4;
    const buf = this.buf;
    const memo = this.#memoBytes;
    const base = place * MEMO_BYTES;
    if (n <= MEMO_BYTES && this.#memoRaw[place] === raw && this.#memo[place] !== undefined) {
      let same = true;
      for (let i = 0; i < n; i++) {
        if (buf[start + i] !== memo[base + i]) {
          same = false;
          break;
        }
      }
      if (same) {
        this.at = start + n;
        return this.#memo[place]!;
      }
    }
    const text = this.str();
    if (n <= MEMO_BYTES) {
      memo.set(buf.subarray(start, start + n), base);
      this.#memoRaw[place] = raw;
      this.#memo[place] = text;
    }
    return text;
  }
  pairs(base = MEMO_PLACES, places = 0): Pair[] {
    const n = this.u32();
    const out: Pair[] = new Array(n);
    for (let i = 0; i < n; i++) {
      out[i] = i < places
        ? [this.memo(base + 2 * i), this.memo(base + 2 * i + 1)]
        : [this.str(), this.str()];
    }
    return out;
  }
  value(place = MEMO_PLACES): unknown {
    const tag = this.u8();
    switch (tag) {
      case 0:
      case 6:
        return this.memo(place);
      case 1:
        return this.f64();
      case 2:
        return true;
      case 3:
        return false;
      case 4:
        return null;
      case 5: {
        const n = this.u32();
        const out: unknown[] = new Array(n);
        for (let i = 0; i < n; i++) out[i] = this.value();
        return out;
      }
    }
    throw new RangeError(`Cannot decode an environ value: unknown tag ${tag}`);
  }
  rest(): Uint8Array {
    const b = this.buf.subarray(this.at, this.end);
    this.at = this.end;
    return b;
  }
  /** An environ key and its value (a well-known key's value through its memo place). */
  entry(into: Record<string, unknown>): void {
    const code = this.u8();
    if (code === 0) into[this.str()] = this.value();
    else into[KEYS[code]!] = this.value(PLACE.ENVIRON + code);
  }
}

const reader = new In();

/** One decoded event. */
export interface DecodedEvent {
  exchange: number;
  type: EventType;
  t: number;
  /** The recorder payload (byte fields are views of the encoded bytes). */
  data: EventMap[EventType];
  /** True sizes of byte events, whose kept bytes may be fewer. */
  size?: number;
  arrival?: number;
  ref?: string;
}

/** Decodes one event encoded by {@linkcode encodeEvent}. */
export function decodeEvent(payload: Uint8Array): DecodedEvent {
  const r = reader;
  r.reset(payload);
  const exchange = r.u32();
  const code = r.u8();
  const type = TYPES[code];
  if (type === undefined) {
    throw new RangeError(`Cannot decode a recorded event: unknown type ${code}`);
  }
  const t = r.f64();
  const e: DecodedEvent = { exchange, type, t, data: undefined as never };
  switch (type) {
    case "request": {
      const method = r.memo(PLACE.METHOD);
      const target = r.str();
      const version = r.memo(PLACE.VERSION);
      const peer = r.u8() ? { hostname: r.memo(PLACE.PEER), port: r.u16() } : undefined;
      const headers = r.pairs(PLACE.REQUEST_HEADERS, 16);
      e.arrival = r.f64();
      e.ref = r.str();
      e.data = { method, target, version, peer, headers };
      break;
    }
    case "environ": {
      const n = r.u32();
      const environ: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) r.entry(environ);
      e.data = { environ };
      break;
    }
    case "call":
      e.data = { app: r.memo(PLACE.APP) };
      break;
    case "input": {
      const method = r.str() as EventMap["input"]["method"];
      const size = r.f64();
      e.size = r.u32();
      e.data = { method, size: Number.isNaN(size) ? undefined : size, bytes: r.rest() };
      break;
    }
    case "input_rest": {
      const complete = r.u8() === 1;
      e.size = r.u32();
      e.data = { bytes: r.rest(), complete };
      break;
    }
    case "start_response":
      e.data = r.u8() === 0
        ? {
          status: r.memo(PLACE.STATUS),
          headers: r.pairs(PLACE.STATUS_HEADERS, 8),
          exc_info: r.u8() === 1,
        }
        : JSON.parse(r.str());
      break;
    case "write":
    case "chunk": {
      const index = r.u32();
      e.size = r.u32();
      e.data = { index, bytes: r.rest() };
      break;
    }
    case "headers_sent":
      e.data = {
        status: r.u16(),
        status_line: r.memo(PLACE.SENT),
        headers: r.pairs(PLACE.SENT_HEADERS, 8),
      };
      break;
    case "errors":
      e.data = { text: r.str() };
      break;
    case "error": {
      const where = r.str() as EventMap["error"]["where"];
      const name = r.str();
      const message = r.str();
      e.data = { where, name, message, stack: r.u8() ? r.str() : undefined };
      break;
    }
    case "lint":
      e.data = { rule: r.str(), message: r.str() };
      break;
    case "close":
      e.data = { called: r.u8() === 1 };
      break;
    case "end":
      e.data = { status: r.u16(), bytes: r.f64() };
      break;
    case "abort":
      e.data = { reason: r.str(), bytes: r.f64() };
      break;
  }
  return e;
}
