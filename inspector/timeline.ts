/**
 * The one reducer of an exchange's timeline: {@linkcode fold} takes the state
 * so far and one wire event, and returns the state after it. Everything that
 * reads an exchange goes through it: the store's detail, HAR export, and the
 * page (its tabs, its stepper's "state so far", the events it appends live).
 * Pure and typed, with no DOM and no Deno API, so the page bundles it.
 *
 * The state holds no bytes: byte ranges of the exchange's two captured
 * streams (`request`, `response`), which the caller has (the detail's
 * bodies, or what the live stream appended). Captures are prefixes of their
 * streams, so the state's `kept` counts say how much of each is there.
 *
 * @example
 * ```ts
 * import { reduce, summarize } from "./timeline.ts";
 * import type { WireEvent } from "./protocol.ts";
 * const events: WireEvent[] = [
 *   { type: "start_response", t: 1, data: { status: "200 OK", headers: [], exc_info: false } },
 *   { type: "chunk", t: 2, data: { index: 0, bytes: { stream: "response", offset: 0, size: 2, kept: 2 } } },
 *   { type: "headers_sent", t: 2, data: { status: 200, status_line: "200 OK", headers: [] } },
 *   { type: "end", t: 2, data: { status: 200, bytes: 2, dropped_events: 0 } },
 * ];
 * const state = reduce(events);
 * console.assert(state.response.size === 2 && state.finished?.kind === "end");
 * console.assert(summarize(state, { seq: 1 }).state === "complete");
 * ```
 *
 * @module
 */

import type {
  EnvironValue,
  ExchangeState,
  ExchangeSummary,
  Pair,
  WireData,
  WireEvent,
} from "./protocol.ts";

/** One call of `start_response`. */
export interface StartResponseCall {
  status: string;
  headers: Pair[];
  excInfo: boolean;
  /** Milliseconds since arrival. */
  t: number;
  /** The rule the call broke, when it broke one. */
  error?: string;
}

/** One `chunk` or `write()`: where its bytes are in the response stream. */
export interface BodyPart {
  kind: "chunk" | "write";
  index: number;
  offset: number;
  size: number;
  kept: number;
  t: number;
}

/** An `error` event. */
export interface ErrorInfo {
  where: string;
  name: string;
  message: string;
  stack?: string;
  /** Milliseconds since arrival. */
  t: number;
}

/** Everything known after some of an exchange's events. */
export interface TimelineState {
  /** Events folded in. */
  count: number;
  /** The last event's time. */
  t: number;
  /** The request line, headers, peer and arrival, once the `request` event was seen. */
  request: WireData["request"] | null;
  /** The environ, once built. */
  environ: Record<string, EnvironValue> | null;
  /** The application's name, once called. */
  app: string | null;
  /** The last `start_response` call, even one that broke a rule. */
  startResponse: StartResponseCall | null;
  /** The last call the gateway accepted (Werkzeug's `status_set`). */
  statusSet: StartResponseCall | null;
  /** What left for the client, once it did. */
  headersSent: { status: number; statusLine: string; headers: Pair[]; t: number } | null;
  /** The request stream: what the app read from `wsgi.input`, then what was drained. */
  input: {
    /** Bytes the app read (true total). */
    read: number;
    /** How many reads. */
    reads: number;
    /** Bytes drained after the response (true total). */
    rest: number;
    /** Whether the drain reached the body's end (null: there was no drain). */
    restComplete: boolean | null;
    /** True size of the stream so far. */
    size: number;
    /** Bytes of it captured. */
    kept: number;
  };
  /** The response stream: every byte the app produced. */
  response: {
    /** True size so far. */
    size: number;
    /** Bytes of it captured. */
    kept: number;
    /** Where the response that was sent begins (after a replaced one, e.g. a 500 page). */
    bodyStart: number;
    /** Each chunk and `write()`, in order. */
    parts: BodyPart[];
  };
  /** Text written to `wsgi.errors`, as kept. */
  errorsText: string;
  /** Its true length. */
  errorsSize: number;
  errors: ErrorInfo[];
  lints: { rule: string; message: string; t: number }[];
  /** `close()`, once the gateway got to it (`called`: the iterable had one). */
  closed: { called: boolean; t: number } | null;
  /** How it finished, once it did. */
  finished: {
    kind: "end" | "abort";
    t: number;
    status: number | null;
    bytes: number;
    reason: string | null;
    /** Events not kept past the per-exchange budget. */
    droppedEvents: number;
    state: ExchangeState;
  } | null;
  /** Some bytes, text or events were dropped by a cap. */
  truncated: boolean;
  /**
   * When the client went away while the exchange was not done (an `abort`
   * "client disconnected", or the gateway's `client.left` or `close.queued`
   * lint), and what told: the app may go on after it (its events follow).
   */
  clientLeft: { t: number; by: "abort" | "client.left" | "close.queued" } | null;
}

