/**
 * Reading the store: kept exchanges decoded from the ring's frames on demand
 * (a list line from the index and the request frame; a detail, a request,
 * a request body from every frame), the handle the API reads them through
 * ({@linkcode KeptExchange}), and the list's filter. Nothing here writes.
 *
 * @module
 */

import type {
  ExchangeDetail,
  ExchangeSummary,
  Pair,
  SearchCut,
  StreamMessage,
} from "./protocol.ts";
import type { EnvironRule } from "../server/recorder.ts";
import { FLAG, HEADER_SIZE, TYPE_CODE } from "./record_format.ts";
import { decodeFrame, type FrameContext, latin1 } from "./record_read.ts";
import type { FrameRing } from "./ring.ts";
import type { ExchangeIndex } from "./store_index.ts";
import { detailOf, eventMessage, ExchangeReader } from "./wire.ts";

/** A filter for `ExchangeStore.list`; every field is optional. */
export interface ListFilter {
  /** Request method, any case. */
  method?: string;
  /** Status sent: exact (`"404"`) or a class (`"4xx"`). */
  status?: string;
  /** Text the target (path and query) contains, any case. */
  q?: string;
  /** At most this many exchanges (100 by default). */
  limit?: number;
  /** Only exchanges whose `seq` is below this, for paging. */
  before?: number;
  /**
   * Only exchanges this test keeps (the body search of `search.ts`), after
   * the other filters. A {@linkcode SearchCut} means the test could not
   * tell (its work budget ran out): the list stops there, and answers it
   * as its `searchCut`.
   */
  match?: (exchange: KeptExchange) => boolean | SearchCut;
}

/** The request body as the client sent it: what the app read, then what was drained. */
export interface RequestBody {
  /** The captured bytes (a copy). */
  bytes: Uint8Array<ArrayBuffer>;
  /** The true size, as far as it was read. */
  size: number;
  /** Bytes the application itself read (the rest was drained after the response). */
  read: number;
  /** Whether `bytes` is the whole body: nothing cut by the cap, and its end was reached. */
  complete: boolean;
}

/** What a {@linkcode KeptExchange} reads its exchange from (the store). */
export interface KeptSource {
  keeps(seq: number): boolean;
  summaryOf(seq: number): ExchangeSummary | undefined;
  detailOf(seq: number): ExchangeDetail | undefined;
  requestOf(seq: number): { method: string; target: string; headers: Pair[] };
  requestBodyOf(seq: number): RequestBody;
  readerOf(seq: number): ExchangeReader;
}

/**
 * A kept exchange, as the API reads it: a handle made on demand (the store
 * keeps none), valid while the exchange is kept.
 */
export class KeptExchange {
  readonly #store: KeptSource;
  /** Arrival order, 1-based. */
  readonly seq: number;

  constructor(store: KeptSource, seq: number) {
    this.#store = store;
    this.seq = seq;
  }

  /** Stable id, unique for the process. */
  get id(): string {
    return String(this.seq);
  }

  /** Whether the store still keeps it. */
  get kept(): boolean {
    return this.#store.keeps(this.seq);
  }

  /** Its list line. */
  summary(): ExchangeSummary {
    return this.#store.summaryOf(this.seq)!;
  }

  /** Everything recorded, in the wire format. */
  detail(): ExchangeDetail {
    return this.#store.detailOf(this.seq)!;
  }

  /** The request line and headers, as recorded. */
  get request(): { method: string; target: string; headers: Pair[] } {
    return this.#store.requestOf(this.seq);
  }

  /** The request body as the client sent it (see {@linkcode RequestBody}). */
  requestBody(): RequestBody {
    return this.#store.requestBodyOf(this.seq);
  }

  /** The kept bytes of its two streams (views of a fresh decoding), for searching. */
  bodies(): { request: Uint8Array; response: Uint8Array } {
    const reader = this.#store.readerOf(this.seq);
    return { request: reader.request.bytes(), response: reader.response.bytes() };
  }
}

/**
 * The test of a status filter: a code (`"404"`) or a class (`"4xx"`).
 *
 * @throws {RangeError} for anything else
 */
export function statusFilter(status: string): (code: number) => boolean {
  const s = status.trim().toLowerCase();
  if (/^[1-5]xx$/.test(s)) {
    const hundred = Number(s[0]) * 100;
    return (code) => code >= hundred && code < hundred + 100;
  }
  if (/^\d{3}$/.test(s)) {
    const exact = Number(s);
    return (code) => code === exact;
  }
  throw new RangeError(
    `Cannot filter by status: use a code like "404" or a class like "4xx" (got ${
      JSON.stringify(status)
    })`,
  );
}

const round = (ms: number) => Math.round(ms * 1000) / 1000;

/** The method and target of exchange `seq` (empty before its `request` frame). */
export function requestLine(
  ring: FrameRing,
  ix: ExchangeIndex,
  seq: number,
): { method: string; target: string } {
  const logical = ix.request(seq);
  if (logical < 0) return { method: "", target: "" };
  const view = ring.view;
  const buf = ring.buf;
  let p = ring.at(logical) + HEADER_SIZE + 8;
  const read = () => {
    const word = view.getUint32(p, true);
    const n = word & 0x7fffffff;
    const s = word & 0x80000000
      ? new TextDecoder().decode(buf.subarray(p + 4, p + 4 + n))
      : latin1(buf, p + 4, p + 4 + n);
    p += 4 + n;
    return s;
  };
  const method = read();
  return { method, target: read() };
}

