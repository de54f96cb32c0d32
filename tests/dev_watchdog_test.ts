/**
 * The dev loop's watchdog (`server/dev/watchdog.ts`) as a unit, with stub
 * app processes whose heartbeats a timer of this test gives: a supervisor
 * held up past the timeout (its own thread busy, so that no heartbeat could
 * be read) restarts no healthy app, and a process that is really silent is
 * still found stuck.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type ProcessFault, Watchdog, type WatchdogHost } from "../server/dev/watchdog.ts";
import type { AppProcess } from "../server/dev/app_process.ts";
import type { Generations } from "../server/dev/generations.ts";

/** A stub app process: still loading (so no client sockets to answer), alive, heard from now. */
function stubProcess() {
  return {
    pid: 1,
    state: "starting",
    endedBy: undefined as string | undefined,
    lastSeen: performance.now(),
    signals: [] as string[],
    signal(name: string) {
      this.signals.push(name);
    },
    kill() {},
  };
}

/** A watchdog with a 0.2 s timeout over `p`; its faults are collected. */
function watch(p: ReturnType<typeof stubProcess>) {
  const faults: ProcessFault[] = [];
  const host: WatchdogHost = {
    timeout: 0.2,
    port: 0,
    processes: [p as unknown as AppProcess],
    stopping: () => false,
    fault: (_p, fault) => faults.push(fault),
    printError: () => {},
  };
  const dog = new Watchdog(host, { of: () => undefined } as unknown as Generations);
  dog.start();
  return { dog, faults };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("a supervisor held up past the timeout restarts no healthy app process", async () => {
  const p = stubProcess();
  const heard = () => p.lastSeen = performance.now();
  let beat = setInterval(heard, 50);
  const { dog, faults } = watch(p);
  try {
    await sleep(150);
    // The supervisor's thread busy for longer than the timeout (plus its 300 ms of grace):
    // the heartbeats sent meanwhile are read only after it is free again, and after the
    // watchdog's check that was due (as socket reads come after due timers).
    clearInterval(beat);
    const until = performance.now() + 900;
    while (performance.now() < until) { /* held up */ }
    setTimeout(() => {
      heard();
      beat = setInterval(heard, 50);
    }, 0);
    await sleep(300);
    assert.deepEqual(faults, [], "no app process found stuck");
    assert.deepEqual(p.signals, []);
  } finally {
    clearInterval(beat);
    dog.stop();
  }
});

Deno.test({
  name: "an app process silent past the timeout is still found stuck",
  // The watchdog kills a stuck process 2 s later: that timer outlives the test.
  sanitizeOps: false,
  async fn() {
    const p = stubProcess();
    const { dog, faults } = watch(p);
    try {
      await sleep(800);
      assert.equal(faults.length, 1);
      assert.equal(faults[0]!.kind, "timeout");
      assert.deepEqual(p.signals, ["SIGSTOP"]);
    } finally {
      dog.stop();
    }
  },
});
