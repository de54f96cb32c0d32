/**
 * The page's stores, made once and handed down through a Preact context, and
 * the hooks components read them with.
 *
 * @module
 */

import { createContext } from "preact";
import { useContext } from "preact/hooks";
import type { ApiClient } from "./api_client.ts";
import { createExchangesStore, type ExchangesStore } from "./exchanges_store.ts";
import { createSelectionStore, type SelectionStore } from "./selection_store.ts";
import { createStepStore, type StepStore } from "./step_store.ts";
import { createServerStore, type ServerStore } from "./server_store.ts";
import { type ClockStore, createClockStore } from "./clock_store.ts";
import { createSearchStore, type SearchStore } from "./search_store.ts";
import { type CompareStore, createCompareStore } from "./compare_store.ts";

/** Every store of the page, and the client they talk through. */
export interface Stores {
  client: ApiClient;
  exchanges: ExchangesStore;
  selection: SelectionStore;
  steps: StepStore;
  /** The CLI's server state: generation, load error, server events. */
  server: ServerStore;
  /** The time now, ticking while an exchange is pending. */
  clock: ClockStore;
  /** The filter's `body:` words, searched by the side port. */
  search: SearchStore;
  /** Two exchanges side by side. */
  compare: CompareStore;
}

/**
 * Creates the stores and wires them together: a newly opened exchange starts
 * the stepper at its end, the open exchange hears its summary's changes
 * (and is fetched again when the list's stream reconnects), and events that
 * come on the list's stream, when it has them, are appended to it.
 */
export function createStores(client: ApiClient): Stores {
  const exchanges = createExchangesStore(client);
  const selection = createSelectionStore(client);
  const steps = createStepStore();
  const server = createServerStore(client);
  exchanges.onServer((event) => server.apply(event));
  let lastId: string | null = null;
  selection.state.subscribe(({ id }) => {
    if (id !== lastId) steps.reset();
    lastId = id;
  });
  exchanges.onEvent((id, index, event, bytes) => selection.apply(id, index, event, bytes));
  exchanges.onExchange((summary) => selection.summary(summary));
  exchanges.onReconnect(() => selection.reload());
  const clock = createClockStore();
  exchanges.state.subscribe(({ list }) => {
    // Cleared: the open exchange is gone.
    if (list.length === 0 && selection.state.value.id !== null) selection.select(null);
    clock.run(list.some((e) => e.state === "pending"));
  });
  const search = createSearchStore(client, exchanges);
  const compare = createCompareStore(client);
  return { client, exchanges, selection, steps, server, clock, search, compare };
}

/** The context that carries the {@linkcode Stores}. */
export const StoresContext = createContext<Stores | null>(null);

/** The page's stores (inside `<StoresContext.Provider>`). */
export function useStores(): Stores {
  const stores = useContext(StoresContext);
  if (!stores) throw new Error("useStores() needs a StoresContext.Provider above it");
  return stores;
}
