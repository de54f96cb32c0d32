/**
 * The page's state primitive: a value that says when it changes, and the
 * hook that re-renders a component when it does. The stores are built from
 * these (preact-devtools keeps its state the same way).
 *
 * @module
 */

import { useLayoutEffect, useReducer } from "preact/hooks";

/** A value with change notification. */
export interface Observable<T> {
  /** The current value. */
  readonly value: T;
  /** Replaces the value and notifies subscribers (unless it is the same value). */
  set(value: T): void;
  /** Calls `fn` after each change; returns the unsubscribe function. */
  subscribe(fn: (value: T) => void): () => void;
}

/**
 * Creates an {@linkcode Observable}.
 *
 * @example
 * ```ts
 * import { observable } from "./observable.ts";
 * const count = observable(0);
 * let seen = -1;
 * count.subscribe((n) => seen = n);
 * count.set(2);
 * console.assert(seen === 2);
 * ```
 */
export function observable<T>(initial: T): Observable<T> {
  let value = initial;
  const subscribers = new Set<(value: T) => void>();
  return {
    get value() {
      return value;
    },
    set(next: T) {
      if (Object.is(next, value)) return;
      value = next;
      for (const fn of [...subscribers]) fn(value);
    },
    subscribe(fn) {
      subscribers.add(fn);
      return () => subscribers.delete(fn);
    },
  };
}

/** Reads an observable in a component and re-renders it when the value changes. */
export function useObservable<T>(source: Observable<T>): T {
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const seen = source.value;
  useLayoutEffect(() => {
    // A change between render and subscription would otherwise be missed.
    if (!Object.is(source.value, seen)) rerender(0);
    return source.subscribe(() => rerender(0));
  }, [source]);
  return source.value;
}
