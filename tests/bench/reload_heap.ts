/**
 * Whether reloads leak: the supervisor in this process (with the inspector),
 * an app in a temporary folder edited `--reloads` times (300 by default),
 * each edit waited for, and every 50 reloads the JavaScript heap after two
 * full garbage collections, beside the resident set. A heap that stays flat
 * while RSS steps up is the allocator, not a leak.
 *
 * ```
 * deno run -A --v8-flags=--expose-gc tests/bench/reload_heap.ts
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Supervisor } from "../../server/dev/supervisor.ts";
import { createInspector } from "../../inspector/mod.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { reloads: { type: "string", default: "300" } },
});
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) {
  console.error("error: run with --v8-flags=--expose-gc");
  Deno.exit(2);
}
const dir = await Deno.makeTempDir({ prefix: "wsgi-reload-heap-" });
const source = (marker: string) =>
  `export const application = (_e: unknown, start_response: (s: string, h: [string, string][]) => void) => {
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode(${JSON.stringify(marker)})];
};
`;
await Deno.writeTextFile(`${dir}/app.ts`, source("m0"));
const inspector = createInspector({ port: 0 });
const supervisor = new Supervisor({
  module: `file://${dir}/app.ts`,
  shown: "app.ts",
  hostname: "127.0.0.1",
  port: 0,
  reload: true,
  timeout: 30,
  workers: 1,
  log: false,
  inspector,
  print: () => {},
  printError: () => {},
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
try {
  await supervisor.start();
  const served = async (marker: string) => {
    for (;;) {
      try {
        if ((await (await fetch(supervisor.url)).text()) === marker) return;
      } catch { /* between generations */ }
      await sleep(5);
    }
  };
  const mib = (n: number) => (n / 1048576).toFixed(1);
  for (let i = 1; i <= Number(values.reloads); i++) {
    await Deno.writeTextFile(`${dir}/app.ts`, source(`m${i}`));
    await served(`m${i}`);
    await sleep(30);
    if (i % 50 === 0) {
      await sleep(1500);
      gc();
      gc();
      const m = Deno.memoryUsage();
      console.log(
        `after ${i} reloads: heap used ${mib(m.heapUsed)} MiB, external ${
          mib(m.external)
        } MiB, RSS ${mib(m.rss)} MiB`,
      );
    }
  }
} finally {
  await supervisor.stop();
  await Deno.remove(dir, { recursive: true });
}
