/**
 * The selection store: which exchange is open, its record (an
 * {@linkcode OpenExchange}), and which tab of it is shown. The record is
 * fetched once when the exchange opens. While its timeline is not finished
 * (`timelineFinished`: no `end` yet, nor `abort` and `close`), the
 * exchange's own stream (`GET /api/exchanges/:id/stream`,
 * from the first event the record lacks) brings the rest: each event is
 * appended with the shared reducer (and the bytes it added), published at
 * most once per frame. The stream ends when the timeline is finished, and is
 * closed when another exchange opens; a complete exchange needs none. Events
 * that come while the record loads are applied after it; a gap (a missed
 * event), or a stream cut before the end, fetches it again. A complete
 * exchange's summary that changes later (the request body drained after the
 * response) fetches it again too.
 *
 * @module
 */

import {
  type Base64,
  type ExchangeSummary,
  timelineFinished,
  type WireEvent,
} from "../protocol.ts";
import { type ApiClient, ApiError } from "./api_client.ts";
import { fromBase64 } from "./bytes.ts";
import { type Observable, observable } from "./observable.ts";
import { appendEvent, type OpenExchange, openExchange } from "./open_exchange.ts";

/** The tabs of an open exchange. */
export type Tab = "timeline" | "response" | "request" | "environ" | "errors";

/** The open exchange. */
export interface SelectionState {
  /** Its id, or null when none is open. */
  id: string | null;
  /** Its record, once loaded. */
  exchange: OpenExchange | null;
  /** A load is running. */
  loading: boolean;
  /** Why the last load failed (for example: no longer kept). */
  error: string | null;
}

/** The selection store: state plus actions. */
export interface SelectionStore {
  state: Observable<SelectionState>;
  tab: Observable<Tab>;
  /** Opens an exchange (or closes it, with null). */
  select(id: string | null): void;
  /** Appends an event the stream brought (ignored unless it is the open exchange's). */
  apply(id: string, index: number, event: WireEvent, bytes: Base64 | undefined): void;
  /** Fetches the open exchange again (after the stream missed messages). */
  reload(): void;
  /** Takes a summary the list's stream brought (ignored unless it is the open exchange's). */
  summary(summary: ExchangeSummary): void;
}

const FRAME_MS = 16;
/** Milliseconds before a cut exchange stream is opened again (with a fetch of the record). */
const RETRY_MS = 1000;

/** Whether the open exchange's timeline is finished (its stream ends there). */
const ended = (open: OpenExchange) => timelineFinished(open.events.map((e) => e.type));

/** Creates the selection store over an {@linkcode ApiClient}. */
export function createSelectionStore(client: ApiClient): SelectionStore {
  const state = observable<SelectionState>({
    id: null,
    exchange: null,
    loading: false,
    error: null,
  });
  const tab = observable<Tab>("timeline");
  let generation = 0;
  /** Events that came while the record was loading. */
  let waiting: { index: number; event: WireEvent; bytes: Base64 | undefined }[] = [];
  /** The record with the events appended since the last publish. */
  let latest: OpenExchange | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  /** Closes the open exchange's stream, while one is open. */
  let closeStream: (() => void) | undefined;
  let retry: ReturnType<typeof setTimeout> | undefined;
  /** The open exchange's latest summary was of a finished exchange (pending: not yet). */
  let finished = false;

  const stopStream = () => {
    closeStream?.();
    closeStream = undefined;
    clearTimeout(retry);
    retry = undefined;
  };

  /** Streams the rest of the open, pending exchange: events from those `latest` has. */
  const startStream = (id: string, mine: number) => {
    const from = latest?.events.length ?? 0;
    closeStream = client.streamExchange(id, from, {
      onMessage: (message) => {
        if (message.kind !== "event" || mine !== generation) return;
        apply(message.id, message.index, message.event, message.bytes);
      },
      onEnd: () => {
        if (mine !== generation) return;
        closeStream = undefined;
        // Ended before the exchange did (cut, or the side port restarted): fetch it again.
        if (latest !== null && !ended(latest)) {
          retry = setTimeout(() => mine === generation && load(), RETRY_MS);
        }
      },
    });
  };

  const publish = () => {
    timer = undefined;
    if (latest && state.value.exchange !== latest) state.set({ ...state.value, exchange: latest });
  };

  /** Appends an event to `latest`; false when one is missing before it. */
  const append = (index: number, event: WireEvent, bytes: Base64 | undefined): boolean => {
    if (!latest || index < latest.events.length) return true; // already there
    if (index > latest.events.length) return false;
    latest = appendEvent(latest, event, bytes === undefined ? undefined : fromBase64(bytes));
    return true;
  };

  async function load() {
    const id = state.value.id;
    if (id === null) return;
    const mine = ++generation;
    stopStream();
    waiting = [];
    clearTimeout(timer);
    timer = undefined;
    state.set({ ...state.value, loading: true });
    try {
      const detail = await client.get(id);
      if (mine !== generation) return;
      latest = openExchange(detail);
      const queued = waiting;
      waiting = [];
      for (const { index, event, bytes } of queued) {
        if (!append(index, event, bytes)) return load();
      }
      state.set({ id, exchange: latest, loading: false, error: null });
      finished = detail.state !== "pending";
      if (!ended(latest)) startStream(id, mine);
    } catch (error) {
      if (mine !== generation) return;
      const message = error instanceof ApiError && error.status === 404
        ? "This exchange is no longer kept (the inspector keeps the most recent ones)."
        : (error as Error).message;
      latest = null;
      state.set({ id, exchange: null, loading: false, error: message });
    }
  }

  function apply(id: string, index: number, event: WireEvent, bytes: Base64 | undefined) {
    if (id !== state.value.id) return;
    if (state.value.loading) {
      waiting.push({ index, event, bytes });
      return;
    }
    if (!append(index, event, bytes)) {
      load();
      return;
    }
    timer ??= setTimeout(publish, FRAME_MS);
  }

  return {
    state,
    tab,
    select(id) {
      if (id === state.value.id) return;
      generation++;
      stopStream();
      latest = null;
      waiting = [];
      clearTimeout(timer);
      timer = undefined;
      state.set({ id, exchange: null, loading: id !== null, error: null });
      if (id !== null) load();
    },
    apply,
    reload() {
      if (state.value.id !== null) load();
    },
    summary(summary) {
      if (summary.id !== state.value.id || state.value.loading) return;
      const wasFinished = finished;
      finished = summary.state !== "pending";
      // A finished exchange changed (its request body drained after the
      // response): its stream has ended, so fetch it again.
      if (wasFinished && closeStream === undefined && latest !== null && ended(latest)) load();
    },
  };
}
