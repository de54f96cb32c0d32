/**
 * From frames to the wire: an exchange's decoded frames gathered into its
 * events and its two captured streams ({@linkcode ExchangeReader}), then the
 * JSON the API serves ({@linkcode detailOf}) and the live stream's message of
 * one event ({@linkcode eventMessage}). Each byte goes out once: in the
 * detail's streams, or with the event that added it.
 *
 * @module
 */

import type {
  CapturedBody,
  ExchangeDetail,
  ExchangeSummary,
  StreamMessage,
  WireEvent,
} from "./protocol.ts";
import type { DecodedFrame } from "./record_read.ts";

const EMPTY = new Uint8Array(0);

/** Rounds milliseconds to microseconds, as the wire gives times. */
export const roundMs = (ms: number): number => Math.round(ms * 1000) / 1000;

/**
 * A captured stream rebuilt from its events: the kept bytes at their
 * offsets (a prefix of the stream), and the stream's true size.
 */
export class CapturedStream {
  #buf: Uint8Array = EMPTY;
  /** Kept bytes. */
  length = 0;
  /** True size of the stream, as far as its events say. */
  size = 0;
  /** More of the stream is known to have followed, unread (a drain stopped at the cap). */
  unfinished = false;

  /** Puts `kept` bytes of `source` from `from` at `offset` of the stream, whose event had `size` bytes. */
  put(offset: number, size: number, source: Uint8Array, from: number, kept: number): void {
    if (offset + size > this.size) this.size = offset + size;
    if (kept === 0) return;
    const end = offset + kept;
    if (end > this.#buf.length) {
      const grown = new Uint8Array(Math.max(end, this.#buf.length * 2, 256));
      grown.set(this.#buf.subarray(0, this.length));
      this.#buf = grown;
    }
    this.#buf.set(source.subarray(from, from + kept), offset);
    if (end > this.length) this.length = end;
  }

  /** The kept bytes (a view; copy it to keep it). */
  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.length);
  }

  /** The stream as served: true size, kept bytes as base64, truncation. */
  body(): CapturedBody {
    return {
      size: this.size,
      bytes: this.bytes().toBase64(),
      truncated: this.length < this.size || this.unfinished,
    };
  }
}

/** One exchange's frames, decoded in order: its events and its captured streams. */
export class ExchangeReader {
  readonly events: WireEvent[] = [];
  /** The request body: what the app read, then what was drained. */
  readonly request: CapturedStream = new CapturedStream();
  /** Every byte the app produced. */
  readonly response: CapturedStream = new CapturedStream();
  /** Whether an `input_rest` was recorded (the body was drained after the response). */
  drained = false;

  /** Adds one decoded frame (`buf`: the buffer it was decoded from). */
  add(frame: DecodedFrame, buf: Uint8Array): void {
    const event = frame.event;
    event.t = roundMs(event.t);
    this.events.push(event);
    switch (event.type) {
      case "input":
      case "input_rest":
      case "write":
      case "chunk": {
        const ref = event.data.bytes;
        const stream = ref.stream === "request" ? this.request : this.response;
        stream.put(ref.offset, ref.size, buf, frame.bytesAt, ref.kept);
        if (event.type === "input_rest") {
          this.drained = true;
          if (!event.data.complete) stream.unfinished = true;
        }
      }
    }
  }
}

/**
 * An exchange's detail: its summary, events and streams.
 *
 * @example
 * ```ts
 * import { detailOf, ExchangeReader } from "./wire.ts";
 * const summary = {
 *   id: "1", seq: 1, startedAt: 0, method: "GET", target: "/", status: null, statusLine: null,
 *   duration: null, requestBytes: 0, responseBytes: 0, state: "pending" as const,
 *   truncated: false, errors: 0,
 * };
 * const detail = detailOf(summary, new ExchangeReader());
 * console.assert(detail.events.length === 0 && detail.response.body.size === 0);
 * ```
 */
export function detailOf(summary: ExchangeSummary, reader: ExchangeReader): ExchangeDetail {
  return {
    ...summary,
    events: reader.events,
    request: { body: reader.request.body() },
    response: { body: reader.response.body() },
  };
}

/** The live stream's message of one event: the event, and the kept bytes it added. */
export function eventMessage(
  id: string,
  index: number,
  frame: DecodedFrame,
  buf: Uint8Array,
): StreamMessage {
  const event = frame.event;
  event.t = roundMs(event.t);
  const message: StreamMessage = { kind: "event", id, index, event };
  const ref = "bytes" in event.data ? event.data.bytes : undefined;
  if (frame.bytesAt >= 0 && typeof ref === "object") {
    const kept = ref.kept;
    if (kept > 0) message.bytes = buf.subarray(frame.bytesAt, frame.bytesAt + kept).toBase64();
  }
  return message;
}