/** The list line of kept exchange `seq`, from the index (and its request and status lines). */
export function summaryOf(ring: FrameRing, ix: ExchangeIndex, seq: number): ExchangeSummary {
  const { method, target } = requestLine(ring, ix, seq);
  const sentAt = ix.sent(seq);
  let statusLine: string | null = null;
  if (sentAt >= 0) {
    const frame = decodeFrame(ring.buf, ring.view, ring.at(sentAt));
    if (frame.event.type === "headers_sent") statusLine = frame.event.data.status_line;
  }
  const duration = ix.duration(seq);
  const status = ix.status(seq);
  const startedAt = ix.startedAt(seq);
  const summary: ExchangeSummary = {
    id: String(seq),
    seq,
    startedAt: Number.isNaN(startedAt) ? 0 : Math.round(startedAt),
    method,
    target,
    status: status === 0 ? null : status,
    statusLine,
    duration: Number.isNaN(duration) ? null : round(duration),
    requestBytes: ix.read(seq),
    responseBytes: ix.responseBytes(seq),
    state: ix.state(seq),
    truncated: ix.truncated(seq),
    errors: ix.errors(seq),
  };
  const replayOf = ix.replayOf(seq);
  if (replayOf > 0) summary.replayOf = String(replayOf);
  const generation = ix.generation(seq);
  if (generation > 0) summary.generation = generation;
  if (ix.imported(seq)) summary.imported = true;
  const requestAt = ix.request(seq);
  if (requestAt >= 0 && (ring.buf[ring.at(requestAt) + 5]! & FLAG.REF) !== 0) {
    const frame = decodeFrame(ring.buf, ring.view, ring.at(requestAt));
    if (frame.event.type === "request" && frame.event.data.ref !== undefined) {
      summary.ref = frame.event.data.ref;
    }
  }
  return summary;
}

/**
 * Decodes every kept frame of exchange `seq` (only those whose type code is
 * in `codes`, when given); a derived environ is rebuilt with `rule` from the
 * exchange's request.
 */
export function readExchange(
  ring: FrameRing,
  ix: ExchangeIndex,
  seq: number,
  rule?: EnvironRule,
  codes?: ReadonlySet<number>,
): ExchangeReader {
  const reader = new ExchangeReader();
  const last = ix.last(seq);
  if (last < 0) return reader;
  const view = ring.view;
  const id = seq >>> 0;
  const context: FrameContext = { rule };
  ring.walk(ix.first(seq), last, (at) => {
    // The ring interleaves exchanges: only this one's frames.
    if (view.getUint32(at + 8, true) !== id) return;
    if (codes !== undefined && !codes.has(ring.buf[at + 4]!)) return;
    const frame = decodeFrame(ring.buf, view, at, context);
    if (frame.event.type === "request") context.request = frame.event.data;
    reader.add(frame, ring.buf);
  });
  return reader;
}

/** Everything recorded about kept exchange `seq`, in the wire format. */
export function detailFrom(
  ring: FrameRing,
  ix: ExchangeIndex,
  seq: number,
  rule?: EnvironRule,
): ExchangeDetail {
  return detailOf(summaryOf(ring, ix, seq), readExchange(ring, ix, seq, rule));
}

/** The request line and headers of kept exchange `seq`. */
export function requestFrom(
  ring: FrameRing,
  ix: ExchangeIndex,
  seq: number,
): { method: string; target: string; headers: Pair[] } {
  const at = ix.request(seq);
  if (at < 0) return { method: "", target: "", headers: [] };
  const frame = decodeFrame(ring.buf, ring.view, ring.at(at));
  if (frame.event.type !== "request") return { method: "", target: "", headers: [] };
  const { method, target, headers } = frame.event.data;
  return { method, target, headers };
}

/** The frames that carry request body bytes. */
const REQUEST_BODY_CODES: ReadonlySet<number> = new Set([TYPE_CODE.input, TYPE_CODE.input_rest]);

/**
 * The request body of kept exchange `seq`, as the client sent it: only its
 * `input` and `input_rest` frames are decoded.
 */
export function requestBodyFrom(ring: FrameRing, ix: ExchangeIndex, seq: number): RequestBody {
  const reader = readExchange(ring, ix, seq, undefined, REQUEST_BODY_CODES);
  const bytes = reader.request.bytes().slice();
  const size = ix.requestSize(seq);
  const read = ix.read(seq);
  // Complete: nothing cut, and either the drain reached the end, or nothing was left to drain.
  const cut = bytes.length < size;
  const complete = !cut && (ix.requestComplete(seq) || !reader.drained);
  return { bytes, size, read, complete };
}

/** The live-stream message of event `index` of exchange `seq`, whose frame is at logical `at`. */
export function eventMessageFrom(
  ring: FrameRing,
  ix: ExchangeIndex,
  seq: number,
  index: number,
  at: number,
  rule?: EnvironRule,
): StreamMessage {
  const physical = ring.at(at);
  let context: FrameContext | undefined;
  if (
    (ring.buf[physical + 5]! & FLAG.DERIVED) !== 0 && ring.buf[physical + 4] === TYPE_CODE.environ
  ) {
    // A derived environ is rebuilt from its exchange's request.
    const requestAt = ix.request(seq);
    const request = requestAt < 0
      ? undefined
      : decodeFrame(ring.buf, ring.view, ring.at(requestAt)).event;
    context = { rule, request: request?.type === "request" ? request.data : undefined };
  }
  const frame = decodeFrame(ring.buf, ring.view, physical, context);
  return eventMessage(String(seq), index, frame, ring.buf);
}
