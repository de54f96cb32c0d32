/**
 * Whether recording leaks in the supervisor: the CLI's supervisor in this
 * process (the inspector recording, one app process serving the hello app),
 * `--batches` runs of wrk (5 s each, 6 by default), and after each the
 * JavaScript heap after two full garbage collections, beside the resident
 * set. A heap that stays flat while RSS steps up is V8 reserving space, not
 * a leak (`memory.ts` shows the steps).
 *
 * ```
 * taskset -c 0 deno run -A --v8-flags=--expose-gc tests/bench/supervisor_heap.ts
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Supervisor } from "../../server/dev/supervisor.ts";
import { createInspector } from "../../inspector/mod.ts";
import { haveTaskset } from "./_bench.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { batches: { type: "string", default: "6" } },
});
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error("error: run with --v8-flags=--expose-gc");
  Deno.exit(2);
}
const inspector = createInspector({ port: 0 });
const supervisor = new Supervisor({
  module: new URL("../../examples/hello.ts", import.meta.url).href,
  shown: "examples/hello.ts",
  hostname: "127.0.0.1",
  port: 0,
  reload: false,
  timeout: 30,
  workers: 1,
  log: false,
  inspector,
  print: () => {},
  printError: () => {},
});
const pin = await haveTaskset();
const mib = (n: number) => (n / 1048576).toFixed(1);
try {
  await supervisor.start();
  for (let i = 1; i <= Number(values.batches); i++) {
    const wrk = ["wrk", "-t1", "-c32", "-d5s", `${supervisor.url}/`];
    const out = await new Deno.Command(pin ? "taskset" : wrk[0]!, {
      args: pin ? ["-c", "1", ...wrk] : wrk.slice(1),
      stdout: "piped",
    }).output();
    const requests = new TextDecoder().decode(out.stdout).match(/(\d+) requests/)?.[1] ?? "?";
    await new Promise((resolve) => setTimeout(resolve, 1500));
    gc();
    gc();
    const m = Deno.memoryUsage();
    console.log(
      `batch ${i} (${requests} requests): heap used ${mib(m.heapUsed)} MiB, heap total ${
        mib(m.heapTotal)
      } MiB, external ${mib(m.external)} MiB, RSS ${mib(m.rss)} MiB, kept ${inspector.store.size}`,
    );
  }
} finally {
  await supervisor.stop();
}
