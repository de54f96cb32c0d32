/**
 * The supervisor: the CLI's process. It owns what must outlive the app
 * (the inspector and its history, the file watcher, the timeouts) and runs
 * the app in child processes, one per worker and generation:
 *
 * ```
 *  supervisor (the CLI)                              app processes, generation g
 *  ├─ inspector :8001 ◀── RECORD messages ───────┐  ┌─ worker 1: gateway + app ◀─┐
 *  ├─ file watcher ── save ─▶ start g+1, retire g │  ├─ worker 2: gateway + app ◀─┼─ clients on :8000
 *  └─ watchdog: heartbeats, --timeout ─▶ kill    └──┴─ (one port, SO_REUSEPORT) ─┘
 * ```
 *
 * Each app process listens on the app's port itself (`SO_REUSEPORT`), so no
 * request goes through the supervisor: the kernel hands a connection to one
 * listening process, which answers it. Here are the port, the private
 * channel (each app process's messages: records for the inspector, its
 * heartbeat, its state), the table of app processes and the shutdown; how a
 * save becomes the next generation is `./generations.ts`'s, and what
 * happens to a process that is stuck or dies is `./watchdog.ts`'s.
 *
 * @module
 */

import type { ToolkitOptions } from "./compose.ts";
import type { InspectorHandle } from "../recorder.ts";
import { addressUrl, bindHost } from "../serve.ts";
import { formatLogLine, useColor } from "../log.ts";
import {
  CONTROL,
  HEARTBEAT,
  parseControl,
  readChannel,
  RECORD,
  type ToSupervisor,
} from "./channel.ts";
import { AppProcess } from "./app_process.ts";
import type { ChildConfig } from "./child_config.ts";
import type { AppRecording, Fault, RecordIntake, ServerEvent } from "./contract.ts";
import { environCodeFingerprint } from "../environ_rule.ts";
import type { LoadError } from "./load_error.ts";
import { ModuleWatcher } from "./watcher.ts";
import { Generations, GRACE_MS } from "./generations.ts";
import { type ProcessFault, Watchdog } from "./watchdog.ts";
import { type PortHold, takePort } from "./port_hold.ts";

/** Milliseconds a shutdown lets the app processes finish their exchanges before it kills them. */
const SHUTDOWN_KILL_MS = 800;
/** Milliseconds an exited process's records are waited for before its open exchanges are ended. */
const LAST_RECORDS_MS = 1000;

/** The app's or the inspector's port cannot be had. */
export class PortError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PortError";
  }
}

