/**
 * The exchanges store: the list of kept exchanges (newest first), kept live
 * from the side port's stream, plus the filter text. The stream's `exchange`
 * messages carry each summary as it changes, and go on to whoever listens
 * (the open exchange). The page reads the stream without timeline events
 * (`?events=none`); an `event` message, from a stream that has them, goes
 * on to whoever listens too.
 *
 * Stream messages can come by the thousand; the store applies them to a map
 * at once but publishes a new list at most once per frame (16 ms), so the
 * page re-renders once per burst; under a flood (more than
 * {@linkcode FLOOD_RATE} summaries a second) at most every
 * {@linkcode FLOOD_MS}, as nobody reads a list that scrolls that fast.
 *
 * @module
 */

import type {
  Base64,
  ExchangeSummary,
  ImportResult,
  ServerEventWire,
  StreamMessage,
  WireEvent,
} from "../protocol.ts";
import type { ApiClient, StreamStatus } from "./api_client.ts";
import { type Observable, observable } from "./observable.ts";

/** What the list shows. */
export interface ExchangesState {
  /** Kept exchanges, newest (highest `seq`) first. */
  list: ExchangeSummary[];
  /** The first load finished. */
  loaded: boolean;
  /** The last failure to load, shown in the list. */
  error: string | null;
  /** The live stream's state. */
  status: StreamStatus;
}

/** The exchanges store: state plus actions. */
export interface ExchangesStore {
  state: Observable<ExchangesState>;
  /** The filter box's text (see `filter.ts`). */
  filter: Observable<string>;
  /** Loads the whole list from the side port (again). */
  load(): Promise<void>;
  /** Opens the live stream; returns the function that closes it. */
  connect(): () => void;
  /** Applies one stream message. */
  apply(message: StreamMessage): void;
  /** Asks the side port to forget every exchange. */
  clear(): Promise<void>;
  /** Loads a HAR file's entries into the side port's store; they are listed as they come. */
  importHar(file: Blob): Promise<ImportResult>;
  /** Calls `fn` for each summary that streams in. */
  onExchange(fn: (summary: ExchangeSummary) => void): () => void;
  /** Calls `fn` for each timeline event that streams in (`index`: its place in its exchange). */
  onEvent(fn: EventListener): () => void;
  /** Calls `fn` each time the stream reconnects (what it sent meanwhile was missed). */
  onReconnect(fn: () => void): () => void;
  /** Calls `fn` for each server-level event that streams in. */
  onServer(fn: (event: ServerEventWire) => void): () => void;
}

/** A listener of streamed events: the exchange, the event's place, the event, its bytes. */
export type EventListener = (
  id: string,
  index: number,
  event: WireEvent,
  bytes: Base64 | undefined,
) => void;

const FRAME_MS = 16;
/** Summaries a second past which the list is published less often. */
export const FLOOD_RATE = 500;
/** How often the list is published under a flood, in milliseconds. */
export const FLOOD_MS = 100;
/** How many exchanges the page keeps when the side port does not say how many it keeps. */
const DEFAULT_CAPACITY = 10_000;

/** Creates the exchanges store over an {@linkcode ApiClient}. */
export function createExchangesStore(client: ApiClient): ExchangesStore {
  const state = observable<ExchangesState>({
    list: [],
    loaded: false,
    error: null,
    status: "connecting",
  });
  const filter = observable("");
  const byId = new Map<string, ExchangeSummary>();
  const eventListeners = new Set<EventListener>();
  const exchangeListeners = new Set<(summary: ExchangeSummary) => void>();
  const reconnectListeners = new Set<() => void>();
  const serverListeners = new Set<(event: ServerEventWire) => void>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let loading: Promise<void> | undefined;
  let capacity = DEFAULT_CAPACITY;
  /** Summaries applied since the last publish, and when it was. */
  let arrived = 0;
  let publishedAt = performance.now();
  let delay = FRAME_MS;

  const publish = () => {
    timer = undefined;
    const now = performance.now();
    // The rate since the last publish sets the next interval.
    delay = arrived * 1000 > FLOOD_RATE * Math.max(now - publishedAt, FRAME_MS)
      ? FLOOD_MS
      : FRAME_MS;
    arrived = 0;
    publishedAt = now;
    const list = [...byId.values()].sort((a, b) => b.seq - a.seq);
    // The store keeps a ring: what fell out of it is gone there, so here too.
    for (const evicted of list.splice(capacity)) byId.delete(evicted.id);
    state.set({ ...state.value, list });
  };
  const schedule = () => {
    timer ??= setTimeout(publish, delay);
  };

  const store: ExchangesStore = {
    state,
    filter,
    load() {
      if (loading) return loading;
      const known = new Set(byId.keys());
      loading = client.listAll().then(({ exchanges, maxExchanges }) => {
        capacity = maxExchanges ?? DEFAULT_CAPACITY;
        // Merge, not replace: the stream may have brought news while the list loaded.
        // What was known before and is not listed now is gone from the store.
        const listed = new Set(exchanges.map((e) => e.id));
        for (const id of known) if (!listed.has(id)) byId.delete(id);
        for (const e of exchanges) {
          const streamed = byId.get(e.id);
          if (!(streamed && streamed.state !== "pending" && e.state === "pending")) {
            byId.set(e.id, e);
          }
        }
        clearTimeout(timer);
        publish();
        state.set({ ...state.value, loaded: true, error: null });
      }, (error: Error) => {
        state.set({ ...state.value, loaded: true, error: error.message });
      }).finally(() => loading = undefined);
      return loading;
    },
    connect() {
      let opened = false;
      return client.stream({
        onMessage: (message) => store.apply(message),
        onStatus: (status) => state.set({ ...state.value, status }),
        // Reconnected: messages sent while the stream was down are lost, so reload.
        onOpen: () => {
          if (opened) {
            store.load();
            for (const fn of reconnectListeners) fn();
          }
          opened = true;
        },
      });
    },
    apply(message) {
      switch (message.kind) {
        case "exchange":
          byId.set(message.exchange.id, message.exchange);
          arrived++;
          for (const fn of exchangeListeners) fn(message.exchange);
          break;
        case "event":
          for (const fn of eventListeners) {
            fn(message.id, message.index, message.event, message.bytes);
          }
          return;
        case "evict":
          for (const summary of byId.values()) {
            if (summary.seq < message.before) byId.delete(summary.id);
          }
          break;
        case "clear":
          byId.clear();
          break;
        case "server":
          for (const fn of serverListeners) fn(message.event);
          return;
        default:
          return;
      }
      schedule();
    },
    async importHar(file) {
      const result = await client.importHar(file);
      await store.load();
      return result;
    },
    async clear() {
      await client.clear();
      byId.clear();
      clearTimeout(timer);
      publish();
    },
    onExchange(fn) {
      exchangeListeners.add(fn);
      return () => exchangeListeners.delete(fn);
    },
    onEvent(fn) {
      eventListeners.add(fn);
      return () => eventListeners.delete(fn);
    },
    onReconnect(fn) {
      reconnectListeners.add(fn);
      return () => reconnectListeners.delete(fn);
    },
    onServer(fn) {
      serverListeners.add(fn);
      return () => serverListeners.delete(fn);
    },
  };
  return store;
}
