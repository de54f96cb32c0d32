/**
 * The selection store: which exchange is open, its full record, and which
 * tab of it is shown. While the open exchange is still streaming, each of its
 * events schedules a (throttled) reload, so the detail follows it live.
 *
 * @module
 */

import type { ExchangeDetail } from "../protocol.ts";
import { type ApiClient, ApiError } from "./api_client.ts";
import { type Observable, observable } from "./observable.ts";

/** The tabs of an open exchange. */
export type Tab = "timeline" | "response" | "request" | "environ" | "errors";

/** The open exchange. */
export interface SelectionState {
  /** Its id, or null when none is open. */
  id: string | null;
  /** Its record, once loaded (the last one loaded while a reload runs). */
  detail: ExchangeDetail | null;
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
  /** Reloads the open exchange soon (at most a few times a second). */
  refreshSoon(): void;
}

const THROTTLE_MS = 120;

/** Creates the selection store over an {@linkcode ApiClient}. */
export function createSelectionStore(client: ApiClient): SelectionStore {
  const state = observable<SelectionState>({ id: null, detail: null, loading: false, error: null });
  const tab = observable<Tab>("timeline");
  let generation = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight = false;
  let again = false;

  async function load() {
    const id = state.value.id;
    if (id === null) return;
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    const mine = generation;
    state.set({ ...state.value, loading: true });
    try {
      const detail = await client.get(id);
      if (mine === generation) state.set({ id, detail, loading: false, error: null });
    } catch (error) {
      if (mine === generation) {
        const message = error instanceof ApiError && error.status === 404
          ? "This exchange is no longer kept (the inspector keeps the most recent ones)."
          : (error as Error).message;
        state.set({ id, detail: null, loading: false, error: message });
      }
    } finally {
      inFlight = false;
      if (again) {
        again = false;
        load();
      }
    }
  }

  return {
    state,
    tab,
    select(id) {
      if (id === state.value.id) return;
      generation++;
      clearTimeout(timer);
      timer = undefined;
      again = false;
      state.set({ id, detail: null, loading: id !== null, error: null });
      if (id !== null) {
        if (inFlight) again = true;
        else load();
      }
    },
    refreshSoon() {
      timer ??= setTimeout(() => {
        timer = undefined;
        load();
      }, THROTTLE_MS);
    },
  };
}