function portError(
  error: unknown,
  what: string,
  flags: { host: string; port: string },
  host: string,
  port: number,
): unknown {
  const where = `Cannot serve ${what} on ${host}:${port}`;
  if (error instanceof Deno.errors.AddrInUse) {
    return new PortError(`${where}: the port is in use; pick another with ${flags.port}`);
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return new PortError(
      `${where}: ${error.message}: not an address of this machine; give ${flags.host} one of its addresses, like 127.0.0.1`,
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new PortError(`${where}: ${error.message}`);
  }
  // A name Deno cannot parse (URIError: "invalid host"), or one no resolver knows.
  if (error instanceof URIError || /failed to lookup address/.test(String(error))) {
    return new PortError(
      `${where}: ${JSON.stringify(host)} is not an address this machine can listen on (${
        (error as Error).message
      }); give ${flags.host} an address like 127.0.0.1, or "" for every interface`,
    );
  }
  return error;
}

/** The inspector as the supervisor uses it: the CLI's (`server/recorder.ts`). */
export type SupervisedInspector = InspectorHandle;

/** Options of {@linkcode Supervisor}. */
export interface SupervisorOptions {
  /** The module's URL (`file:` for reloads). */
  module: string;
  /** How the module is shown (`app.ts`). */
  shown: string;
  /** The export to serve. */
  name?: string;
  /** The interface the app listens on; `""` is every interface (`0.0.0.0`). */
  hostname: string;
  port: number;
  /** Reload on changes to the module's graph. */
  reload: boolean;
  /** Seconds an exchange may run; 0 for no limit. */
  timeout: number;
  /**
   * Milliseconds a reload lets the old generation's exchanges run before
   * they are cut ({@linkcode GRACE_MS} by default).
   */
  graceMs?: number;
  /** App processes per generation. */
  workers: number;
  /** The request log. */
  log: boolean;
  /** The largest request body the gateway takes; the gateway's default when absent. */
  maxRequestBody?: number;
  /** The toolkit's pieces around the app (validator, `--script-name`, `--static`). */
  toolkit?: ToolkitOptions;
  /** Show the error pages (source, stacks) to clients off loopback too (`--debug-any-client`). */
  debugAnyClient?: boolean;
  inspector?: SupervisedInspector;
  /** Where status lines go (stdout by default). */
  print?: (line: string) => void;
  /** Where errors go (stderr by default). */
  printError?: (text: string) => void;
}

/** Runs the app in supervised child processes. */
export class Supervisor {
  readonly #o: SupervisorOptions;
  readonly #graceMs: number;
  #dir = "";
  #channel: Deno.Listener | undefined;
  #processes = new Set<AppProcess>();
  #byPid = new Map<number, AppProcess>();
  readonly #generations: Generations;
  readonly #watchdog: Watchdog;
  #watcher: ModuleWatcher | undefined;
  #inspectorUrl: string | undefined;
  #port = 0;
  /** The app's port, bound (never listening) from the start to the stop: `./port_hold.ts`. */
  #hold: PortHold | undefined;
  #stopping = false;
  #print: (line: string) => void;
  #printError: (text: string) => void;
  /**
   * How app processes record: the inspector's settings, with this process's
   * fingerprint of its environ code, read when it starts (before any app
   * process, and so before any edit the watcher could see).
   */
  #recording: AppRecording | undefined;

  constructor(options: SupervisorOptions) {
    // `""` is every interface, as in Python (Deno.listen refuses an empty hostname).
    this.#o = { ...options, hostname: bindHost(options.hostname) };
    this.#graceMs = options.graceMs ?? GRACE_MS;
    this.#print = options.print ?? ((line) => console.log(line));
    this.#printError = options.printError ??
      ((text) => Deno.stderr.writeSync(new TextEncoder().encode(text)));
    const stopping = () => this.#stopping;
    const printError = (text: string) => this.#printError(text);
    this.#generations = new Generations({
      workers: options.workers,
      reload: options.reload,
      shown: options.shown,
      graceMs: this.#graceMs,
      stopping,
      spawn: (config, intake) => this.#spawn(config, intake),
      config: (generation, worker, failed) => this.#config(generation, worker, failed),
      intake: () => this.#o.inspector?.intake(),
      event: (event) => this.#event(event),
      print: (line) => this.#print(line),
      printError,
      afterReload: () => this.#watcher?.refresh(),
    });
    const port = () => this.#port;
    this.#watchdog = new Watchdog({
      timeout: options.timeout,
      get port() {
        return port();
      },
      processes: this.#processes,
      stopping,
      fault: (p, fault) => this.#fault(p, fault),
      printError,
      // The request log line of an exchange answered for a stuck app process, as its gateway would.
      log: options.log ? (entry) => printError(formatLogLine(entry, useColor())) : undefined,
    }, this.#generations);
  }

  /** The interface the app listens on (`0.0.0.0` when given `""`). */
  get hostname(): string {
    return this.#o.hostname;
  }

  /** The app's URL (on loopback when the app listens on every interface). */
  get url(): string {
    return addressUrl(this.#o.hostname, this.#port);
  }

  /** The inspector's URL, once listening. */
  get inspectorUrl(): string | undefined {
    return this.#inspectorUrl;
  }

  /** The running app processes (for tests and the benchmark). */
  get pids(): number[] {
    return [...this.#processes].map((p) => p.pid);
  }

  /** The generation that serves now. */
  get generation(): number {
    return this.#generations.current?.n ?? 0;
  }

  /**
   * Picks the port, opens the inspector and the channel, and starts the
   * first generation. Resolves once it serves, with its load error if the
   * module could not be loaded.
   *
   * @throws {PortError} when the app's or the inspector's port cannot be had
   */
  async start(
    inspectorAddress?: { host: string; port: number },
  ): Promise<{ loadError?: LoadError }> {
    try {
      // Held until the stop: no gap before the first app process listens, nor while the
      // only one is replaced after a crash (a reload's processes bind beside the old ones).
      ({ port: this.#port, hold: this.#hold } = takePort(this.#o.hostname, this.#o.port));
    } catch (error) {
      throw portError(
        error,
        "the app",
        { host: "--host", port: "--port" },
        this.#o.hostname,
        this.#o.port,
      );
    }
    if (this.#o.inspector) {
      try {
        this.#inspectorUrl = (await this.#o.inspector.listen(this.url)).url;
      } catch (error) {
        const { host, port } = inspectorAddress ?? { host: "", port: 0 };
        throw portError(
          error,
          "the inspector",
          { host: "--inspector-host", port: "--inspector-port" },
          host,
          port,
        );
      }
    }
    const recording = this.#o.inspector?.appRecording;
    // Read only when app processes derive environs (not in token mode): it is what they compare.
    this.#recording = recording?.deriveEnviron
      ? { ...recording, environCode: environCodeFingerprint() }
      : recording;
    this.#dir = await Deno.makeTempDir({ prefix: "wsgi-dev-" });
    // Stopped meanwhile (a Ctrl-C while starting): nothing more to start.
    if (this.#stopping) return {};
    const path = `${this.#dir}/channel.sock`;
    this.#channel = Deno.listen({ transport: "unix", path });
    this.#acceptLoop(this.#channel);
    const first = this.#generations.start("start", undefined);
    await first.settled;
    if (this.#stopping) return {};
    this.#watchdog.start();
    if (this.#o.reload && this.#o.module.startsWith("file:")) {
      this.#watcher = new ModuleWatcher(
        this.#o.module,
        (files, at) => this.#generations.changed(files, at),
      );
      this.#watcher.refresh();
    }
    return { loadError: this.#generations.current?.loadError };
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    try {
      for await (const conn of listener) this.#serveConn(conn as Deno.UnixConn);
    } catch {
      // Closed.
    }
  }

  async #serveConn(conn: Deno.UnixConn): Promise<void> {
    let p: AppProcess | undefined;
    let failed = false;
    const onMessage = (kind: number, payload: Uint8Array) => {
      if (kind === RECORD) {
        if (!p?.ingest || failed) return;
        try {
          p.ingest.ingest(payload);
        } catch (error) {
          failed = true;
          this.#printError(
            `The inspector could not record an event of app process ${p.pid}; its exchanges are no longer recorded: ${
              error instanceof Error ? error.stack : error
            }\n`,
          );
        }
        return;
      }
      if (kind === HEARTBEAT) {
        if (p) p.lastSeen = performance.now();
        return;
      }
      if (kind !== CONTROL) return;
      const control = parseControl<ToSupervisor>(payload);
      if (control.type === "hello") {
        p = this.#byPid.get(control.pid);
        // Not one of ours: hang up.
        if (!p) throw new Error(`Unknown app process ${control.pid}`);
        p.attach(conn);
      }
      if (!p) throw new Error("An app process must say hello first");
      p.lastSeen = performance.now();
      if (control.type === "ready") p.onReady();
      else if (control.type === "load_error") p.onLoadError(control.error);
      else if (control.type === "fault") p.onFault(control.fault);
      else if (control.type === "unlistened") p.onUnlistened();
    };
    try {
      await readChannel(conn, onMessage);
    } catch {
      // The process went away mid-message, or was not one of ours.
    }
    try {
      conn.close();
    } catch { /* already closed */ }
    p?.endChannel();
  }

  #event(event: ServerEvent): void {
    try {
      this.#o.inspector?.serverEvent(event);
    } catch (error) {
      this.#printError(`The inspector could not record a server event: ${error}\n`);
    }
  }

  #config(generation: number, worker: number, failed?: LoadError): ChildConfig {
    return {
      channel: `${this.#dir}/channel.sock`,
      generation,
      worker,
      module: this.#o.module,
      shown: this.#o.shown,
      name: this.#o.name,
      hostname: this.#o.hostname,
      port: this.#port,
      timeout: this.#o.timeout,
      multiprocess: this.#o.workers > 1,
      recording: this.#recording,
      maxRequestBody: this.#o.maxRequestBody,
      toolkit: this.#o.toolkit,
      log: this.#o.log,
      // Without its token (`?token=`): the error pages link to the inspector and may be shown to
      // other clients (--debug-any-client), and an app process's command line, which carries
      // this, is readable by other users of the machine.
      inspectorUrl: this.#inspectorUrl?.replace(/\?.*$/, ""),
      debugAnyClient: this.#o.debugAnyClient,
      failed,
    };
  }

  #spawn(config: ChildConfig, intake: RecordIntake | undefined | "standby"): AppProcess {
    const p = new AppProcess(config, intake, {
      ready: (p) => this.#generations.ready(p),
      loadError: (p, error) => this.#generations.loadError(p, error),
      fault: (p, fault) => this.#fault(p, fault),
      exited: (p, status) => this.#exited(p, status),
    });
    this.#processes.add(p);
    this.#byPid.set(p.pid, p);
    return p;
  }

  #fault(p: AppProcess, fault: Fault | ProcessFault): void {
    this.#event({ type: "fault", generation: p.generation, pid: p.pid, fault });
  }

  #exited(p: AppProcess, status: Deno.CommandStatus): void {
    this.#processes.delete(p);
    this.#byPid.delete(p.pid);
    if (this.#generations.standbyExited(p)) return;
    this.#abortOpen(p, status);
    if (p.endedBy !== undefined || this.#stopping) return;
    this.#watchdog.crashed(p, status);
  }

  /**
   * Ends the exchanges a process that exited left open, in the record, with
   * the reason it went; what it wrote before it went is read first (not for
   * long: its end of the socket is closed).
   */
  #abortOpen(p: AppProcess, status: Deno.CommandStatus): void {
    const why = p.endedBy;
    const grace = this.#graceMs / 1000;
    Promise.race([p.channelDone, new Promise((r) => setTimeout(r, LAST_RECORDS_MS))]).then(() => {
      if ((p.ingest?.open ?? 0) === 0) return;
      p.ingest!.abortOpen(
        why === "timeout"
          ? `timed out: the app process was busy for more than ${this.#o.timeout} s (a CPU-bound loop?) and was restarted; the connection was cut`
          : why === "grace"
          ? `cut: the app was reloaded and this exchange was still running ${grace} s later`
          : why === "shutdown"
          ? "cut: the server shut down"
          : `cut: the app process exited (${status.signal ?? `code ${status.code}`})`,
      );
    });
  }

  /**
   * Stops every app process (within a second), the watcher, the channel, the
   * port's hold and the inspector.
   */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopTimers();
    const all = [...this.#processes];
    for (const p of all) {
      p.endedBy ??= "shutdown";
      p.retire();
    }
    // Within 2 s in all: what has not finished its exchanges in time is killed.
    const killer = setTimeout(() => {
      for (const p of all) p.kill("shutdown");
    }, SHUTDOWN_KILL_MS);
    await Promise.all(all.map((p) => p.exited));
    clearTimeout(killer);
    try {
      this.#channel?.close();
    } catch { /* closed */ }
    this.#hold?.close();
    await this.#o.inspector?.shutdown();
    if (this.#dir) await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  /**
   * Stops at once, also in the middle of {@linkcode Supervisor.stop} (a
   * second Ctrl-C): every app process's group is killed, the channel and
   * the port's hold closed and the temporary folder removed, synchronously,
   * so that the caller may exit the next moment. The inspector goes with
   * this process.
   */
  stopNow(): void {
    if (!this.#stopping) this.#stopTimers();
    for (const p of this.#processes) p.kill("shutdown");
    try {
      this.#channel?.close();
    } catch { /* closed */ }
    this.#hold?.close();
    if (this.#dir) {
      try {
        Deno.removeSync(this.#dir, { recursive: true });
      } catch { /* removed */ }
    }
  }

  /** No more reloads, restarts or heartbeat checks. */
  #stopTimers(): void {
    this.#stopping = true;
    this.#watcher?.close();
    this.#watchdog.stop();
    this.#generations.stop();
  }
}
