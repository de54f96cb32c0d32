/**
 * Generations of the app: which app processes serve now, which are starting,
 * and how a reload replaces the one with the other.
 *
 * A save starts the next generation beside the running one, in standbys
 * (processes started ahead of time, with the gateway loaded, that wait to be
 * told the module) when there are enough, else in new processes. Once every
 * process of it listens, it serves, and the old one is told to retire: it
 * stops accepting, its open exchanges finish (or are cut after the grace
 * period, and recorded so), and it exits. A module that fails to load is a
 * generation too, whose processes answer with the error page. Saves that
 * come while a generation starts make one more, after it.
 *
 * @module
 */

import type { RecordIntake, ServerEvent } from "./contract.ts";
import type { ChildConfig } from "./child_config.ts";
import type { AppProcess } from "./app_process.ts";
import { formatLoadError, type LoadError, shortPath } from "./load_error.ts";

/** Milliseconds the reload's log line waits at most for the old processes to stop listening. */
const UNLISTEN_WAIT_MS = 500;
/** Milliseconds after a reload before the import graph is read again and standbys start. */
const AFTER_RELOAD_MS = 250;
/** This server's own folder (`server/`): the app processes' own code. */
const SERVER_DIR = decodeURIComponent(new URL("../", import.meta.url).pathname);

/** The default grace period: milliseconds a retired generation's open exchanges may run before they are cut. */
export const GRACE_MS = 5000;

/** One generation: the app processes that load one version of the module. */
export interface Generation {
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

/** What {@linkcode Generations} needs of the supervisor. */
export interface GenerationHost {
  /** App processes per generation. */
  readonly workers: number;
  /** Whether saves reload the app (standbys are kept only then). */
  readonly reload: boolean;
  /** How the module is shown (`app.ts`). */
  readonly shown: string;
  /** Milliseconds a retired generation's open exchanges may run before they are cut. */
  readonly graceMs: number;
  /** Whether the supervisor is stopping. */
  stopping(): boolean;
  /** Spawns an app process; a standby (`"standby"`) waits to be told what to load. */
  spawn(config: ChildConfig, intake: RecordIntake | undefined | "standby"): AppProcess;
  /** An app process's configuration. */
  config(generation: number, worker: number, failed?: LoadError): ChildConfig;
  /** A reader for one app process's records; none without an inspector. */
  intake(): RecordIntake | undefined;
  /** Records a server-level event. */
  event(event: ServerEvent): void;
  /** Prints a status line. */
  print(line: string): void;
  /** Prints an error. */
  printError(text: string): void;
  /** Reads the module's import graph again (after a reload). */
  afterReload(): void;
}

/** The generations of the app, and the standbys for the next one. */
export class Generations {
  readonly #host: GenerationHost;
  #count = 0;
  #current: Generation | undefined;
  #starting: Generation | undefined;
  /** Changes seen while a generation was starting: they start the next one. */
  #again: { reason: string; at: number } | undefined;
  /** App processes started ahead of the next save, waiting to load the module. */
  #standbys: AppProcess[] = [];
  /** Timers to clear when stopping. */
  #timers = new Set<ReturnType<typeof setTimeout>>();

  constructor(host: GenerationHost) {
    this.#host = host;
  }

  /** The generation that serves now. */
  get current(): Generation | undefined {
    return this.#current;
  }

  /** The generation that is starting, if one is. */
  get starting(): Generation | undefined {
    return this.#starting;
  }

  /**
   * Starts a generation: one process per worker, standbys if there are
   * enough, else new ones. With `failed`, its processes serve that error
   * page without loading the module.
   */
  start(reason: string, causeAt: number | undefined, failed?: LoadError): Generation {
    const host = this.#host;
    const n = ++this.#count;
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
    const useStandbys = warm.length >= host.workers;
    for (let worker = 1; worker <= host.workers; worker++) {
      const config = host.config(n, worker, failed);
      // One reader per process: each numbers its exchanges from 1.
      const intake = host.intake();
      let p: AppProcess;
      if (useStandbys) {
        p = warm[worker - 1]!;
        this.#standbys.splice(this.#standbys.indexOf(p), 1);
        p.load(config, intake);
      } else p = host.spawn(config, intake);
      g.processes.push(p);
    }
    return g;
  }

