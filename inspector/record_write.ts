/**
 * The record format's payload writers: the fixed field order of each event
 * type (`docs/record.md`), written with a {@linkcode FrameEncoder}
 * (`record_encoder.ts`); re-exported by `record.ts`.
 *
 * @module
 */

import type { InputMethod } from "./protocol.ts";
import { FLAG, INPUT_CODE } from "./record_format.ts";
import { type FrameEncoder, PLACE } from "./record_encoder.ts";

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

/** The function last described, its name then, and its description (one string for every environ's `wsgi.file_wrapper`). */
let describedFunction: unknown = undefined;
let describedName = "";
let functionText = "";

/** Describes a value that is not plain data, for the environ and messages. */
export function describe(value: unknown): string {
  switch (typeof value) {
    case "function": {
      const name = value.name;
      if (value !== describedFunction || name !== describedName) {
        describedFunction = value;
        describedName = name;
        functionText = `[function ${name || "anonymous"}]`;
      }
      return functionText;
    }
    case "bigint":
    case "symbol":
      return value.toString();
    case "undefined":
      return "undefined";
  }
  try {
    // The object's own toString(), when String() would call just that: a
    // third of String()'s cost (the environ describes two objects an exchange).
    const toString = (value as { toString?: unknown }).toString;
    if (
      typeof toString === "function" &&
      (value as { [Symbol.toPrimitive]?: unknown })[Symbol.toPrimitive] === undefined
    ) {
      const text: unknown = toString.call(value);
      if (typeof text === "string") return text;
    }
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/**
 * `input`: how the app read (a code), the size it asked for (`NaN`: none),
 * the bytes (`total` of them: `bytes.length` unless only the first are known).
 */
export function writeInput(
  enc: FrameEncoder,
  method: InputMethod,
  size: number | undefined | null,
  bytes: Uint8Array,
  offset: number,
  kept: number,
  total: number = bytes.length,
): void {
  enc.u8(INPUT_CODE[method] ?? 0);
  enc.f64(typeof size === "number" ? size : NaN);
  enc.bytes(bytes, offset, kept, total);
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
  enc.pairs(headers, PLACE.SENT_HEADERS, PLACE.DERIVED - PLACE.SENT_HEADERS);
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
