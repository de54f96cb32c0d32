/**
 * The server's own state, under the CLI: the app generation that serves, its
 * load error (the page's banner), and the latest server-level events (each
 * generation's reason, for the list's reload dividers; faults); and the
 * app's URL, where "Copy as curl" sends a request.
 *
 * @module
 */

import type { ServerEventWire, ServerState } from "../protocol.ts";
import type { ApiClient } from "./api_client.ts";
import { type Observable, observable } from "./observable.ts";

/** The server store: state plus actions. */
export interface ServerStore {
  state: Observable<ServerState>;
  /** Loads the state from the side port (again). */
  load(): Promise<void>;
  /** Applies one event from the live stream. */
  apply(event: ServerEventWire): void;
  /** Why generation `n` started (`app.ts changed`), when known. */
  reason(n: number): string | undefined;
}

/** Creates the server store. */
export function createServerStore(client: ApiClient): ServerStore {
  const state = observable<ServerState>({ generation: 0, loadError: null, events: [] });
  const reasons = new Map<number, string>();
  const remember = (events: ServerEventWire[]) => {
    for (const e of events) if (e.type === "generation") reasons.set(e.generation, e.reason);
  };
  return {
    state,
    async load() {
      try {
        const loaded = await client.server();
        remember(loaded.events);
        state.set(loaded);
      } catch {
        // An inspector without a supervisor (no /api/server): nothing to show.
      }
    },
    apply(event) {
      remember([event]);
      const now = state.value;
      state.set(
        event.type === "generation"
          ? {
            ...now,
            generation: event.generation,
            loadError: event.loadError ?? null,
            events: [...now.events, event],
          }
          : { ...now, events: [...now.events, event] },
      );
    },
    reason: (n) => reasons.get(n),
  };
}
