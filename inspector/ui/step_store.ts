/**
 * The step cursor: which event of the open exchange's timeline the stepper
 * shows. It "follows" the last event by default, so a streaming exchange
 * grows under it; stepping back pins it to an index until it is walked to the
 * end again.
 *
 * @module
 */

import { type Observable, observable } from "./observable.ts";

/** The cursor's state. */
export interface StepCursor {
  /** The pinned index (ignored while following). */
  index: number;
  /** Whether the cursor sits on the last event, whatever arrives. */
  follow: boolean;
}

/** The step store: state plus actions. Actions take the number of events. */
export interface StepStore {
  state: Observable<StepCursor>;
  /** The index shown for a timeline of `count` events (-1 when empty). */
  current(count: number): number;
  /** Shows event `index` (clamped). */
  go(index: number, count: number): void;
  /** One step back. */
  prev(count: number): void;
  /** One step forward. */
  next(count: number): void;
  /** Back to following the last event (for a newly opened exchange). */
  reset(): void;
}

/** Creates a step store. */
export function createStepStore(): StepStore {
  const state = observable<StepCursor>({ index: 0, follow: true });
  const current = (count: number) => {
    if (count === 0) return -1;
    const { index, follow } = state.value;
    return follow ? count - 1 : Math.min(Math.max(index, 0), count - 1);
  };
  const go = (index: number, count: number) => {
    if (count === 0) return;
    const clamped = Math.min(Math.max(index, 0), count - 1);
    state.set({ index: clamped, follow: clamped === count - 1 });
  };
  return {
    state,
    current,
    go,
    prev: (count) => go(current(count) - 1, count),
    next: (count) => go(current(count) + 1, count),
    reset: () => state.set({ index: 0, follow: true }),
  };
}
