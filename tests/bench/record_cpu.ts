/**
 * CPU time per request of the hello app through `toFetch` in memory, with
 * and without the inspector's store recording: a steadier measure than the
 * socket benchmark on a shared machine, because it counts this process's
 * own CPU time (`process.cpuUsage()`), not wall time, and alternates the
 * contenders round by round. The request log is on in both (to a sink that
 * drops it), as in the CLI.
 *
 * ```
 * taskset -c 0 deno run -A tests/bench/record_cpu.ts                 # 9 rounds of 100,000
 * taskset -c 0 deno run -A tests/bench/record_cpu.ts --rounds 15 --requests 200000
 * ```
 *
 * With `--old PATH` (an older `inspector/store.ts`, e.g. in a worktree of an
 * older commit), that store is a third contender.
 *
 * @module
 */

import process from "node:process";
import { parseArgs } from "node:util";
import { toFetch } from "../../server/gateway.ts";
import type { Recorder } from "../../server/recorder.ts";
import { ExchangeStore } from "../../inspector/store.ts";
import { application } from "../../examples/hello.ts";
import { median } from "./_bench.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "9" },
    requests: { type: "string", default: "100000" },
    old: { type: "string" },
  },
});
const rounds = Number(values.rounds);
const n = Number(values.requests);

const quiet = { write() {}, flush() {}, writeLine() {} };
const peer = { remoteAddr: { transport: "tcp" as const, hostname: "127.0.0.1", port: 51234 } };
const request = new Request("http://127.0.0.1:8000/", { headers: { host: "127.0.0.1:8000" } });

const contenders: [string, (r: Request, i: typeof peer) => Promise<Response>][] = [
  ["gateway", toFetch(application, { errors: quiet, log: () => {} })],
  [
    "inspector",
    toFetch(application, { errors: quiet, log: () => {}, recorder: new ExchangeStore() }),
  ],
];
if (values.old) {
  const { ExchangeStore: Old } = await import(new URL(values.old, `file://${Deno.cwd()}/`).href);
  contenders.push([
    "old store",
    toFetch(application, { errors: quiet, log: () => {}, recorder: new Old() as Recorder }),
  ]);
}

let sink = 0;
async function run(handler: (r: Request, i: typeof peer) => Promise<Response>, count: number) {
  for (let i = 0; i < count; i++) {
    sink += (await (await handler(request, peer)).arrayBuffer()).byteLength;
  }
}

for (const [, handler] of contenders) await run(handler, 20_000);
const results = new Map<string, number[]>(contenders.map(([name]) => [name, []]));
for (let round = 0; round < rounds; round++) {
  for (const [name, handler] of contenders) {
    const before = process.cpuUsage();
    await run(handler, n);
    const used = process.cpuUsage(before);
    results.get(name)!.push((used.user + used.system) / n);
  }
}
const base = median(results.get("gateway")!);
console.log(`CPU µs per request, median of ${rounds} alternated rounds of ${n}:`);
for (const [name, times] of results) {
  console.log(
    `  ${name.padEnd(10)} ${median(times).toFixed(3)}  (${Math.min(...times).toFixed(3)}-${
      Math.max(...times).toFixed(3)
    })  gateway/${name}: ${(base / median(times)).toFixed(3)}`,
  );
}
if (sink === 0) console.log("(nothing read)");
