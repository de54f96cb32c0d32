/**
 * Reading the record format (`docs/record.md`): {@linkcode decodeFrame}
 * reads one frame back into a typed {@linkcode WireEvent}, with bounds
 * checks on every field; {@linkcode requestGeneration} checks a `request`
 * frame without decoding its strings (what the store needs of frames from
 * another process); {@linkcode FrameSplitter} splits a byte stream into
 * whole frames. The writer is `record.ts`.
 *
 * @module
 */

import type { EnvironRule } from "../server/recorder.ts";
import type { BytesRef, EnvironValue, Pair, StreamName, WireData, WireEvent } from "./protocol.ts";
import { EVENT_TYPES } from "./protocol.ts";
import { describe } from "./record_write.ts";
import { environValue } from "./record_environ.ts";
import {
  DERIVED,
  ENVIRON_KEYS,
  FLAG,
  FORMAT_VERSION,
  HEADER_SIZE,
  INPUT_METHODS,
  MAX_STRING,
  TAG,
  UTF8_FLAG,
} from "./record_format.ts";

const utf8Decoder = new TextDecoder("utf-8", { ignoreBOM: true });

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

/**
 * What reading a derived `environ` frame needs besides its bytes: its
 * exchange's `request` event and the gateway's rule that built it.
 */
export interface FrameContext {
  /** The exchange's `request` event, read before. */
  request?: WireData["request"];
  /** The gateway's environ rule (`server/environ_rule.ts`, handed to the store). */
  rule?: EnvironRule;
}

/**
 * Rebuilds a derived environ (`writeDerivedEnviron` in `record_environ.ts`)
 * with the gateway's rule, then gives each value the form a written entry
 * reads back as (`writeEnviron`'s tags).
 */
function derivedEnviron(
  c: Cursor,
  context: FrameContext | undefined,
): Record<string, EnvironValue> {
  const bits = c.u8();
  const inputLeft = c.f64();
  const url = c.str();
  const serverName = bits & DERIVED.SERVER_NAME ? c.str() : undefined;
  const serverPort = bits & DERIVED.SERVER_PORT ? c.str() : undefined;
  const urlScheme = bits & DERIVED.URL_SCHEME ? c.str() : undefined;
  const request = context?.request;
  const rule = context?.rule;
  if (request === undefined || rule === undefined) {
    throw new RangeError(
      `Cannot read the record: a derived environ is rebuilt from its exchange's request frame with the gateway's environ rule, and the reader has no ${
        rule === undefined ? "rule (give the store `environRule`)" : "request frame"
      }`,
    );
  }
  let live: Record<string, unknown>;
  try {
    live = rule({
      url,
      serverName,
      serverPort,
      urlScheme,
      multiprocess: (bits & DERIVED.MULTIPROCESS) !== 0,
      dropped: (bits & DERIVED.DROPPED) !== 0,
      inputLeft,
    }, request);
  } catch (error) {
    throw new RangeError(
      `Cannot read the record: the environ's derivation failed: ${describe(error)}`,
    );
  }
  const environ: Record<string, EnvironValue> = {};
  for (const key in live) environ[key] = environValue(live[key]);
  return environ;
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
export function decodeFrame(
  buf: Uint8Array,
  view: DataView,
  at: number,
  context?: FrameContext,
): DecodedFrame {
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
      if (flags & FLAG.DERIVED) {
        event = { type, t, data: { environ: derivedEnviron(c, context) } };
        break;
      }
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
