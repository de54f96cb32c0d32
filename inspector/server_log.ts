/**
 * Server-level events, as the supervisor reports them (`server/dev/contract.ts`):
 * each generation of the app that started serving (and why: a save, a
 * restart), the module failing to load, faults no exchange caught, app
 * processes that had to go. A small ring of the latest, and the state the
 * page's banner shows: the serving generation and its load error. It also
 * holds the app's URL once the inspector listens, for the page's "Copy as
 * curl" (the URL replays go to; never one a record names).
 *
 * @example
 * ```ts
 * import { ServerLog } from "./server_log.ts";
 * const log = new ServerLog();
 * log.add({ type: "generation", generation: 2, reason: "app.ts changed", ms: 80 });
 * console.assert(log.state().generation === 2 && log.state().events.length === 1);
 * ```
 *
 * @module
 */

import type { ServerEvent, StampedServerEvent } from "../server/recorder.ts";
import type { ServerState } from "./protocol.ts";

/** Events kept. */
const KEPT = 500;

/** The supervisor's events and the page's banner state. */
export class ServerLog {
  #events: StampedServerEvent[] = [];
  #generation = 0;
  #loadError: ServerState["loadError"] = null;
  readonly #listeners = new Set<(event: StampedServerEvent) => void>();
  /** The app server's URL (`http://127.0.0.1:8000`), set when the inspector listens. */
  appUrl: string | undefined;

  /** Records an event (stamped now) and tells listeners. */
  add(event: ServerEvent): void {
    const stamped = { ...event, time: Date.now() } as StampedServerEvent;
    if (event.type === "generation") {
      this.#generation = event.generation;
      this.#loadError = event.loadError ?? null;
    }
    this.#events.push(stamped);
    if (this.#events.length > KEPT) this.#events.splice(0, this.#events.length - KEPT);
    for (const listener of this.#listeners) {
      try {
        listener(stamped);
      } catch { /* a listener's failure is its own */ }
    }
  }

  /** The serving generation, its load error, the events kept (oldest first), the app's URL. */
  state(): ServerState {
    const state: ServerState = {
      generation: this.#generation,
      loadError: this.#loadError,
      events: [...this.#events],
    };
    if (this.appUrl !== undefined) state.appUrl = this.appUrl;
    return state;
  }

  /** Listens to new events; returns the function that stops listening. */
  subscribe(listener: (event: StampedServerEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
