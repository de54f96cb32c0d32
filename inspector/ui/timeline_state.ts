/**
 * The stepper's model: what the gateway had done by a given step of an
 * exchange's timeline, and what that step changed. Pure functions over the
 * events the side port serves (see `TimelineEvent` in `../protocol.ts`).
 *
 * @module
 */

import type { TimelineEvent } from "../protocol.ts";
import { capturedOf, concatBytes, fromBase64 } from "./bytes.ts";
import { formatBytes, showValue } from "./format.ts";

/** An `error` event's payload. */
export interface ErrorInfo {
  where: string;
  name: string;
  message: string;
  stack?: string;
  /** Milliseconds since arrival. */
  t: number;
}

/** Everything known after the steps up to and including one index. */
export interface StepState {
  /** The request line, once the `request` event was seen. */
  request: { method: string; target: string; version: string } | null;
  /** The environ snapshot, once built. */
  environ: Record<string, unknown> | null;
  /** The last `start_response` call so far. */
  startResponse:
    | { status: string; headers: [string, string][]; excInfo: boolean; t: number; error?: string }
    | null;
  /** What left for the client, once it did. */
  headersSent: { status: number; statusLine: string; headers: [string, string][] } | null;
  /** Response body bytes captured so far (chunks and writes, in order). */
  body: Uint8Array;
  /** True size of the body so far (beyond the capture cap too). */
  bodySize: number;
  /** Offsets in `body` where each chunk or write began. */
  chunkOffsets: number[];
  /** Some body bytes so far were not captured. */
  bodyTruncated: boolean;
  /** Bytes read from `wsgi.input` so far. */
  input: Uint8Array;
  /** True number of bytes read so far. */
  inputSize: number;
  /** Text written to `wsgi.errors` so far. */
  errorsText: string;
  /** Exceptions so far. */
  errors: ErrorInfo[];
  /** Rules broken so far. */
  lints: { rule: string; message: string }[];
  /** Whether `close()` was called. */
  closed: boolean;
  /** How it finished, once it did. */
  finished: { kind: "end" | "abort"; status?: number; bytes: number; reason?: string } | null;
}

/** What one step changed: a headline and the body range it added, if any. */
export interface StepChange {
  /** The event's name. */
  type: string;
  /** One line saying what happened, in the spec's words. */
  summary: string;
  /** Further lines (headers set, bytes read, the error's message). */
  details: string[];
  /** The range of `StepState.body` this step added. */
  bodyRange?: [start: number, end: number];
  /** The range of `StepState.input` this step added. */
  inputRange?: [start: number, end: number];
}

const str = (v: unknown, fallback = ""): string => typeof v === "string" ? v : fallback;
const num = (v: unknown, fallback = 0): number => typeof v === "number" ? v : fallback;

function pairs(v: unknown): [string, string][] {
  if (!Array.isArray(v)) return [];
  return v.filter((p): p is [unknown, unknown] => Array.isArray(p) && p.length >= 2)
    .map(([n, value]) => [showValue(n), showValue(value)]);
}

/**
 * Folds the events up to and including `index` into the state so far.
 *
 * @example
 * ```ts
 * import { stateAt } from "./timeline_state.ts";
 * const events = [
 *   { type: "start_response", t: 1, data: { status: "200 OK", headers: [], exc_info: false } },
 *   { type: "chunk", t: 2, data: { index: 0, bytes: { size: 2, bytes: "aGk=", truncated: false } } },
 * ];
 * console.assert(stateAt(events, 0).body.length === 0);
 * console.assert(stateAt(events, 1).body.length === 2);
 * ```
 */
export function stateAt(events: TimelineEvent[], index: number): StepState {
  const state: StepState = {
    request: null,
    environ: null,
    startResponse: null,
    headersSent: null,
    body: new Uint8Array(0),
    bodySize: 0,
    chunkOffsets: [],
    bodyTruncated: false,
    input: new Uint8Array(0),
    inputSize: 0,
    errorsText: "",
    errors: [],
    lints: [],
    closed: false,
    finished: null,
  };
  const body: Uint8Array[] = [];
  const input: Uint8Array[] = [];
  let bodyLength = 0;
  const last = Math.min(index, events.length - 1);
  for (let i = 0; i <= last; i++) {
    const { type, t, data } = events[i]!;
    switch (type) {
      case "request":
        state.request = {
          method: str(data.method),
          target: str(data.target),
          version: str(data.version),
        };
        break;
      case "environ": {
        const environ = data.environ;
        state.environ = environ && typeof environ === "object"
          ? environ as Record<string, unknown>
          : null;
        break;
      }
      case "input": {
        const captured = capturedOf(data.bytes);
        input.push(fromBase64(captured.bytes));
        state.inputSize += captured.size;
        break;
      }
      case "start_response":
        state.startResponse = {
          status: showValue(data.status),
          headers: pairs(data.headers),
          excInfo: data.exc_info === true,
          t,
          ...(typeof data.error === "string" ? { error: data.error } : {}),
        };
        break;
      case "write":
      case "chunk": {
        const captured = capturedOf(data.bytes);
        const bytes = fromBase64(captured.bytes);
        state.chunkOffsets.push(bodyLength);
        body.push(bytes);
        bodyLength += bytes.length;
        state.bodySize += captured.size;
        if (captured.truncated || bytes.length < captured.size) state.bodyTruncated = true;
        break;
      }
      case "headers_sent":
        state.headersSent = {
          status: num(data.status),
          statusLine: str(data.status_line),
          headers: pairs(data.headers),
        };
        break;
      case "errors":
        state.errorsText += str(data.text);
        break;
      case "error":
        state.errors.push({
          where: str(data.where, "gateway"),
          name: str(data.name, "Error"),
          message: str(data.message),
          ...(typeof data.stack === "string" ? { stack: data.stack } : {}),
          t,
        });
        break;
      case "lint":
        state.lints.push({ rule: str(data.rule), message: str(data.message) });
        break;
      case "close":
        state.closed = true;
        break;
      case "end":
        state.finished = { kind: "end", status: num(data.status), bytes: num(data.bytes) };
        break;
      case "abort":
        state.finished = { kind: "abort", bytes: num(data.bytes), reason: str(data.reason) };
        break;
    }
  }
  state.body = concatBytes(body);
  state.input = concatBytes(input);
  return state;
}