/** The `abort` reason of a client that went away mid-response (`server/gateway.ts`). */
export const CLIENT_DISCONNECTED = "client disconnected";

/** The state before any event. */
export function initialState(): TimelineState {
  return {
    count: 0,
    t: 0,
    request: null,
    environ: null,
    app: null,
    startResponse: null,
    statusSet: null,
    headersSent: null,
    input: { read: 0, reads: 0, rest: 0, restComplete: null, size: 0, kept: 0 },
    response: { size: 0, kept: 0, bodyStart: 0, parts: [] },
    errorsText: "",
    errorsSize: 0,
    errors: [],
    lints: [],
    closed: null,
    finished: null,
    truncated: false,
    clientLeft: null,
  };
}

/** Appends to a list: a new list when folding purely, the same one when reducing. */
function push<T>(list: T[], item: T, copy: boolean): T[] {
  if (copy) return [...list, item];
  list.push(item);
  return list;
}

/** Applies one event to `s` (whose nested objects are its own), copying lists when `copy`. */
function apply(s: TimelineState, event: WireEvent, copy: boolean): TimelineState {
  s.count++;
  s.t = event.t;
  const t = event.t;
  switch (event.type) {
    case "request":
      s.request = event.data;
      break;
    case "environ":
      s.environ = event.data.environ;
      break;
    case "call":
      s.app = event.data.app;
      break;
    case "input":
    case "input_rest": {
      const ref = event.data.bytes;
      const input = s.input;
      if (event.type === "input") {
        input.read += ref.size;
        input.reads++;
      } else {
        input.rest += ref.size;
        input.restComplete = event.data.complete;
        if (!event.data.complete) s.truncated = true;
      }
      input.size = Math.max(input.size, ref.offset + ref.size);
      input.kept = Math.max(input.kept, ref.offset + ref.kept);
      if (ref.kept < ref.size) s.truncated = true;
      break;
    }
    case "start_response": {
      const d = event.data;
      const call: StartResponseCall = {
        status: d.status,
        headers: d.headers,
        excInfo: d.exc_info,
        t,
      };
      if (d.error !== undefined) call.error = d.error;
      s.startResponse = call;
      if (d.error === undefined) {
        s.statusSet = call;
        if (s.headersSent === null) s.response.bodyStart = s.response.size;
      }
      break;
    }
    case "write":
    case "chunk": {
      const ref = event.data.bytes;
      const response = s.response;
      response.parts = push(response.parts, {
        kind: event.type,
        index: event.data.index,
        offset: ref.offset,
        size: ref.size,
        kept: ref.kept,
        t,
      }, copy);
      response.size = Math.max(response.size, ref.offset + ref.size);
      response.kept = Math.max(response.kept, ref.offset + ref.kept);
      if (ref.kept < ref.size) s.truncated = true;
      break;
    }
    case "headers_sent":
      s.headersSent = {
        status: event.data.status,
        statusLine: event.data.status_line,
        headers: event.data.headers,
        t,
      };
      break;
    case "errors":
      s.errorsText += event.data.text;
      s.errorsSize += event.data.size;
      if (event.data.text.length < event.data.size) s.truncated = true;
      break;
    case "error": {
      const d = event.data;
      const info: ErrorInfo = { where: d.where, name: d.name, message: d.message, t };
      if (d.stack !== undefined) info.stack = d.stack;
      s.errors = push(s.errors, info, copy);
      break;
    }
    case "lint": {
      const rule = event.data.rule;
      s.lints = push(s.lints, { rule, message: event.data.message, t }, copy);
      if ((rule === "client.left" || rule === "close.queued") && s.clientLeft === null) {
        s.clientLeft = { t, by: rule };
      }
      break;
    }
    case "close":
      s.closed = { called: event.data.called, t };
      break;
    case "end":
    case "abort": {
      const d = event.data;
      const end = event.type === "end";
      s.finished = {
        kind: event.type,
        t,
        status: end ? (d as WireData["end"]).status : null,
        bytes: d.bytes,
        reason: end ? null : (d as WireData["abort"]).reason,
        droppedEvents: d.dropped_events,
        state: s.errors.length > 0 ? "error" : end ? "complete" : "aborted",
      };
      if (d.dropped_events > 0) s.truncated = true;
      if (
        !end && (d as WireData["abort"]).reason === CLIENT_DISCONNECTED && s.clientLeft === null
      ) {
        s.clientLeft = { t, by: "abort" };
      }
      break;
    }
  }
  return s;
}

