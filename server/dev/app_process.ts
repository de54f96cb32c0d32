/**
 * One app process, as the supervisor sees it: spawned in a process group of
 * its own (so that killing it kills whatever it started too), joined to the
 * supervisor through the channel once it connects, and tracked from
 * `starting` to `ready`, `retiring` and `gone`.
 *
 * @module
 */

import { ChannelWriter, type ToChild } from "./channel.ts";
import type { Fault, RecordIntake } from "./contract.ts";
import type { ChildConfig } from "./child_config.ts";
import type { LoadError } from "./load_error.ts";

/** The app process entry point. */
const CHILD = new URL("./child.ts", import.meta.url).href;
/**
 * More `deno run` flags for app processes, for profiling: `WSGI_DEV_DENO_FLAGS="--cpu-prof"`.
 * Read when a process starts, not at import: `mod.ts` imports this module,
 * and a top-level read would fail before the CLI can say which permissions it lacks.
 */
const extraFlags = () => (Deno.env.get("WSGI_DEV_DENO_FLAGS") ?? "").split(/\s+/).filter(Boolean);

/** Where an app process is in its life: a standby waits for a `load` message. */
export type ProcessState = "standby" | "starting" | "ready" | "retiring" | "gone";

/** What an app process tells the supervisor, as callbacks. */
export interface ProcessEvents {
  ready(p: AppProcess): void;
  loadError(p: AppProcess, error: LoadError): void;
  fault(p: AppProcess, fault: Fault): void;
  exited(p: AppProcess, status: Deno.CommandStatus): void;
}

/** A spawned app process. */
export class AppProcess {
  generation: number;
  worker: number;
  readonly process: Deno.ChildProcess;
  state: ProcessState;
  /** When it last said anything (a `performance.now()` reading): its heartbeat. */
  lastSeen = performance.now();
  /**
   * Why the supervisor ended it, if it did (`retired`, `grace`: cut after a
   * reload's grace period, `timeout`, `shutdown`, `failed`, `dropped`,
   * `killed`): an exit without one is a crash.
   */
  endedBy: string | undefined;
  /** The module failed to load: it serves the error page. */
  loadError: LoadError | undefined;
  /** Takes its records into the inspector. */
  ingest: RecordIntake | undefined;
  /** Whether it connected to the channel. */
  connected = false;
  /** Called once just before it is killed (a stuck process's last answers: `./stuck_clients.ts`). */
  beforeKill: (() => void) | undefined;
  /** Resolves when its channel has been read to the end. */
  readonly channelDone: Promise<void>;
  /** Called by the channel's reader at its end. */
  endChannel: () => void = () => {};
  #writer: ChannelWriter | undefined;
  #conn: Deno.UnixConn | undefined;
  readonly #events: ProcessEvents;
  /** Resolves when the process has exited. */
  readonly exited: Promise<Deno.CommandStatus>;
  /** Resolves once it no longer accepts connections: it said so after a retire, or it exited. */
  readonly unlistened: Promise<void>;
  #unlistened!: () => void;

  /**
   * Spawns an app process for `config`, or a standby that waits for
   * {@linkcode AppProcess.load} when `intake` is `"standby"`.
   */
  constructor(
    config: ChildConfig,
    intake: RecordIntake | undefined | "standby",
    events: ProcessEvents,
  ) {
    this.generation = config.generation;
    this.worker = config.worker;
    this.#events = events;
    this.channelDone = new Promise((resolve) => (this.endChannel = resolve));
    this.unlistened = new Promise((resolve) => (this.#unlistened = resolve));
    const standby = intake === "standby";
    this.state = standby ? "standby" : "starting";
    this.ingest = standby ? undefined : intake;
    this.process = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--unstable-net",
        // request.signal says only that a client left (the gateway's watchClient), with no warning.
        "--unstable-no-legacy-abort",
        ...extraFlags(),
        CHILD,
        JSON.stringify({ ...config, standby }),
      ],
      stdin: "null",
      stdout: "inherit",
      stderr: "inherit",
      // A process group of its own: SIGKILL to the group stops all it started.
      detached: true,
    }).spawn();
    this.exited = this.process.status.then((status) => {
      this.#unlistened();
      // The channel is left to its reader: what the process wrote before it went is still to be read.
      this.#conn = undefined;
      const was = this.state;
      this.state = "gone";
      if (was !== "gone") this.#events.exited(this, status);
      return status;
    });
  }

  /** The process id (also its process group's). */
  get pid(): number {
    return this.process.pid;
  }

  /** Attaches the channel connection it opened. */
  attach(conn: Deno.UnixConn): void {
    this.#conn = conn;
    this.#writer = new ChannelWriter(conn, 0);
    this.connected = true;
  }

  /** Tells a standby to load the module and serve with `config`. */
  load(config: ChildConfig, intake: RecordIntake | undefined): void {
    this.generation = config.generation;
    this.worker = config.worker;
    this.ingest = intake;
    this.state = "starting";
    this.tell({ type: "load", config });
  }

  /** Handles a control message from it. */
  onReady(): void {
    if (this.state !== "starting") return;
    this.state = "ready";
    this.#events.ready(this);
  }

  onLoadError(error: LoadError): void {
    this.loadError = error;
    this.#events.loadError(this, error);
  }

  onFault(fault: Fault): void {
    this.#events.fault(this, fault);
  }

  /** It says it no longer accepts connections (it was told to retire). */
  onUnlistened(): void {
    this.#unlistened();
  }

  /** Sends a control message, if connected. */
  tell(message: ToChild): void {
    this.#writer?.control(message);
  }

  /** Asks it to stop accepting, finish its exchanges and exit. */
  retire(): void {
    if (this.state === "gone" || this.state === "retiring") return;
    this.state = "retiring";
    this.endedBy ??= "retired";
    this.tell({ type: "retire" });
  }

  /** Sends a signal to its whole process group. */
  signal(signal: Deno.Signal): void {
    if (this.state === "gone") return;
    try {
      Deno.kill(-this.pid, signal);
    } catch {
      // Already gone.
    }
  }

  /** Kills its whole process group at once (SIGKILL); `why` is kept in `endedBy`. */
  kill(why = "killed"): void {
    this.endedBy ??= why;
    const before = this.beforeKill;
    this.beforeKill = undefined;
    before?.();
    this.signal("SIGKILL");
  }
}
