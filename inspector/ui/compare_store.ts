/**
 * The compare store: two exchanges side by side. "Compare" on an open
 * exchange makes it the left one and waits for a pick (the next exchange
 * chosen in the list); both are then fetched once, as they are at that
 * moment, and shown by the compare view until it is closed.
 *
 * @module
 */

import type { ApiClient } from "./api_client.ts";
import { type Observable, observable } from "./observable.ts";
import { type OpenExchange, openExchange } from "./open_exchange.ts";

/** The comparison. */
export interface CompareState {
  /** The left exchange's id, once "Compare" was pressed (null: not comparing). */
  leftId: string | null;
  /** The right one's, once picked. */
  rightId: string | null;
  left: OpenExchange | null;
  right: OpenExchange | null;
  /** Why loading them failed. */
  error: string | null;
}

/** The compare store: state plus actions. */
export interface CompareStore {
  state: Observable<CompareState>;
  /** Starts a comparison with `id` on the left; the next pick is the right. */
  start(id: string): void;
  /** Picks the right exchange and loads both. */
  pick(id: string): Promise<void>;
  /** Swaps left and right. */
  swap(): void;
  /** Ends the comparison. */
  close(): void;
}

const IDLE: CompareState = { leftId: null, rightId: null, left: null, right: null, error: null };

/** Whether the store waits for the right exchange to be picked. */
export const picking = (state: CompareState): boolean =>
  state.leftId !== null && state.rightId === null;

/** Creates the compare store over an {@linkcode ApiClient}. */
export function createCompareStore(client: ApiClient): CompareStore {
  const state = observable<CompareState>(IDLE);
  let run = 0;
  return {
    state,
    start(id) {
      run++;
      state.set({ ...IDLE, leftId: id });
    },
    async pick(id) {
      const leftId = state.value.leftId;
      if (leftId === null) return;
      const mine = ++run;
      state.set({ ...IDLE, leftId, rightId: id });
      try {
        const [left, right] = await Promise.all([client.get(leftId), client.get(id)]);
        if (mine !== run) return;
        state.set({
          leftId,
          rightId: id,
          left: openExchange(left),
          right: openExchange(right),
          error: null,
        });
      } catch (error) {
        if (mine !== run) return;
        state.set({ ...state.value, error: (error as Error).message });
      }
    },
    swap() {
      const s = state.value;
      state.set({
        leftId: s.rightId,
        rightId: s.leftId,
        left: s.right,
        right: s.left,
        error: s.error,
      });
    },
    close() {
      run++;
      state.set(IDLE);
    },
  };
}
