/**
 * CPU time (and bytes allocated) per request of the hello app through
 * `toFetch` in memory, with and without the inspector's store recording: a
 * steadier measure than the socket benchmark on a shared machine, because it
 * counts this process's own CPU time (`process.cpuUsage()`), not wall time,
 * and alternates the contenders round by round. The request log is on in
 * both (to a sink that drops it), as in the CLI. Requests come from a pool of
 * 100 with different targets, and peers with different ports, so that the
 * recorder sees new strings as it does in a server.
 *
 * It leaves out what only a server shows: the garbage collector's young
 * generation is sized by what survives, and the server's scavenges cost more
 * (see the README: the real ratio is lower than this one).
 *
 * ```
 * taskset -c 0 deno run -A tests/bench/record_cpu.ts                 # 9 rounds of 100,000
 * taskset -c 0 deno run -A tests/bench/record_cpu.ts --rounds 15 --requests 200000
 * ```
 *
 * With `--old PATH` (an older `inspector/store.ts`, e.g. in a worktree of an
 * older commit), that store is one more contender. With `--base DIR` (a
 * copy of an older commit, e.g. `git archive HEAD~3 | tar -x -C DIR`), its
 * gateway alone and with its store are two more, so that a change to either
 * side of the seam is measured in the same run.
 *
 * `seam`, `copy`, `minimal` and `framed` are the ceiling recorders of
 * `ceiling_recorders.ts`: the recording seam alone (a recorder that records
 * nothing), a recorder that only copies the heads and bodies into a
 * preallocated ring (no recorder that keeps the exchange can be cheaper),
 * and one that also keeps each event's time and the environ's snapshot, as
 * the design asks (no recorder that keeps what the design asks for can be
 * cheaper).
 *
 * @module
 */

import process from "node:process";
import v8 from "node:v8";
import { parseArgs } from "node:util";
import { toFetch } from "../../server/gateway.ts";
import type { Recorder } from "../../server/recorder.ts";
import { ExchangeStore } from "../../inspector/store.ts";
import { application } from "../../examples/hello.ts";
import { median } from "./_bench.ts";
import {
  CopyRecorder,
  FramedRecorder,
  MinimalRecorder,
  seamRecorder,
} from "./ceiling_recorders.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "9" },
    requests: { type: "string", default: "100000" },
    old: { type: "string" },
    base: { type: "string" },
  },
});
const rounds = Number(values.rounds);
const n = Number(values.requests);

const quiet = { write() {}, flush() {} };
type Info = { remoteAddr: { transport: "tcp"; hostname: string; port: number } };
const requests = Array.from(
  { length: 100 },
  (_, i) => new Request(`http://127.0.0.1:8000/p${i}`, { headers: { host: "127.0.0.1:8000" } }),
);
const peers: Info[] = Array.from(
  { length: 50 },
  (_, i) => ({ remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 40000 + i } }),
);

const contenders: [string, (r: Request, i: Info) => Promise<Response>][] = [
  ["gateway", toFetch(application, { errors: quiet, log: () => {} })],
  ["seam", toFetch(application, { errors: quiet, log: () => {}, recorder: seamRecorder })],
  [
    "copy",
    toFetch(application, { errors: quiet, log: () => {}, recorder: new CopyRecorder() }),
  ],
  [
    "minimal",
    toFetch(application, { errors: quiet, log: () => {}, recorder: new MinimalRecorder() }),
  ],
  [
    "framed",
    toFetch(application, { errors: quiet, log: () => {}, recorder: new FramedRecorder() }),
  ],
  [
    "copy-env",
    toFetch(application, {
      errors: quiet,
      log: () => {},
      recorder: new CopyRecorder(1 << 20, true),
    }),
  ],
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

if (values.base) {
  const root = new URL(values.base.replace(/\/?$/, "/"), `file://${Deno.cwd()}/`).href;
  const { toFetch: baseToFetch } = await import(new URL("server/gateway.ts", root).href);
  const { ExchangeStore: BaseStore } = await import(new URL("inspector/store.ts", root).href);
  contenders.push(
    ["base gw", baseToFetch(application, { errors: quiet, log: () => {} })],
    [
      "base insp",
      baseToFetch(application, { errors: quiet, log: () => {}, recorder: new BaseStore() }),
    ],
  );
}

let sink = 0;
async function run(handler: (r: Request, i: Info) => Promise<Response>, count: number) {
  for (let i = 0; i < count; i++) {
    sink += (await (await handler(requests[i % 100]!, peers[i % 50]!)).arrayBuffer()).byteLength;
  }
}

/** Bytes V8 allocated so far. */
const allocated = () =>
  (v8.getHeapStatistics() as unknown as { total_allocated_bytes: number }).total_allocated_bytes;

for (const [, handler] of contenders) await run(handler, 20_000);
const results = new Map<string, number[]>(contenders.map(([name]) => [name, []]));
const bytes = new Map<string, number[]>(contenders.map(([name]) => [name, []]));
for (let round = 0; round < rounds; round++) {
  for (const [name, handler] of contenders) {
    const before = process.cpuUsage();
    const a = allocated();
    await run(handler, n);
    const used = process.cpuUsage(before);
    bytes.get(name)!.push((allocated() - a) / n);
    results.get(name)!.push((used.user + used.system) / n);
  }
}
const base = median(results.get("gateway")!);
console.log(`CPU µs per request, median of ${rounds} alternated rounds of ${n}:`);
for (const [name, times] of results) {
  console.log(
    `  ${name.padEnd(10)} ${median(times).toFixed(3)}  (${Math.min(...times).toFixed(3)}-${
      Math.max(...times).toFixed(3)
    })  gateway/${name}: ${(base / median(times)).toFixed(3)}  ${
      median(bytes.get(name)!).toFixed(0)
    } bytes allocated`,
  );
}
if (sink === 0) console.log("(nothing read)");
