/**
 * The live streams: Server-Sent Events of the store's news, each `data:` one
 * `StreamMessage` of `protocol.ts`.
 *
 * `GET /api/stream` is the list's stream. An `exchange` message goes out
 * when an exchange arrives and each time its summary changes (headers sent,
 * end, abort, body drained): clients upsert by `id`. Every recorded event
 * follows as an `event` message carrying the bytes it added, so a client
 * appends events to an open exchange and never fetches it again. `evict`
 * says what the store dropped, `clear` that it was cleared, and `server`
 * carries a server-level event (the CLI's supervisor: reloads, load errors,
 * faults), sent at once. With `?events=none` the `event` messages are left
 * out: a list needs only the summaries, and under a flood the events are
 * most of the bytes (the page reads this one).
 *
 * `GET /api/exchanges/:id/stream` is one exchange's events: those kept from
 * index `from` (0 by default), then each new one as it is recorded, the
 * same `event` messages; it ends when the exchange's timeline is finished
 * (`timelineFinished`: after `end`, or after `abort` once the app's
 * iterable was closed), or when the exchange is dropped (evicted, cleared). The page opens it for a
 * pending exchange it shows, so each byte still crosses the wire once.
 *
 * The store's listener only queues positions (it runs on the app server's
 * hot path); every 10 ms (100 ms after a batch of a flood: the browser
 * spends less on fewer, larger stream chunks) the batch is decoded and
 * serialized once per kind of interest (every event, none, one exchange's),
 * not once per client. A comment line goes out every 15 s so that proxies keep the
 * connection open. A client that falls more than 8 MiB behind is
 * disconnected (an `EventSource` reconnects by itself; reload the list when
 * it does).
 *
 * @module
 */

import {
  type EventType,
  type ExchangeDetail,
  type StreamMessage,
  timelineFinished,
} from "./protocol.ts";
import type { ServerLog } from "./server_log.ts";
import type { ExchangeStore, StoreMessage } from "./store.ts";

const encoder = new TextEncoder();
/** Milliseconds a batch of the store's news waits before it is sent. */
const FLUSH_MS = 10;
/** The same after a batch of more than {@linkcode BUSY_BATCH} messages (a flood). */
const BUSY_FLUSH_MS = 100;
const BUSY_BATCH = 200;

/**
 * On every answer of the side port: no caching, no MIME sniffing, and no
 * loading by another origin (`Cross-Origin-Resource-Policy`), so that no
 * other page can include the API's JSON as a script or an image.
 */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "cache-control": "no-store",
  "x-content-type-options": "nosniff",
  "cross-origin-resource-policy": "same-origin",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
};

/** Which messages a client of the list's stream gets. */
export type StreamEvents = "all" | "none";

type Controller = ReadableStreamDefaultController<Uint8Array>;

/** A client of one exchange's stream: the next event index it needs, the types sent. */
interface Watcher {
  controller: Controller;
  seq: number;
  next: number;
  /** The types that decide whether the timeline is finished, as sent. */
  seen: EventType[];
}

/** Whether the watcher's exchange is finished once `type` is sent too. */
function finishes(watcher: Watcher, type: EventType): boolean {
  if (type === "end" || type === "abort" || type === "close") watcher.seen.push(type);
  return timelineFinished(watcher.seen);
}

const sse = (message: StreamMessage) => `data: ${JSON.stringify(message)}\n\n`;

const STREAM_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  ...SECURITY_HEADERS,
  "x-accel-buffering": "no",
};

/** The live streams' clients, fed from the store in batches. */
export class StreamHub {
  readonly #store: ExchangeStore;
  readonly #server: ServerLog | undefined;
  readonly #heartbeatMs: number;
  /** Clients of the list's stream, by what they get. */
  readonly #lists = { all: new Set<Controller>(), none: new Set<Controller>() };
  /** Clients of one exchange's stream, by the exchange's seq. */
  readonly #watchers = new Map<number, Set<Watcher>>();
  readonly #clients = new Set<Controller>();
  #pending: StoreMessage[] = [];
  /** The last batch was a flood's: the next one waits longer. */
  #busy = false;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #unsubscribe: (() => void) | undefined;
  #unsubscribeServer: (() => void) | undefined;

