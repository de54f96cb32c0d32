/**
 * The watchdog: app processes that stop answering, and app processes that
 * die.
 *
 * Each app process sends a heartbeat every 200 ms (`./child.ts`). One whose
 * heartbeat stops for longer than `--timeout` (a CPU-bound loop: no timer of
 * its own can run) is stopped at once (SIGSTOP), its clients are answered
 * for it (a `504` for the exchanges it had begun, a `503` for requests it
 * never read: `./stuck_clients.ts`, which takes their sockets from the
 * stopped process; a cut where it cannot), its generation is replaced, and
 * it is killed, with everything it started (SIGKILL to its process group),
 * once the next one listens or two seconds later. A process that
 * exits by itself is replaced within a second; one that crashes again and
 * again waits a little longer each time.
 *
 * @module
 */

import type { AppProcess } from "./app_process.ts";
import type { Generations } from "./generations.ts";
import { answerStuckClients } from "./stuck_clients.ts";
import { warmUp } from "./socket_lift.ts";
import type { LogEntry } from "../log.ts";

/** Milliseconds between checks of the heartbeats. */
const CHECK_MS = 100;
/**
 * A check this much later than its interval means the supervisor itself
 * was held up (a long request to the inspector, a pause of the machine):
 * heartbeats sent meanwhile may still be waiting to be read.
 */
const LATE_MS = 5 * CHECK_MS;
/** Milliseconds a stuck process may keep the port while the next generation starts. */
const STUCK_KILL_MS = 2000;
/** Milliseconds after the start before the calls that answer a stuck process's clients are made ready. */
const WARM_MS = 500;
/** Milliseconds of crashes remembered for the delay before a restart. */
const CRASH_WINDOW_MS = 10_000;

/** A fault the watchdog reports (`kind`: the process was stuck, or exited). */
export interface ProcessFault {
  kind: "timeout" | "exit";
  name: string;
  message: string;
}

/** What the {@linkcode Watchdog} needs of the supervisor. */
export interface WatchdogHost {
  /** Seconds an exchange may run; 0 for no limit (and no heartbeat checks). */
  readonly timeout: number;
  /** The app's port. */
  readonly port: number;
  /** The app processes alive. */
  readonly processes: Iterable<AppProcess>;
  /** Whether the supervisor is stopping. */
  stopping(): boolean;
  /** Records a fault of `p` as a server-level event. */
  fault(p: AppProcess, fault: ProcessFault): void;
  /** Prints an error. */
  printError(text: string): void;
  /** The request log (absent with `--quiet`): a line for each exchange answered for a stuck process. */
  log?: (entry: LogEntry) => void;
}

/** Whether a process other than `p` of `processes` serves the port. */
function othersListen(processes: Iterable<AppProcess>, p: AppProcess): boolean {
  for (const q of processes) {
    if (q !== p && q.state === "ready" && q.endedBy === undefined) return true;
  }
  return false;
}

/** Watches the heartbeats of the app processes, and replaces those that die. */
export class Watchdog {
  readonly #host: WatchdogHost;
  readonly #generations: Generations;
  #timer: ReturnType<typeof setInterval> | undefined;
  #warm: ReturnType<typeof setTimeout> | undefined;
  /** When the last crashes happened (`performance.now()`), for the restart's delay. */
  #crashes: number[] = [];
  /** When the last check ran. */
  #checked = 0;
  /** When the supervisor last came back from being held up: no silence before it counts. */
  #resumed = 0;

  constructor(host: WatchdogHost, generations: Generations) {
    this.#host = host;
    this.#generations = generations;
  }

  /** Starts checking the heartbeats, when there is a timeout. */
  start(): void {
    if (!(this.#host.timeout > 0)) return;
    this.#checked = performance.now();
    this.#timer = setInterval(() => this.#check(), CHECK_MS);
    // Off the start's path; a process stuck sooner than this costs its clients ~15 ms more.
    const warm = setTimeout(() => warmUp(), WARM_MS);
    Deno.unrefTimer(warm);
    this.#warm = warm;
  }

  /** Stops checking. */
  stop(): void {
    clearInterval(this.#timer);
    clearTimeout(this.#warm);
  }

  /** A process exited that the supervisor did not end: report it, and replace its generation. */
  crashed(p: AppProcess, status: Deno.CommandStatus): void {
    const how = status.signal ? `signal ${status.signal}` : `code ${status.code}`;
    const message = `The app process (pid ${p.pid}) exited with ${how}`;
    this.#host.fault(p, { kind: "exit", name: "Exit", message });
    const g = this.#generations.of(p);
    if (!g) return;
    // Crashing again and again: wait a little longer each time, never more than a second.
    const now = performance.now();
    this.#crashes = this.#crashes.filter((t) => now - t < CRASH_WINDOW_MS);
    this.#crashes.push(now);
    const delay = Math.min(1000, 125 * 2 ** (this.#crashes.length - 1)) - 125;
    this.#host.printError(`${message}; restarting it${delay > 0 ? ` in ${delay} ms` : ""}\n`);
    setTimeout(() => {
      if (this.#host.stopping()) return;
      this.#generations.replace(
        g,
        "restart after the app process exited",
        `${message} while loading the module`,
      );
    }, delay);
  }

  /**
   * Checks heartbeats: a process silent for longer than the timeout is
   * stuck. Silence is counted from when the supervisor could last hear it:
   * after the supervisor was held up itself (this check came late), its
   * processes' heartbeats may still be unread, and a healthy app must not
   * be restarted for the supervisor's own pause.
   */
  #check(): void {
    const limit = this.#host.timeout * 1000 + 300;
    const now = performance.now();
    if (now - this.#checked > LATE_MS) this.#resumed = now;
    this.#checked = now;
    for (const p of this.#host.processes) {
      if (p.endedBy !== undefined || p.state === "gone" || p.state === "standby") continue;
      const silent = now - Math.max(p.lastSeen, this.#resumed);
      if (silent <= limit) continue;
      this.#stuck(p, silent);
    }
  }

  #stuck(p: AppProcess, silentMs: number): void {
    // Stop it burning a core at once; killed when the next generation listens.
    p.signal("SIGSTOP");
    p.endedBy = "timeout";
    const seconds = (silentMs / 1000).toFixed(1);
    const message = p.state === "starting"
      ? `The module did not finish loading within ${seconds} s (a loop at its top level?)`
      : `The app process (pid ${p.pid}) did not answer for ${seconds} s (a CPU-bound loop?); it is restarted`;
    this.#host.printError(`${message}\n`);
    this.#host.fault(p, { kind: "timeout", name: "TimeoutError", message });
    // Answered before anything can kill it (the kill closes their sockets); a module still loading has none.
    if (p.state !== "starting") {
      try {
        const host = this.#host;
        answerStuckClients(p, {
          port: host.port,
          timeout: host.timeout,
          printError: (text) => host.printError(text),
          log: host.log,
          othersListen: (p) => othersListen(host.processes, p),
        });
      } catch (error) {
        this.#host.printError(`Cannot answer the clients of a stuck app process: ${error}\n`);
      }
    }
    setTimeout(() => p.kill(), STUCK_KILL_MS);
    const g = this.#generations.of(p);
    if (!g || this.#host.stopping()) return;
    this.#generations.replace(g, "restart after a timeout", message);
  }
}
