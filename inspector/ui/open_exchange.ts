/**
 * The open exchange in the page: its summary, its events, the state after
 * them (the shared reducer of `../timeline.ts`), and the kept bytes of its two
 * streams. Made once from the side port's detail, then kept live by
 * appending the events the stream brings, each with the bytes it added: the
 * page never fetches an exchange again while it streams.
 *
 * @module
 */

import type { ExchangeDetail, ExchangeSummary, WireEvent } from "../protocol.ts";
import { fold, reduce, type TimelineState } from "../timeline.ts";
import { fromBase64 } from "./bytes.ts";

/** A stream's kept bytes, grown in place: views of a shorter length stay valid. */
export class ByteStream {
  #buf: Uint8Array;
  /** Kept bytes. */
  readonly length: number;

  constructor(buf: Uint8Array, length = buf.length) {
    this.#buf = buf;
    this.length = length;
  }

  /** The kept bytes (a view). */
  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.length);
  }

  /**
   * The stream with `bytes` written at `offset` (the kept bytes are a prefix,
   * so this is normally where the stream ends). Writes past the current
   * length reuse the buffer when it has room, so the old stream's view is
   * unchanged.
   */
  put(offset: number, bytes: Uint8Array): ByteStream {
    const end = offset + bytes.length;
    if (bytes.length === 0 || end <= this.length) return this;
    let buf = this.#buf;
    if (offset < this.length || end > buf.length) {
      buf = new Uint8Array(Math.max(end, buf.length * 2, 1024));
      buf.set(this.#buf.subarray(0, this.length));
    }
    buf.set(bytes, offset);
    return new ByteStream(buf, end);
  }
}

/** The open exchange. */
export interface OpenExchange {
  summary: ExchangeSummary;
  events: WireEvent[];
  /** The state after every event. */
  state: TimelineState;
  /** Kept bytes of the request body: what the app read, then what was drained. */
  request: ByteStream;
  /** Kept bytes of everything the app produced. */
  response: ByteStream;
}

/** The open exchange, from the side port's detail. */
export function openExchange(detail: ExchangeDetail): OpenExchange {
  const { events, request, response, ...summary } = detail;
  return {
    summary,
    events,
    state: reduce(events),
    request: new ByteStream(fromBase64(request.body.bytes)),
    response: new ByteStream(fromBase64(response.body.bytes)),
  };
}

/**
 * The open exchange after one more event (and the kept bytes it added, from
 * the stream's message).
 */
export function appendEvent(
  open: OpenExchange,
  event: WireEvent,
  bytes?: Uint8Array,
): OpenExchange {
  const next: OpenExchange = {
    ...open,
    events: [...open.events, event],
    state: fold(open.state, event),
  };
  if (bytes && "bytes" in event.data && typeof event.data.bytes === "object") {
    const ref = event.data.bytes;
    if (ref.stream === "request") next.request = open.request.put(ref.offset, bytes);
    else next.response = open.response.put(ref.offset, bytes);
  }
  return next;
}