/**
 * Says what the event at `index` changed, given the state before it and
 * after it (as {@linkcode stateAt} computes them).
 */
export function describeStep(
  event: TimelineEvent,
  before: StepState,
  after: StepState,
): StepChange {
  const { type, data } = event;
  const change: StepChange = { type, summary: type, details: [] };
  switch (type) {
    case "request":
      change.summary = `Request arrived: ${str(data.method)} ${str(data.target)} ${
        str(data.version)
      }`;
      if (data.peer && typeof data.peer === "object") {
        const peer = data.peer as { hostname?: unknown; port?: unknown };
        change.details.push(`from ${showValue(peer.hostname)}:${showValue(peer.port)}`);
      }
      change.details.push(...pairs(data.headers).map(([n, v]) => `${n}: ${v}`));
      break;
    case "environ":
      change.summary = `environ built: ${Object.keys(after.environ ?? {}).length} keys`;
      break;
    case "call":
      change.summary = `${str(data.app, "application")}(environ, start_response) called`;
      break;
    case "input": {
      const captured = capturedOf(data.bytes);
      const size = data.size === undefined ? "" : showValue(data.size);
      change.summary = `wsgi.input.${str(data.method, "read")}(${size}) returned ${
        formatBytes(captured.size)
      }`;
      change.details.push(`read so far: ${formatBytes(after.inputSize)}`);
      change.inputRange = [before.input.length, after.input.length];
      break;
    }
    case "start_response": {
      const sr = after.startResponse!;
      change.summary = `start_response(${JSON.stringify(sr.status)}, ${sr.headers.length} header${
        sr.headers.length === 1 ? "" : "s"
      }${sr.excInfo ? ", exc_info" : ""})`;
      if (sr.error) change.details.push(`broke a rule: ${sr.error}`);
      change.details.push(...sr.headers.map(([n, v]) => `${n}: ${v}`));
      break;
    }
    case "write":
    case "chunk": {
      const captured = capturedOf(data.bytes);
      const what = type === "write" ? "write()" : "iterable yielded chunk";
      change.summary = `${what} #${num(data.index)}: ${formatBytes(captured.size)}`;
      change.details.push(
        `body so far: ${formatBytes(after.bodySize)} in ${after.chunkOffsets.length} part${
          after.chunkOffsets.length === 1 ? "" : "s"
        }`,
      );
      change.bodyRange = [before.body.length, after.body.length];
      break;
    }
    case "headers_sent":
      change.summary = `Headers sent: ${
        after.headersSent?.statusLine || after.headersSent?.status
      }`;
      change.details.push(...(after.headersSent?.headers ?? []).map(([n, v]) => `${n}: ${v}`));
      break;
    case "errors":
      change.summary = `wsgi.errors.write(): ${JSON.stringify(str(data.text)).slice(0, 120)}`;
      break;
    case "error":
      change.summary = `${str(data.name, "Error")} in ${str(data.where)}: ${str(data.message)}`;
      if (typeof data.stack === "string") change.details.push(data.stack);
      break;
    case "lint":
      change.summary = `Rule broken (${str(data.rule)}): ${str(data.message)}`;
      break;
    case "close":
      change.summary = data.called === false
        ? "close(): the iterable has none"
        : "close() called on the iterable";
      break;
    case "end":
      change.summary = `Response finished: ${num(data.status)}, ${formatBytes(num(data.bytes))}`;
      break;
    case "abort":
      change.summary = `Aborted: ${str(data.reason)} after ${formatBytes(num(data.bytes))}`;
      break;
  }
  return change;
}

/** A short label for an event in the step list: its name and its main figure. */
export function stepLabel(event: TimelineEvent): string {
  const { type, data } = event;
  switch (type) {
    case "request":
      return `${str(data.method)} ${str(data.target)}`;
    case "start_response":
      return showValue(data.status);
    case "chunk":
    case "write":
      return `#${num(data.index)} · ${formatBytes(capturedOf(data.bytes).size)}`;
    case "input":
      return `${str(data.method, "read")} · ${formatBytes(capturedOf(data.bytes).size)}`;
    case "headers_sent":
      return String(num(data.status));
    case "error":
      return `${str(data.name)}: ${str(data.message)}`;
    case "end":
      return `${formatBytes(num(data.bytes))}`;
    case "abort":
      return str(data.reason);
    case "errors":
      return str(data.text).trim().slice(0, 60);
    case "lint":
      return str(data.rule);
    default:
      return "";
  }
}