  /**
   * @param heartbeatMs milliseconds between keep-alive comments
   * @param server server-level events to pass on, when there are any (under the CLI)
   */
  constructor(store: ExchangeStore, heartbeatMs = 15_000, server?: ServerLog) {
    this.#store = store;
    this.#heartbeatMs = heartbeatMs;
    this.#server = server;
  }

  /** Opens the list's stream for one client: every message, or all but `event` ones. */
  open(events: StreamEvents = "all"): Response {
    let client: Controller;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        client = controller;
        this.#lists[events].add(controller);
        this.#add(controller);
        controller.enqueue(encoder.encode("retry: 1000\n: connected\n\n"));
      },
      cancel: () => this.#remove(client),
    }, new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }));
    return new Response(body, { headers: STREAM_HEADERS });
  }

  /**
   * Opens the stream of exchange `seq` (which the caller found kept): its
   * events from index `from`, then the new ones, until its timeline is finished.
   */
  openExchange(seq: number, from = 0): Response {
    let watcher: Watcher;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        // The kept events now, and the news from here on (same tick: none is missed).
        const detail = this.#store.detailOf(seq);
        watcher = { controller, seq, next: from, seen: [] };
        controller.enqueue(encoder.encode(": connected\n\n"));
        let text = "";
        let done = detail === undefined;
        if (detail !== undefined) {
          for (const message of backlog(detail, from)) text += sse(message);
          // Whether it is finished depends on every event kept, also those before `from`.
          for (const event of detail.events) done = finishes(watcher, event.type) || done;
          watcher.next = Math.max(from, detail.events.length);
        }
        if (text !== "") controller.enqueue(encoder.encode(text));
        if (done) {
          controller.close();
          return;
        }
        let set = this.#watchers.get(seq);
        if (set === undefined) this.#watchers.set(seq, set = new Set());
        set.add(watcher);
        this.#add(controller);
      },
      cancel: () => this.#unwatch(watcher),
    }, new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }));
    return new Response(body, { headers: STREAM_HEADERS });
  }

  /** Ends every stream. */
  close(): void {
    for (const set of [...this.#watchers.values()]) {
      for (const watcher of [...set]) this.#end(watcher);
    }
    for (const client of [...this.#clients]) {
      try {
        client.close();
      } catch {
        // Already closed or errored.
      }
      this.#remove(client);
    }
  }

  #add(client: Controller): void {
    this.#clients.add(client);
    if (this.#clients.size > 1) return;
    this.#unsubscribe = this.#store.subscribe((message) => {
      this.#pending.push(message);
      this.#flushTimer ??= setTimeout(() => this.#flush(), this.#busy ? BUSY_FLUSH_MS : FLUSH_MS);
    });
    // Rare: sent at once, each its own message, to the list's clients.
    this.#unsubscribeServer = this.#server?.subscribe((event) => {
      const bytes = encoder.encode(sse({ kind: "server", event }));
      this.#send(this.#lists.all, bytes);
      this.#send(this.#lists.none, bytes);
    });
    this.#heartbeat = setInterval(
      () => this.#send(this.#clients, encoder.encode(": ping\n\n")),
      this.#heartbeatMs,
    );
  }

  #remove(client: Controller): void {
    this.#lists.all.delete(client);
    this.#lists.none.delete(client);
    if (!this.#clients.delete(client) || this.#clients.size > 0) return;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#unsubscribeServer?.();
    this.#unsubscribeServer = undefined;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    this.#pending = [];
  }

  #unwatch(watcher: Watcher): void {
    const set = this.#watchers.get(watcher.seq);
    set?.delete(watcher);
    if (set?.size === 0) this.#watchers.delete(watcher.seq);
    this.#remove(watcher.controller);
  }

  /** Closes one exchange's stream (its exchange ended, or is gone). */
  #end(watcher: Watcher): void {
    try {
      watcher.controller.close();
    } catch {
      // Already closed or errored.
    }
    this.#unwatch(watcher);
  }

  /**
   * Decodes the batch and serializes it once per kind of interest: the
   * list's stream with events, without, and each watched exchange's.
   */
  #flush(): void {
    this.#flushTimer = undefined;
    const messages = this.#pending;
    // A flood: fewer, larger writes (each costs the browser a stream chunk to handle).
    this.#busy = messages.length > BUSY_BATCH;
    this.#pending = [];
    const store = this.#store;
    const wantAll = this.#lists.all.size > 0;
    const watchers = this.#watchers;
    // An exchange's latest summary, once per batch, where it first appeared.
    const announced = new Set<number>();
    // Evictions: one message per batch, after the rest (it removes what they named, if gone).
    let evictBefore = 0;
    let cleared = false;
    let all = "";
    let none = "";
    // Each watched exchange's events of this batch: [index, serialized, type].
    const perExchange = new Map<number, [number, string, EventType][]>();
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i]!;
      let out: StreamMessage | undefined;
      switch (message.kind) {
        case "clear":
          out = message;
          evictBefore = 0;
          cleared = true;
          break;
        case "evict":
          evictBefore = Math.max(evictBefore, message.before);
          break;
        case "exchange": {
          if (announced.has(message.seq)) break;
          announced.add(message.seq);
          const summary = store.summaryOf(message.seq);
          if (summary) out = { kind: "exchange", exchange: summary };
          break;
        }
        case "event": {
          const watched = watchers.has(message.seq);
          if (!wantAll && !watched) break;
          const event = store.eventMessageOf(message.seq, message.index, message.at);
          if (event === undefined || event.kind !== "event") break;
          const text = sse(event);
          if (wantAll) all += text;
          if (watched) {
            let list = perExchange.get(message.seq);
            if (list === undefined) perExchange.set(message.seq, list = []);
            list.push([message.index, text, event.event.type]);
          }
          continue;
        }
      }
      if (out) {
        const text = sse(out);
        if (wantAll) all += text;
        none += text;
      }
    }
    if (evictBefore > 0) {
      const text = sse({ kind: "evict", before: evictBefore });
      if (wantAll) all += text;
      none += text;
    }
    if (all !== "") this.#send(this.#lists.all, encoder.encode(all));
    if (none !== "") this.#send(this.#lists.none, encoder.encode(none));
    for (const [seq, events] of perExchange) this.#feed(seq, events);
    // Streams of exchanges that are gone end.
    for (const [seq, set] of [...watchers]) {
      if (cleared || seq < evictBefore || !store.keeps(seq)) {
        for (const watcher of [...set]) this.#end(watcher);
      }
    }
  }

  /** Sends one exchange's events of a batch to its watchers, each from where it is. */
  #feed(seq: number, events: [number, string, EventType][]): void {
    for (const watcher of [...this.#watchers.get(seq) ?? []]) {
      let text = "";
      let last = false;
      for (const [index, serialized, type] of events) {
        if (index < watcher.next) continue;
        text += serialized;
        watcher.next = index + 1;
        last = finishes(watcher, type) || last;
      }
      if (text !== "") this.#send([watcher.controller], encoder.encode(text));
      if (last) this.#end(watcher);
    }
  }

  #send(clients: Iterable<Controller>, bytes: Uint8Array): void {
    let first = true;
    for (const client of [...clients]) {
      try {
        client.enqueue(first ? bytes : bytes.slice());
        first = false;
        // A client this far behind is cut; its EventSource reconnects and reloads.
        if ((client.desiredSize ?? 0) < -8 * 1024 * 1024) {
          client.close();
          this.#drop(client);
        }
      } catch {
        this.#drop(client);
      }
    }
  }

  /** Forgets a client, whichever stream it reads. */
  #drop(client: Controller): void {
    for (const set of this.#watchers.values()) {
      for (const watcher of set) if (watcher.controller === client) return this.#unwatch(watcher);
    }
    this.#remove(client);
  }
}

/** Yields the stream messages of a detail's events from index `from`, with the kept bytes each added. */
function* backlog(
  detail: ExchangeDetail,
  from: number,
): Generator<Extract<StreamMessage, { kind: "event" }>> {
  let request: Uint8Array | undefined;
  let response: Uint8Array | undefined;
  for (let index = from; index < detail.events.length; index++) {
    const event = detail.events[index]!;
    const message: Extract<StreamMessage, { kind: "event" }> = {
      kind: "event",
      id: detail.id,
      index,
      event,
    };
    const ref = "bytes" in event.data ? event.data.bytes : undefined;
    if (typeof ref === "object" && ref.kept > 0) {
      const body = ref.stream === "request"
        ? request ??= Uint8Array.fromBase64(detail.request.body.bytes)
        : response ??= Uint8Array.fromBase64(detail.response.body.bytes);
      message.bytes = body.subarray(ref.offset, ref.offset + ref.kept).toBase64();
    }
    yield message;
  }
}
