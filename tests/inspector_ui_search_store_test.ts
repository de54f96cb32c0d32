/**
 * The page's body search store (`inspector/ui/search_store.ts`), against a
 * stub of the side port's list: a search the side port cut at its scan
 * budget (`ExchangeList.searchCut`) is shown as searched in part, never as
 * a complete answer.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createSearchStore, type SearchState } from "../inspector/ui/search_store.ts";
import { observable } from "../inspector/ui/observable.ts";
import type { ApiClient } from "../inspector/ui/api_client.ts";
import type { ExchangesStore } from "../inspector/ui/exchanges_store.ts";
import type { ExchangeList, ExchangeSummary } from "../inspector/protocol.ts";

/** A store fed by `list`, with the filter box's text set to `filter`; resolves with the settled state. */
function settle(list: (body: string[]) => ExchangeList, filter: string): Promise<SearchState> {
  const client = { list: (query: { body?: string[] }) => Promise.resolve(list(query.body ?? [])) };
  const exchanges = { filter: observable(""), state: observable({}) };
  const store = createSearchStore(
    client as unknown as ApiClient,
    exchanges as unknown as ExchangesStore,
  );
  return new Promise((resolve) => {
    store.state.subscribe((state) => {
      if (!state.busy && state.terms.include.length + state.terms.exclude.length > 0) {
        resolve(state);
      }
    });
    exchanges.filter.set(filter);
  });
}

const summary = (id: string) => ({ id, seq: Number(id) }) as ExchangeSummary;

Deno.test("the body search shows a search the side port cut as searched in part, with its message", async () => {
  const cut = await settle(() => ({
    total: 1,
    exchanges: [summary("9")],
    searchCut: { seq: 8, message: "exchange 8 and older were not searched" },
  }), "body:needle");
  assert.deepEqual([...cut.matched!], ["9"]);
  assert.equal(cut.cut, "exchange 8 and older were not searched");

  const whole = await settle(() => ({ total: 1, exchanges: [summary("9")] }), "body:needle");
  assert.equal(whole.cut, null, "a whole search says nothing of a cut");
});