/**
 * The state after one more event: a new state (the one given is left as it
 * was), for a client that appends events as they stream in.
 */
export function fold(state: TimelineState, event: WireEvent): TimelineState {
  const next: TimelineState = {
    ...state,
    input: { ...state.input },
    response: { ...state.response },
  };
  return apply(next, event, true);
}

/** The state after the first `count` events (all by default). */
export function reduce(events: readonly WireEvent[], count: number = events.length): TimelineState {
  const state = initialState();
  const n = Math.min(count, events.length);
  for (let i = 0; i < n; i++) apply(state, events[i]!, false);
  return state;
}

/** The state after the event at `index` (before any event when `index` is -1). */
export function stateAt(events: readonly WireEvent[], index: number): TimelineState {
  return reduce(events, index + 1);
}

/** The offsets, in the sent body, where each non-empty part of it began. */
export function sentPartOffsets(state: TimelineState): number[] {
  const start = state.response.bodyStart;
  const out: number[] = [];
  for (const part of state.response.parts) {
    if (part.offset >= start && part.size > 0) out.push(part.offset - start);
  }
  return out;
}

/**
 * The list line of an exchange from its state: what the store's index keeps
 * for every exchange, computed here from the events (the tests hold the two
 * equal).
 */
export function summarize(
  state: TimelineState,
  base: { seq: number; id?: string; replayOf?: string; imported?: boolean },
): ExchangeSummary {
  const finished = state.finished;
  const sent = state.headersSent;
  const summary: ExchangeSummary = {
    id: base.id ?? String(base.seq),
    seq: base.seq,
    startedAt: state.request ? Math.round(state.request.startedAt) : 0,
    method: state.request?.method ?? "",
    target: state.request?.target ?? "",
    status: sent ? sent.status : null,
    statusLine: sent ? sent.statusLine : null,
    duration: finished ? finished.t : null,
    requestBytes: state.input.read,
    responseBytes: finished ? finished.bytes : state.response.size - state.response.bodyStart,
    state: finished ? finished.state : "pending",
    truncated: state.truncated,
    errors: state.errors.length,
  };
  if (base.replayOf !== undefined) summary.replayOf = base.replayOf;
  if (state.request?.generation !== undefined) summary.generation = state.request.generation;
  if (state.request?.ref !== undefined) summary.ref = state.request.ref;
  if (base.imported) summary.imported = true;
  return summary;
}