  /** The generation `p` belongs to, if it is the current or the starting one. */
  of(p: AppProcess): Generation | undefined {
    if (this.#starting?.processes.includes(p)) return this.#starting;
    if (this.#current?.processes.includes(p)) return this.#current;
    return undefined;
  }

  /** An app process listens: the last of its generation makes that one serve. */
  ready(p: AppProcess): void {
    const g = this.of(p);
    if (!g || ++g.ready < g.processes.length || this.#starting !== g) return;
    this.#serve(g);
  }

  /** An app process could not load the module: its generation serves the error page. */
  loadError(p: AppProcess, error: LoadError): void {
    const g = this.of(p);
    if (g) g.loadError ??= error;
  }

  /** The watcher saw a save of `files` at `at` (`performance.now()`). */
  changed(files: string[], at: number): void {
    if (this.#host.stopping()) return;
    // Standbys have this server's own modules loaded: stale if one of those changed.
    if (files.some((f) => f.startsWith(SERVER_DIR))) this.#dropStandbys();
    const names = files.map((f) => shortPath(f)).join(", ");
    const reason = `${names} changed`;
    if (this.#starting) {
      this.#again = { reason, at: this.#again?.at ?? at };
      return;
    }
    this.start(reason, at);
  }

  /**
   * Replaces generation `g`, whose process had to go (`reason`): a starting
   * one fails with `message` as its load error, the serving one is
   * restarted (with its error page, if it served one).
   */
  replace(g: Generation, reason: string, message: string): void {
    if (g === this.#starting) {
      this.fail(g, { kind: "error at import", module: this.#host.shown, message });
    } else if (g === this.#current && !this.#starting) {
      this.start(reason, undefined, g.failed);
    }
  }

  /** A starting generation cannot serve: kill it, and serve its error page instead. */
  fail(g: Generation, error: LoadError): void {
    for (const p of g.processes) p.kill("failed");
    if (this.#starting === g) this.#starting = undefined;
    g.settle(false);
    const next = this.start(g.reason, g.causeAt, error);
    next.settled.then((ok) => {
      if (ok) g.settle(true);
    });
  }

  /** Forgets a standby that exited; false when `p` was none. */
  standbyExited(p: AppProcess): boolean {
    const i = this.#standbys.indexOf(p);
    if (i === -1) return false;
    this.#standbys.splice(i, 1);
    return true;
  }

  /** Clears the timers (the supervisor stops every process itself). */
  stop(): void {
    for (const timer of this.#timers) clearTimeout(timer);
  }

  /** Makes `g` the serving generation and retires the one before. */
  #serve(g: Generation): void {
    const host = this.#host;
    const old = this.#current;
    this.#current = g;
    this.#starting = undefined;
    const ms = g.causeAt === undefined ? undefined : Math.round(performance.now() - g.causeAt);
    // Without reload, the first load error is the caller's to report (in one line).
    if (g.loadError && (host.reload || old)) host.printError(formatLoadError(g.loadError));
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
          host.print(`${what}${ms === undefined ? "" : ` in ${ms} ms`}`);
        });
      }
    }
    host.event({
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
      host.afterReload();
      this.#spawnStandbys();
    }, AFTER_RELOAD_MS);
    this.#timers.add(later);
    const again = this.#again;
    if (again) {
      this.#again = undefined;
      this.start(again.reason, again.at);
    }
  }

  /** Tells `p` to retire, and kills it if its exchanges still run after the grace period. */
  #retire(p: AppProcess): void {
    p.retire();
    const timer = setTimeout(() => {
      if (p.state === "gone") return;
      // No longer "retired": the record says its exchanges were cut after the grace period.
      p.endedBy = "grace";
      p.kill();
    }, this.#host.graceMs);
    p.exited.then(() => clearTimeout(timer));
  }

  /** Starts standbys for the next reload, up to one per worker. */
  #spawnStandbys(): void {
    const host = this.#host;
    if (!host.reload || host.stopping()) return;
    while (this.#standbys.length < host.workers) {
      this.#standbys.push(host.spawn(host.config(0, 0), "standby"));
    }
  }

  /** Drops the standbys (they loaded server files that changed). */
  #dropStandbys(): void {
    for (const p of this.#standbys) p.kill("dropped");
    this.#standbys = [];
  }
}
