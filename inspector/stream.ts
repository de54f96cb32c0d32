/**
 * The live stream (`GET /api/stream`): Server-Sent Events of the store's
 * news, each `data:` one `StreamMessage` of `protocol.ts`.
 *
 * An `exchange` message goes out when an exchange arrives and each time its
 * summary changes (headers sent, end, abort, body drained): clients upsert by
 * `id`. Every recorded event follows as an `event` message carrying the
 * bytes it added, so a client appends events to an open exchange and never
 * fetches it again. `evict` says what the store dropped, `clear` that it was
 * cleared, and `server` carries a server-level event (the CLI's supervisor:
 * reloads, load errors, faults), sent at once.
 *
 * The store's listener only queues positions (it runs on the app server's
 * hot path); every few milliseconds the batch is decoded and serialized once
 * for every client. A comment line goes out every 15 s so that proxies keep
 * the connection open. A client that falls more than 8 MiB behind is
 * disconnected (an `EventSource` reconnects by itself; reload the list when
 * it does).
 *
 * @module
 */

import type { StreamMessage } from "./protocol.ts";
import type { ServerLog } from "./server_log.ts";
import type { ExchangeStore, StoreMessage } from "./store.ts";

const encoder = new TextEncoder();

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

/** The live stream's clients, fed from the store in batches. */
export class StreamHub {
  readonly #store: ExchangeStore;
  readonly #server: ServerLog | undefined;
  readonly #heartbeatMs: number;
  readonly #clients = new Set<ReadableStreamDefaultController<Uint8Array>>();
  #pending: StoreMessage[] = [];
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

  /** Opens a stream for one client. */
  open(): Response {
    let client: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        client = controller;
        this.#add(controller);
        controller.enqueue(encoder.encode("retry: 1000\n: connected\n\n"));
      },
      cancel: () => this.#remove(client),
    }, new ByteLengthQueuingStrategy({ highWaterMark: 64 * 1024 }));
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        ...SECURITY_HEADERS,
        "x-accel-buffering": "no",
      },
    });
  }

  /** Ends every stream. */
  close(): void {
    for (const client of [...this.#clients]) {
      try {
        client.close();
      } catch {
        // Already closed or errored.
      }
      this.#remove(client);
    }
  }

  #add(client: ReadableStreamDefaultController<Uint8Array>): void {
    this.#clients.add(client);
    if (this.#clients.size > 1) return;
    this.#unsubscribe = this.#store.subscribe((message) => {
      this.#pending.push(message);
      this.#flushTimer ??= setTimeout(() => this.#flush(), 10);
    });
    // Rare: sent at once, each its own message.
    this.#unsubscribeServer = this.#server?.subscribe((event) => {
      const message: StreamMessage = { kind: "server", event };
      this.#send(encoder.encode(`data: ${JSON.stringify(message)}\n\n`));
    });
    this.#heartbeat = setInterval(
      () => this.#send(encoder.encode(": ping\n\n")),
      this.#heartbeatMs,
    );
  }

  #remove(client: ReadableStreamDefaultController<Uint8Array>): void {
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

  /** Decodes and serializes the batch once, and sends it to every client. */
  #flush(): void {
    this.#flushTimer = undefined;
    const messages = this.#pending;
    this.#pending = [];
    const store = this.#store;
    // An exchange's latest summary, once per batch, where it first appeared.
    const announced = new Set<number>();
    // Evictions: one message per batch, after the rest (it removes what they named, if gone).
    let evictBefore = 0;
    let text = "";
    for (let i = 0; i < messages.length; i++) {
      const message = messages[i]!;
      let out: StreamMessage | undefined;
      switch (message.kind) {
        case "clear":
          out = message;
          evictBefore = 0;
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
        case "event":
          out = store.eventMessageOf(message.seq, message.index, message.at);
          break;
      }
      if (out) text += `data: ${JSON.stringify(out)}\n\n`;
    }
    if (evictBefore > 0) {
      const out: StreamMessage = { kind: "evict", before: evictBefore };
      text += `data: ${JSON.stringify(out)}\n\n`;
    }
    if (text !== "") this.#send(encoder.encode(text));
  }

  #send(bytes: Uint8Array): void {
    let first = true;
    for (const client of [...this.#clients]) {
      try {
        client.enqueue(first ? bytes : bytes.slice());
        first = false;
        // A client this far behind is cut; its EventSource reconnects and reloads.
        if ((client.desiredSize ?? 0) < -8 * 1024 * 1024) {
          client.close();
          this.#remove(client);
        }
      } catch {
        this.#remove(client);
      }
    }
  }
}
