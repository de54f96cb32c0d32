/**
 * The record format's `environ` payload writers: {@linkcode writeEnviron},
 * each key and its tagged value (`docs/record.md`), with runs of entries
 * equal to the previous environ's copied from the bytes written then; and
 * {@linkcode writeDerivedEnviron}, the gateway's recipe for an environ
 * nothing else has touched. Re-exported by `record.ts`.
 *
 * @module
 */

import type { EnvironDerivation } from "../server/recorder.ts";
import { DERIVED, KEY_CODE, TAG } from "./record_format.ts";
import { type FrameEncoder, PLACE } from "./record_encoder.ts";
import { describe } from "./record_write.ts";
import type { EnvironValue } from "./protocol.ts";

/** Items kept of an array value, and how deep arrays are followed. */
const MAX_ITEMS = 100;
const MAX_DEPTH = 3;

/** A tagged value (see `docs/record.md`, "Environ values"); {@linkcode environValue} is how it reads back. */
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
  } else if (Array.isArray(value) && depth < MAX_DEPTH) {
    const n = Math.min(value.length, MAX_ITEMS);
    enc.u8(TAG.ARRAY);
    enc.u32(n);
    for (let i = 0; i < n; i++) writeValue(enc, value[i], depth + 1);
  } else {
    enc.u8(TAG.DESCRIBED);
    enc.str(describe(value));
  }
}

/**
 * A live environ value as {@linkcode writeValue}'s bytes read back: what a
 * reader gives for the entries of an environ it rebuilt (a derived one).
 */
export function environValue(value: unknown, depth = 0): EnvironValue {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "undefined":
      return null;
  }
  if (value === null) return null;
  if (Array.isArray(value) && depth < MAX_DEPTH) {
    const n = Math.min(value.length, MAX_ITEMS);
    const out: EnvironValue[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = environValue(value[i], depth + 1);
    return out;
  }
  return describe(value);
}

/**
 * The environ last written, entry by entry, and its entries' bytes: the
 * gateway builds its environs in one order, and most entries hold what the
 * entry at the same position of the environ before held (`SERVER_NAME`,
 * `wsgi.version`, `HTTP_HOST`, an input's description, ...). A run of such
 * entries is copied from the bytes written then, four bytes at a step,
 * instead of being written entry by entry (a hello environ: ~0.5 -> ~0.2 µs).
 * An entry is the same when its key is the same string and its value the same
 * string, boolean, `null` or `undefined`, a frozen array of such values
 * (`wsgi.version`), or an object or function described the same way; a number
 * is written anew (`===` does not tell `0` from `-0`).
 */
class EnvironMemo {
  /** Entries remembered at most. */
  static readonly ENTRIES = 64;
  /** Bytes of remembered entries at most. */
  static readonly BYTES = 4096;
  readonly keys: (string | undefined)[] = new Array(EnvironMemo.ENTRIES).fill(undefined);
  /** What identifies each entry's bytes (see {@linkcode identity}). */
  readonly values: unknown[] = new Array(EnvironMemo.ENTRIES).fill(undefined);
  /** Whether each entry's value was described (an object or function). */
  readonly described = new Uint8Array(EnvironMemo.ENTRIES);
  /** Where each entry's bytes end in `bytes` (entry i: from `ends[i - 1]`, or 0). */
  readonly ends = new Int32Array(EnvironMemo.ENTRIES);
  /** Entries remembered: the first `count` of the environs written. */
  count = 0;
  /** Room for 3 bytes past the last entry (read by a four-byte step). */
  readonly bytes = new Uint8Array(EnvironMemo.BYTES + 4);
  readonly view = new DataView(this.bytes.buffer);
}

const memo = new EnvironMemo();

/** An entry whose bytes are not remembered. */
const UNIQUE = Symbol("unique");

/** What identifies an entry's value in its bytes: itself, its description, or {@linkcode UNIQUE}. */
function identity(value: unknown): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
    case "undefined":
      return value;
    case "function":
      return describe(value);
    case "object":
      if (value === null) return value;
      if (!Array.isArray(value)) return describe(value);
      if (!Object.isFrozen(value) || value.length > 8) return UNIQUE;
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        if (typeof item === "object" && item !== null || typeof item === "function") return UNIQUE;
      }
      return value;
  }
  return UNIQUE;
}

/**
 * Copies remembered entries `from` to `to` (exclusive) into the frame, four
 * bytes at a time when there is room for the up to 3 bytes past the run that
 * this writes (overwritten next), else byte by byte: never asking the sink
 * for more room than the run needs.
 */
function copyEntries(enc: FrameEncoder, from: number, to: number): void {
  const start = from === 0 ? 0 : memo.ends[from - 1]!;
  const n = memo.ends[to - 1]! - start;
  if (enc.pos + n + 3 > enc.limit) {
    enc.need(n);
    if (enc.pos + n + 3 > enc.limit) {
      const buf = enc.buf;
      const bytes = memo.bytes;
      const at = enc.pos;
      for (let i = 0; i < n; i++) buf[at + i] = bytes[start + i]!;
      enc.pos = at + n;
      return;
    }
  }
  const at = enc.pos;
  const view = enc.view;
  const source = memo.view;
  for (let i = 0; i < n; i += 4) view.setUint32(at + i, source.getUint32(start + i));
  enc.pos = at + n;
}

/**
 * Remembers entry `index`, just written from `from` (relative to the
 * frame's start), in place of the one remembered there: the entries after
 * it stay remembered when its bytes take as many as the old ones did. An
 * entry that is never the same ({@linkcode UNIQUE}) is remembered too, for
 * the place it takes. Entries from `index` on are forgotten when it cannot be
 * remembered (the memo is full).
 */
