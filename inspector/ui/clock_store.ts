/**
 * The page's clock for pending exchanges: the time now (epoch ms), ticking a
 * few times a second while something is pending and still otherwise, so the
 * list and the open exchange can show how long a pending exchange has run
 * without a timer of their own.
 *
 * @module
 */

import { type Observable, observable } from "./observable.ts";

/** The clock: the time now, and whether it ticks. */
export interface ClockStore {
  /** Epoch milliseconds, as of the last tick. */
  now: Observable<number>;
  /** Ticks while `on` is true; stops (and reads the time once more) when false. */
  run(on: boolean): void;
}

/** Milliseconds between ticks. */
export const TICK_MS = 200;

/** Creates a clock, still until {@linkcode ClockStore.run} starts it. */
export function createClockStore(read: () => number = Date.now): ClockStore {
  const now = observable(read());
  let timer: ReturnType<typeof setInterval> | undefined;
  return {
    now,
    run(on) {
      if (on && timer === undefined) {
        now.set(read());
        timer = setInterval(() => now.set(read()), TICK_MS);
      } else if (!on && timer !== undefined) {
        clearInterval(timer);
        timer = undefined;
        now.set(read());
      }
    },
  };
}

/**
 * How long a pending exchange has run at `now`, in ms (0 when the clocks
 * disagree the other way).
 *
 * @example
 * ```ts
 * import { elapsed } from "./clock_store.ts";
 * console.assert(elapsed(1000, 1250) === 250 && elapsed(1000, 900) === 0);
 * ```
 */
export function elapsed(startedAt: number, now: number): number {
  return Math.max(0, now - startedAt);
}
