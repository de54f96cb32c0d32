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
 * listening process, which answers it. A reload starts the next generation
 * beside the running one; once it listens, the old one is told to retire:
 * it stops accepting, its open exchanges finish (or are cut after
 * {@linkcode GRACE_MS}, and recorded so), and it exits. A module that fails
 * to load is a generation too, whose processes answer with the error page.
 *
 * A process whose heartbeat stops for longer than `--timeout` (a CPU-bound
 * loop: no timer of its own can run) is stopped at once (SIGSTOP), the next
 * generation is started, and the stuck one is killed, with everything it
 * started (SIGKILL to its process group), as soon as the next one listens.
 * A process that exits by itself is replaced within a second.
 *
 * @module
 */

import type { ToolkitOptions } from "./compose.ts";
import type { InspectorHandle } from "../recorder.ts";
import { addressUrl } from "../serve.ts";
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
import type { RecordIntake, ServerEvent } from "./contract.ts";
import { formatLoadError, type LoadError, shortPath } from "./load_error.ts";
import { ModuleWatcher } from "./watcher.ts";

/** Milliseconds the reload's log line waits at most for the old processes to stop listening. */
const UNLISTEN_WAIT_MS = 500;
/** Milliseconds a retired generation's open exchanges may run before they are cut. */
export const GRACE_MS = 5000;
/** This server's own folder (`server/`): the app processes' own code. */
const SERVER_DIR = decodeURIComponent(new URL("../", import.meta.url).pathname);
/** Milliseconds after a reload before the import graph is read again and standbys start. */
const AFTER_RELOAD_MS = 250;
/** Milliseconds a stuck process may keep the port while the next generation starts. */
const STUCK_KILL_MS = 2000;

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
  flag: string,
  host: string,
  port: number,
): unknown {
  if (error instanceof Deno.errors.AddrInUse) {
    return new PortError(
      `Cannot serve ${what} on ${host}:${port}: the port is in use; pick another with ${flag}`,
    );
  }
  if (
    error instanceof Deno.errors.AddrNotAvailable || error instanceof Deno.errors.PermissionDenied
  ) {
    return new PortError(`Cannot serve ${what} on ${host}:${port}: ${(error as Error).message}`);
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
  hostname: string;
  port: number;
  /** Reload on changes to the module's graph. */
  reload: boolean;
  /** Seconds an exchange may run; 0 for no limit. */
  timeout: number;
  /** App processes per generation. */
  workers: number;
  /** The request log. */
  log: boolean;
  /** The largest request body the gateway takes; the gateway's default when absent. */
  maxRequestBody?: number;
  /** The toolkit's pieces around the app (validator, `--script-name`, `--static`). */
  toolkit?: ToolkitOptions;
  inspector?: SupervisedInspector;
  /** Where status lines go (stdout by default). */
  print?: (line: string) => void;
  /** Where errors go (stderr by default). */
  printError?: (text: string) => void;
}

interface Generation {
  n: number;
  reason: string;
  /** When its cause happened (`performance.now()`): the save, for the reload's time. */
  causeAt: number | undefined;
  processes: AppProcess[];
  /** Set when its module could not be loaded. */
  loadError: LoadError | undefined;
  /** Given: serve this error page without loading the module. */
  failed: LoadError | undefined;
  ready: number;
  /** Resolves true when every process listens, false when the generation failed. */
  settled: Promise<boolean>;
  settle(ok: boolean): void;
}

/** Runs the app in supervised child processes. */
export class Supervisor {
  readonly #o: SupervisorOptions;
  #dir = "";
  #channel: Deno.Listener | undefined;
  #processes = new Set<AppProcess>();
  #byPid = new Map<number, AppProcess>();
  #generations = 0;
  #current: Generation | undefined;
  #starting: Generation | undefined;
  /** Changes seen while a generation was starting: they start the next one. */
  #again: { reason: string; at: number } | undefined;
  #watcher: ModuleWatcher | undefined;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #inspectorUrl: string | undefined;
  #port = 0;
  #stopping = false;
  #crashes: number[] = [];
  /** App processes started ahead of the next save, waiting to load the module. */
  #standbys: AppProcess[] = [];
  /** Timers to clear when stopping. */
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #print: (line: string) => void;
  #printError: (text: string) => void;

  constructor(options: SupervisorOptions) {
    this.#o = options;
    this.#print = options.print ?? ((line) => console.log(line));
    this.#printError = options.printError ??
      ((text) => Deno.stderr.writeSync(new TextEncoder().encode(text)));
  }

  /** The app's URL. */
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
    return this.#current?.n ?? 0;
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
      this.#port = this.#probe();
    } catch (error) {
      throw portError(error, "the app", "--port", this.#o.hostname, this.#o.port);
    }
    if (this.#o.inspector) {
      try {
        this.#inspectorUrl = (await this.#o.inspector.listen(this.url)).url;
      } catch (error) {
        const { host, port } = inspectorAddress ?? { host: "", port: 0 };
        throw portError(error, "the inspector", "--inspector-port", host, port);
      }
    }
    this.#dir = await Deno.makeTempDir({ prefix: "wsgi-dev-" });
    const path = `${this.#dir}/channel.sock`;
    this.#channel = Deno.listen({ transport: "unix", path });
    this.#acceptLoop(this.#channel);
    const first = this.#startGeneration("start", undefined);
    await first.settled;
    if (this.#o.timeout > 0) {
      this.#watchdog = setInterval(() => this.#watch(), 100);
    }
    if (this.#o.reload && this.#o.module.startsWith("file:")) {
      this.#watcher = new ModuleWatcher(this.#o.module, (files, at) => this.#changed(files, at));
      this.#watcher.refresh();
    }
    return { loadError: this.#current?.loadError };
  }

  /**
   * Binds the port once without `SO_REUSEPORT` and lets it go: a port that
   * anything holds (another server, or another dev server sharing it with
   * `SO_REUSEPORT`) fails here instead of being silently shared; port 0 picks
   * a free port, which every app process then uses.
   */
  #probe(): number {
    const listener = Deno.listen({ hostname: this.#o.hostname, port: this.#o.port });
    const port = (listener.addr as Deno.NetAddr).port;
    listener.close();
    return port;
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

  /** A reader for one app process's records; none without an inspector. */
  #intake(): RecordIntake | undefined {
    return this.#o.inspector?.intake();
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
      recording: this.#o.inspector?.appRecording,
      maxRequestBody: this.#o.maxRequestBody,
      toolkit: this.#o.toolkit,
      log: this.#o.log,
      // Without its token (`?token=`): the load error page is shown to any client, and an app
      // process's command line, which carries this, is readable by other users of the machine.
      inspectorUrl: this.#inspectorUrl?.replace(/\?.*$/, ""),
      failed,
    };
  }

  #spawn(config: ChildConfig, intake: RecordIntake | undefined | "standby"): AppProcess {
    const p = new AppProcess(config, intake, {
      ready: (p) => this.#processReady(p),
      loadError: (p, error) => {
        const g = this.#generationOf(p);
        if (g) g.loadError ??= error;
      },
      fault: (p, fault) => this.#fault(p, fault),
      exited: (p, status) => this.#exited(p, status),
    });
    this.#processes.add(p);
    this.#byPid.set(p.pid, p);
    return p;
  }

  /** Starts standbys for the next reload, up to one per worker. */
  #spawnStandbys(): void {
    if (!this.#o.reload || this.#stopping) return;
    while (this.#standbys.length < this.#o.workers) {
      this.#standbys.push(this.#spawn(this.#config(0, 0), "standby"));
    }
  }

  /** Drops the standbys (they loaded server files that changed). */
  #dropStandbys(): void {
    for (const p of this.#standbys) p.kill("dropped");
    this.#standbys = [];
  }

  #startGeneration(reason: string, causeAt: number | undefined, failed?: LoadError): Generation {
    const n = ++this.#generations;
    let settle!: (ok: boolean) => void;
    const settled = new Promise<boolean>((resolve) => (settle = resolve));
    const g: Generation = {
      n,
      reason,
      causeAt,
      processes: [],
      loadError: failed,
      failed,
      ready: 0,
      settled,
      settle: (ok) => settle(ok),
    };
    this.#starting = g;
    const warm = this.#standbys.filter((p) => p.connected && p.state === "standby");
    const useStandbys = warm.length >= this.#o.workers;
    for (let worker = 1; worker <= this.#o.workers; worker++) {
      const config = this.#config(n, worker, failed);
      // One reader per process: each numbers its exchanges from 1.
      const intake = this.#intake();
      let p: AppProcess;
      if (useStandbys) {
        p = warm[worker - 1]!;
        this.#standbys.splice(this.#standbys.indexOf(p), 1);
        p.load(config, intake);
      } else p = this.#spawn(config, intake);
      g.processes.push(p);
    }
    return g;
  }

  #processReady(p: AppProcess): void {
    const g = this.#generationOf(p);
    if (!g || ++g.ready < g.processes.length || this.#starting !== g) return;
    this.#serve(g);
  }

  /** Makes `g` the serving generation and retires the one before. */
  #serve(g: Generation): void {
    const old = this.#current;
    this.#current = g;
    this.#starting = undefined;
    const ms = g.causeAt === undefined ? undefined : Math.round(performance.now() - g.causeAt);
    // Without reload, the first load error is the caller's to report (in one line).
    if (g.loadError && (this.#o.reload || old)) this.#printError(formatLoadError(g.loadError));
    if (old) {
      for (const p of old.processes) {
        if (p.endedBy === "timeout") p.kill();
        else this.#retire(p);
      }
      if (!g.loadError) {
        const what = g.reason.startsWith("restart ")
          ? `restarted (${g.reason.slice("restart ".length)})`
          : `reloaded (${g.reason})`;
        // Said once only the new code takes connections: the old processes stopped listening.
        const unlistened = Promise.all(old.processes.map((p) => p.unlistened));
        let timer: ReturnType<typeof setTimeout> | undefined;
        const wait = new Promise((resolve) => (timer = setTimeout(resolve, UNLISTEN_WAIT_MS)));
        Promise.race([unlistened, wait]).then(() => {
          clearTimeout(timer);
          this.#print(`${what}${ms === undefined ? "" : ` in ${ms} ms`}`);
        });
      }
    }
    this.#event({
      type: "generation",
      generation: g.n,
      reason: g.reason,
      ms,
      loadError: g.loadError,
    });
    g.settle(true);
    // Both start a process (~100 ms of a core): not while the new generation takes its first requests.
    const later = setTimeout(() => {
      this.#timers.delete(later);
      this.#watcher?.refresh();
      this.#spawnStandbys();
    }, AFTER_RELOAD_MS);
    this.#timers.add(later);
    const again = this.#again;
    if (again) {
      this.#again = undefined;
      this.#startGeneration(again.reason, again.at);
    }
  }

  #retire(p: AppProcess): void {
    p.retire();
    const timer = setTimeout(() => {
      if (p.state !== "gone") p.kill("grace");
    }, GRACE_MS);
    p.exited.then(() => clearTimeout(timer));
  }

  /** The watcher saw a save. */
  #changed(files: string[], at: number): void {
    if (this.#stopping) return;
    // Standbys have this server's own modules loaded: stale if one of those changed.
    if (files.some((f) => f.startsWith(SERVER_DIR))) this.#dropStandbys();
    const names = files.map((f) => shortPath(f)).join(", ");
    const reason = `${names} changed`;
    if (this.#starting) {
      this.#again = { reason, at: this.#again?.at ?? at };
      return;
    }
    this.#startGeneration(reason, at);
  }

  #fault(
    p: AppProcess,
    fault: { kind: string; name: string; message: string; stack?: string },
  ): void {
    this.#event({
      type: "fault",
      generation: p.generation,
      pid: p.pid,
      fault: fault as Extract<ServerEvent, { type: "fault" }>["fault"],
    });
  }

  /** Checks heartbeats: a process silent for longer than the timeout is stuck. */
  #watch(): void {
    const limit = this.#o.timeout * 1000 + 300;
    const now = performance.now();
    for (const p of this.#processes) {
      if (p.endedBy !== undefined || p.state === "gone" || p.state === "standby") continue;
      if (now - p.lastSeen <= limit) continue;
      this.#stuck(p, now - p.lastSeen);
    }
  }

  #stuck(p: AppProcess, silentMs: number): void {
    // Stop it burning a core at once; killed when the next generation listens.
    p.signal("SIGSTOP");
    p.endedBy = "timeout";
    const seconds = (silentMs / 1000).toFixed(1);
    const loading = p.state === "starting";
    const message = loading
      ? `The module did not finish loading within ${seconds} s (a loop at its top level?)`
      : `The app process (pid ${p.pid}) did not answer for ${seconds} s (a CPU-bound loop?); it is restarted`;
    this.#printError(`${message}\n`);
    this.#fault(p, { kind: "timeout", name: "TimeoutError", message });
    setTimeout(() => p.kill(), STUCK_KILL_MS);
    const g = this.#generationOf(p);
    if (!g || this.#stopping) return;
    if (g === this.#starting) {
      this.#fail(g, { kind: "error at import", module: this.#o.shown, message });
    } else if (g === this.#current && !this.#starting) {
      this.#startGeneration("restart after a timeout", undefined, g.failed);
    }
  }

  #generationOf(p: AppProcess): Generation | undefined {
    if (this.#starting?.processes.includes(p)) return this.#starting;
    if (this.#current?.processes.includes(p)) return this.#current;
    return undefined;
  }

  /** A starting generation cannot serve: kill it, and serve its error page instead. */
  #fail(g: Generation, error: LoadError): void {
    for (const p of g.processes) p.kill("failed");
    if (this.#starting === g) this.#starting = undefined;
    g.settle(false);
    const next = this.#startGeneration(g.reason, g.causeAt, error);
    next.settled.then((ok) => {
      if (ok) g.settle(true);
    });
  }

  #exited(p: AppProcess, status: Deno.CommandStatus): void {
    this.#processes.delete(p);
    this.#byPid.delete(p.pid);
    const standby = this.#standbys.indexOf(p);
    if (standby !== -1) {
      this.#standbys.splice(standby, 1);
      return;
    }
    const why = p.endedBy;
    // What it wrote before it went is read first (not long: its end of the socket is closed).
    Promise.race([p.channelDone, new Promise((r) => setTimeout(r, 1000))]).then(() => {
      if ((p.ingest?.open ?? 0) === 0) return;
      p.ingest!.abortOpen(
        why === "timeout"
          ? `timed out: the app process was busy for more than ${this.#o.timeout} s (a CPU-bound loop?) and was restarted; the connection was cut`
          : why === "grace"
          ? `cut: the app was reloaded and this exchange was still running ${
            GRACE_MS / 1000
          } s later`
          : why === "shutdown"
          ? "cut: the server shut down"
          : `cut: the app process exited (${status.signal ?? `code ${status.code}`})`,
      );
    });
    if (why !== undefined || this.#stopping) return;
    const how = status.signal ? `signal ${status.signal}` : `code ${status.code}`;
    const message = `The app process (pid ${p.pid}) exited with ${how}`;
    this.#fault(p, { kind: "exit", name: "Exit", message });
    const g = this.#generationOf(p);
    if (!g) return;
    // Crashing again and again: wait a little longer each time, never more than a second.
    const now = performance.now();
    this.#crashes = this.#crashes.filter((t) => now - t < 10_000);
    this.#crashes.push(now);
    const delay = Math.min(1000, 125 * 2 ** (this.#crashes.length - 1)) - 125;
    this.#printError(`${message}; restarting it${delay > 0 ? ` in ${delay} ms` : ""}\n`);
    setTimeout(() => {
      if (this.#stopping) return;
      if (g === this.#starting) {
        this.#fail(g, {
          kind: "error at import",
          module: this.#o.shown,
          message: `${message} while loading the module`,
        });
      } else if (g === this.#current && !this.#starting) {
        this.#startGeneration("restart after the app process exited", undefined, g.failed);
      }
    }, delay);
  }

  /** Stops every app process (within a second), the watcher, the channel and the inspector. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#watcher?.close();
    clearInterval(this.#watchdog);
    for (const timer of this.#timers) clearTimeout(timer);
    const all = [...this.#processes];
    for (const p of all) {
      p.endedBy ??= "shutdown";
      p.retire();
    }
    // Within 2 s in all: what has not finished its exchanges in 0.8 s is killed.
    const killer = setTimeout(() => {
      for (const p of all) p.kill("shutdown");
    }, 800);
    await Promise.all(all.map((p) => p.exited));
    clearTimeout(killer);
    try {
      this.#channel?.close();
    } catch { /* closed */ }
    await this.#o.inspector?.shutdown();
    if (this.#dir) await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}