function remember(
  enc: FrameEncoder,
  index: number,
  key: string,
  value: unknown,
  id: unknown,
  from: number,
): void {
  if (index > memo.count) return;
  const at = enc.start + from;
  const n = enc.pos - at;
  const start = index === 0 ? 0 : memo.ends[index - 1]!;
  if (index >= EnvironMemo.ENTRIES || start + n > EnvironMemo.BYTES) {
    memo.count = index;
    return;
  }
  if (index === memo.count) memo.count = index + 1;
  else if (memo.ends[index]! - start !== n) memo.count = index + 1;
  memo.keys[index] = key;
  memo.values[index] = id;
  memo.described[index] = id !== value ? 1 : 0;
  memo.ends[index] = start + n;
  const buf = enc.buf;
  const bytes = memo.bytes;
  for (let i = 0; i < n; i++) bytes[start + i] = buf[at + i]!;
}

/**
 * `environ`: `u32` count, then each key (`u8` code of {@linkcode ENVIRON_KEYS},
 * or 0 and the key) and its tagged value. Objects (`wsgi.input`,
 * `wsgi.errors`) are described now, as they are when the environ is built; a
 * key whose getter throws is recorded as unreadable. Runs of entries equal to
 * the last environ's are copied from its bytes ({@linkcode EnvironMemo}).
 */
export function writeEnviron(enc: FrameEncoder, environ: Readonly<Record<string, unknown>>): void {
  enc.u32(0);
  const countAt = enc.pos - 4 - enc.start;
  let count: number;
  try {
    count = writeEntries(enc, environ);
  } catch {
    // A getter threw (or the frame could not take an entry): again, with
    // each value read on its own. A try around each read cost ~40 ns an
    // environ (V8 then reads by name, not by the for...in's own index).
    enc.pos = enc.start + countAt + 4;
    count = writeEntries(enc, readable(environ));
  }
  enc.view.setUint32(enc.start + countAt, count, true);
}

/** A copy of `environ` whose values are read each on its own: a getter that throws makes a value that says so. */
function readable(environ: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key in environ) {
    try {
      copy[key] = environ[key];
    } catch (error) {
      copy[key] = `<unreadable: ${describe(error)}>`;
    }
  }
  return copy;
}

/** Writes each entry of `environ`; returns how many. */
function writeEntries(enc: FrameEncoder, environ: Readonly<Record<string, unknown>>): number {
  const keys = memo.keys;
  const values = memo.values;
  let count = 0;
  /** The first entry of the run of remembered entries being gathered (-1: none). */
  let run = -1;
  for (const key in environ) {
    const value = environ[key];
    const id = identity(value);
    if (
      count < memo.count && keys[count] === key && values[count] === id && id !== UNIQUE &&
      memo.described[count] === (id !== value ? 1 : 0)
    ) {
      if (run < 0) run = count;
    } else {
      if (run >= 0) {
        copyEntries(enc, run, count);
        run = -1;
      }
      // Relative to the frame's start: the sink may move the frame while the entry is written.
      const from = enc.pos - enc.start;
      writeEntry(enc, key, value, id);
      remember(enc, count, key, value, id, from);
    }
    count++;
  }
  if (run >= 0) copyEntries(enc, run, count);
  return count;
}

/**
 * One environ entry: the key's code (or 0 and the key), then its tagged
 * value; `id` is its {@linkcode identity} (an object's description, made once).
 */
function writeEntry(enc: FrameEncoder, key: string, value: unknown, id: unknown): void {
  const code = KEY_CODE.get(key) ?? 0;
  if (code !== 0 && typeof value === "string") {
    // The common case (a known key, a string) in one step: code, tag, value.
    enc.need(2);
    const buf = enc.buf;
    buf[enc.pos] = code;
    buf[enc.pos + 1] = TAG.STRING;
    enc.pos += 2;
    enc.str(value);
    return;
  }
  enc.u8(code);
  if (code === 0) enc.str(key);
  if (typeof id === "string" && id !== value) {
    enc.u8(TAG.DESCRIBED);
    enc.str(id);
  } else writeValue(enc, value, 0);
}

/**
 * A derived `environ` (the frame's `DERIVED` flag; `docs/record.md`): a
 * `u8` of {@linkcode DERIVED} bits, the bytes `wsgi.input` had to give, the
 * `request.url` the gateway split, and the server name, port and scheme it
 * was given (each when set). A reader rebuilds the entries with the
 * gateway's rule (`server/environ_rule.ts`) from these and the exchange's
 * `request` frame; no entry of the live environ is read.
 */
export function writeDerivedEnviron(enc: FrameEncoder, derivation: EnvironDerivation): void {
  const { serverName, serverPort, urlScheme } = derivation;
  let bits = 0;
  if (serverName !== undefined) bits |= DERIVED.SERVER_NAME;
  if (serverPort !== undefined) bits |= DERIVED.SERVER_PORT;
  if (urlScheme !== undefined) bits |= DERIVED.URL_SCHEME;
  if (derivation.multiprocess) bits |= DERIVED.MULTIPROCESS;
  if (derivation.dropped) bits |= DERIVED.DROPPED;
  enc.u8(bits);
  enc.f64(derivation.inputLeft);
  enc.strAt(derivation.url, PLACE.DERIVED);
  if (serverName !== undefined) enc.strAt(serverName, PLACE.DERIVED + 1);
  if (serverPort !== undefined) enc.strAt(serverPort, PLACE.DERIVED + 2);
  if (urlScheme !== undefined) enc.strAt(urlScheme, PLACE.DERIVED + 3);
}
