/**
 * A `text/event-stream` body read as the browser's `EventSource` reads it
 * (the HTML standard's "event stream interpretation"): lines end with CRLF,
 * LF or CR; `field: value` lines set `event`, `data` (one line each, joined
 * with newlines), `id` and `retry`; a line starting with `:` is a comment;
 * a blank line dispatches the event. Pure, no DOM; positions are byte
 * offsets in the body, so the page can say which chunk carried each event.
 *
 * @module
 */

/** One block of the stream: an event, or comments alone (a keep-alive). */
export interface SseEvent {
  /** The event type (`message` when no `event:` field named one). */
  event: string;
  /** The data lines joined with `\n`; null for a block with no `data:` field (not dispatched). */
  data: string | null;
  /** The last event id in force after this block (an `id:` sets it), or null when none was set. */
  id: string | null;
  /** Whether this block carried its own `id:` field. */
  ownId: boolean;
  /** The reconnection time a `retry:` field of this block set, in ms, or null. */
  retry: number | null;
  /** Comment lines of the block, without their colon. */
  comments: string[];
  /** Field lines the standard ignores (unknown names, a `retry` that is not digits). */
  ignored: string[];
  /** Byte offset where the block begins. */
  offset: number;
  /** Its length in bytes, up to and including the blank line (or the body's end). */
  length: number;
  /** The body ended before the blank line: the browser has not dispatched it (yet). */
  partial: boolean;
}

const decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/**
 * The blocks of an event stream, in order.
 *
 * @example
 * ```ts
 * import { parseEventStream } from "./sse.ts";
 * const events = parseEventStream(new TextEncoder().encode("id: 1\nevent: tick\ndata: a\ndata: b\n\n"));
 * console.assert(events[0]?.event === "tick" && events[0]?.data === "a\nb" && events[0]?.id === "1");
 * ```
 */
export function parseEventStream(bytes: Uint8Array): SseEvent[] {
  const out: SseEvent[] = [];
  let lastId: string | null = null;
  let pos = bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf
    ? 3
    : 0;
  let block: SseEvent | undefined;
  let dataLines: string[] = [];
  const open = (at: number): SseEvent =>
    block ??= {
      event: "message",
      data: null,
      id: lastId,
      ownId: false,
      retry: null,
      comments: [],
      ignored: [],
      offset: at,
      length: 0,
      partial: false,
    };
  const close = (end: number, partial: boolean) => {
    if (!block) return;
    block.data = dataLines.length > 0 ? dataLines.join("\n") : null;
    block.id = lastId;
    block.length = end - block.offset;
    block.partial = partial;
    out.push(block);
    block = undefined;
    dataLines = [];
  };
  while (pos < bytes.length) {
    let end = pos;
    while (end < bytes.length && bytes[end] !== 0x0a && bytes[end] !== 0x0d) end++;
    const complete = end < bytes.length;
    let next = end;
    if (complete) next = bytes[end] === 0x0d && bytes[end + 1] === 0x0a ? end + 2 : end + 1;
    if (end === pos && complete) {
      // A blank line: dispatch.
      close(next, false);
      pos = next;
      continue;
    }
    const line = decoder.decode(bytes.subarray(pos, end));
    const b = open(pos);
    if (line.startsWith(":")) b.comments.push(line.slice(1).replace(/^ /, ""));
    else {
      const colon = line.indexOf(":");
      const name = colon === -1 ? line : line.slice(0, colon);
      let value = colon === -1 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      switch (name) {
        case "event":
          b.event = value === "" ? "message" : value;
          break;
        case "data":
          dataLines.push(value);
          break;
        case "id":
          if (!value.includes("\0")) {
            lastId = value;
            b.ownId = true;
          } else b.ignored.push(line);
          break;
        case "retry":
          if (/^\d+$/.test(value)) b.retry = Number(value);
          else b.ignored.push(line);
          break;
        default:
          b.ignored.push(line);
      }
    }
    pos = next;
  }
  close(bytes.length, true);
  return out;
}
