/**
 * What the supervisor needs from an inspector beyond a `Recorder`: a recorder
 * per app generation (so that each exchange knows which generation served
 * it), and server-level events (reloads, modules that failed to load, faults
 * no exchange caught, app processes that had to be restarted).
 *
 * `server/` owns this contract, as it owns `server/recorder.ts`; the
 * inspector implements it (`inspector/mod.ts`), and `mod.ts` wires the two.
 *
 * @module
 */

import type { Recorder } from "../recorder.ts";
import type { LoadError } from "./load_error.ts";
import type { Fault } from "./channel.ts";

/** A server-level event, as the inspector shows it. */
export type ServerEvent =
  | {
    /** A generation of the app started serving. */
    type: "generation";
    generation: number;
    /** Why: `start`, `app.ts changed`, `restart after a timeout`, ... */
    reason: string;
    /** Milliseconds from the cause (a save) to serving, when there was one. */
    ms?: number;
    /** The module failed to load: this generation serves the error page. */
    loadError?: LoadError;
  }
  | {
    /** Something no exchange caught, or an app process that had to go. */
    type: "fault";
    generation: number;
    /** The app process's pid. */
    pid: number;
    fault: Fault | { kind: "exit" | "timeout"; name: string; message: string; stack?: string };
  };

/** A server-level event with the time it happened (epoch milliseconds). */
export type StampedServerEvent = ServerEvent & { time: number };

/** The inspector as the supervisor sees it. */
export interface DevInspector {
  /** The recorder for exchanges served by `generation`. */
  recorderFor(generation: number): Recorder;
  /** Records a server-level event. */
  serverEvent(event: ServerEvent): void;
}
