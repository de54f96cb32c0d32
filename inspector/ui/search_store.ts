/**
 * The body search: the filter's `body:` words, answered by the side port
 * over every kept exchange (`GET /api/exchanges?body=`), as sets of ids the
 * list is then narrowed to. It runs again, a moment later, whenever the
 * words change or the list does (a new exchange, one that finished), so that
 * exchanges streaming in are searched too.
 *
 * @module
 */

import type { ApiClient } from "./api_client.ts";
import type { ExchangesStore } from "./exchanges_store.ts";
import { type BodyTerms, bodyTerms } from "./filter.ts";
import { type Observable, observable } from "./observable.ts";

/** What the body search found. */
export interface SearchState {
  /** The words searched for (none: no body search). */
  terms: BodyTerms;
  /** Ids whose bodies hold every `include` word (null: no such word). */
  matched: Set<string> | null;
  /** Ids whose bodies hold an `exclude` word. */
  excluded: Set<string>;
  /** A search is running (the list shows the last answer meanwhile). */
  busy: boolean;
  /** Why the last search failed. */
  error: string | null;
  /**
   * Where the side port stopped searching, when it did (its scan budget:
   * `ExchangeList.searchCut`): the exchanges older than that were not
   * searched, so they are neither matched nor excluded.
   */
  cut: string | null;
}

/** The search store: its state, and the list narrowed by it. */
export interface SearchStore {
  state: Observable<SearchState>;
}

const NONE: BodyTerms = { include: [], exclude: [] };

/** The state with no body search. */
const idle = (): SearchState => ({
  terms: NONE,
  matched: null,
  excluded: new Set(),
  busy: false,
  error: null,
  cut: null,
});
const DELAY_MS = 150;

/** Whether a summary passes the body search. */
export function passesSearch(state: SearchState, id: string): boolean {
  if (state.matched !== null && !state.matched.has(id)) return false;
  return !state.excluded.has(id);
}

/** Creates the search store; it follows the filter text and the list of `exchanges`. */
export function createSearchStore(client: ApiClient, exchanges: ExchangesStore): SearchStore {
  const state = observable<SearchState>(idle());
  let timer: ReturnType<typeof setTimeout> | undefined;
  let run = 0;

  /** The ids of exchanges whose bodies hold every word of `body`; `seen.cut` gets where the side port stopped, if it did. */
  const ids = async (body: string[], seen: { cut: string | null }) => {
    const found = new Set<string>();
    let before: number | undefined;
    for (;;) {
      const page = await client.list({ body, limit: 500, before });
      for (const e of page.exchanges) found.add(e.id);
      if (page.searchCut !== undefined) {
        seen.cut ??= page.searchCut.message;
        return found;
      }
      const last = page.exchanges.at(-1);
      if (!last || page.exchanges.length < 500) return found;
      before = last.seq;
    }
  };

  const search = async () => {
    timer = undefined;
    const terms = bodyTerms(exchanges.filter.value);
    const mine = ++run;
    if (terms.include.length === 0 && terms.exclude.length === 0) {
      state.set(idle());
      return;
    }
    state.set({ ...state.value, terms, busy: true });
    const seen = { cut: null as string | null };
    try {
      const matched = terms.include.length > 0 ? await ids(terms.include, seen) : null;
      const excluded = new Set<string>();
      for (const term of terms.exclude) for (const id of await ids([term], seen)) excluded.add(id);
      if (mine !== run) return;
      state.set({ terms, matched, excluded, busy: false, error: null, cut: seen.cut });
    } catch (error) {
      if (mine !== run) return;
      state.set({ ...state.value, terms, busy: false, error: (error as Error).message });
    }
  };
  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(search, DELAY_MS);
  };
  let lastKey = "";
  exchanges.filter.subscribe((text) => {
    const key = JSON.stringify(bodyTerms(text));
    if (key === lastKey) return;
    lastKey = key;
    schedule();
  });
  exchanges.state.subscribe(() => {
    // New or finished exchanges: search again, at most once per delay, however busy the stream.
    if (lastKey !== "" && lastKey !== JSON.stringify(NONE)) timer ??= setTimeout(search, DELAY_MS);
  });
  return { state };
}
