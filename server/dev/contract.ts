/**
 * What the supervisor needs from an inspector: how its app processes record
 * (a recorder module they load, and its settings), a reader for what each
 * one writes, and server-level events (reloads, modules that failed to load,
 * faults no exchange caught, app processes that had to be restarted).
 *
 * What crosses from an app process to the supervisor is the inspector's
 * record format (`docs/record.md`): each exchange's frames, written in the
 * app process by the recorder that the inspector's module makes
 * (`CreateAppRecorder`, in `../recorder.ts` with the other recorders),
 * carried as RECORD messages of the private
 * channel (`./channel.ts`), and taken as they are by the inspector's store
 * ({@linkcode RecordIntake}). Nothing in `server/` reads or writes a frame.
 *
 * `server/` owns this contract, as it owns `server/recorder.ts` (which
 * re-exports it); the inspector implements it (`inspector/mod.ts`,
 * `inspector/app_recorder.ts`), and `mod.ts` wires the two.
 *
 * @module
 */

import type { LoadError } from "./load_error.ts";

/** A fault in an app process that no exchange caught. */
export interface Fault {
  kind: "unhandledrejection" | "error";
  name: string;
  message: string;
  stack?: string;
}

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

/**
 * How app processes record: plain data, sent to each app process in its
 * configuration (on its command line: so never a secret; the inspector
 * hides its token as it takes the records in).
 */
export interface AppRecording {
  /**
   * The URL of the module that makes an app process's recorder: it exports
   * `createAppRecorder`, a `CreateAppRecorder` (`../recorder.ts`).
   */
  module: string;
  /** Body bytes kept per exchange and stream. */
  maxBodyBytes: number;
  /** Events kept per exchange. */
  maxEvents: number;
  /** Characters kept of an error's texts, a lint's, an abort's reason. */
  maxText: number;
  /**
   * Whether the supervisor rebuilds environs with the gateway's rule
   * (`../environ_rule.ts`): then an app process writes an environ nothing
   * else touched as its derivation (`FLAG.DERIVED` of the record format).
   */
  deriveEnviron?: boolean;
  /**
   * The supervisor's fingerprint of its environ code
   * (`environCodeFingerprint` of `../environ_rule.ts`, set by the
   * supervisor): an app process derives environs only when its own is the
   * same, since the supervisor rebuilds them with its own code.
   */
  environCode?: string;
}

/** What an app process gives `createAppRecorder`. */
export interface AppRecorderOptions {
  settings: AppRecording;
  /** The app generation this process serves. */
  generation: number;
  /** Its worker number in the generation. */
  worker: number;
  /**
   * Takes one frame (a view, valid during the call: copy it). `urgent`: it
   * must leave before the application runs (the `call` event: an app that
   * never yields would otherwise keep it).
   */
  send(frame: Uint8Array, urgent: boolean): void;
  /**
   * Whether the supervisor is too far behind: while it is, no new exchange
   * is recorded (those begun are recorded whole).
   */
  congested(): boolean;
}

/** An exchange an app process began and did not end, as its records tell it. */
export interface OpenExchange {
  /** Which one, for {@linkcode RecordIntake.answerOpen}. */
  id: number;
  /** Its request's method (a `HEAD` is answered without a body). */
  method: string;
  /** Its client (`REMOTE_ADDR`, `REMOTE_PORT`), when the gateway knew it. */
  peer: { hostname: string; port: number } | undefined;
  /**
   * Its request target (path and query), for the request log line of the
   * supervisor's answer; the log shows `-` while an intake does not give it.
   */
  target?: string;
  /** Whether its status and headers went out. */
  headersSent: boolean;
  /** When it arrived (epoch milliseconds). */
  startedAt: number;
}

/**
 * An answer the supervisor sent for an app process that could not (one
 * that was stopped: `./watchdog.ts`), recorded as the gateway records its
 * own answers, after an `error` that says why.
 */
export interface SupervisorAnswer {
  /** `504 Gateway Timeout` */
  statusLine: string;
  headers: [string, string][];
  body: Uint8Array;
  /** The `error` event before it (`TimeoutError` for a timeout). */
  error: { name: string; message: string };
}

/** The supervisor's reader of one app process's records. */
export interface RecordIntake {
  /** Takes one RECORD payload: whole frames. Throws on bytes that are not frames. */
  ingest(payload: Uint8Array): void;
  /** Ends every exchange still open with an `abort` (`reason` says why); returns how many. */
  abortOpen(reason: string): number;
  /** Exchanges begun and not yet ended. */
  readonly open: number;
  /** The exchanges begun and not yet ended, oldest first. */
  openExchanges(): OpenExchange[];
  /**
   * Ends open exchange `id` with `answer`, sent by the supervisor: its
   * `error`, `start_response`, `chunk`, `close`, `headers_sent` and `end`
   * events, as the gateway records its own 504.
   * False when it is no longer open.
   */
  answerOpen(id: number, answer: SupervisorAnswer): boolean;
}

/** The inspector as the supervisor sees it. */
export interface DevInspector {
  /** How app processes record. */
  readonly appRecording: AppRecording;
  /** A reader for one app process's records (one per process: each numbers its exchanges). */
  intake(): RecordIntake;
  /** Records a server-level event. */
  serverEvent(event: ServerEvent): void;
}
