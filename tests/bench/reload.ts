/**
 * Save-to-served time, and what reloads cost in memory.
 *
 * Starts the CLI as users run it (reload on, inspector recording) on a hello
 * app in a temporary folder, then edits the app's file `--edits` times (10 by
 * default, `--pause` ms apart, 1000 by default: a person saves less often): each
 * time, the time from the write to the first response that carries the new text
 * (polled every 2 ms). Then, with `--reloads N` (100 by
 * default, 0 to skip), two rounds of N more edits, each waited for, and the
 * supervisor's resident memory (and the whole process tree's) before and after
 * each round: the first round also fills the inspector's store with the
 * polling requests, the second shows what a reload costs by itself.
 *
 * ```
 * deno run -A tests/bench/reload.ts
 * deno run -A tests/bench/reload.ts --edits 20 --reloads 0
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { median, ROOT, rssKiB } from "./_bench.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    edits: { type: "string", default: "10" },
    reloads: { type: "string", default: "100" },
    pause: { type: "string", default: "1000" },
  },
});
const edits = Number(values.edits);
const reloads = Number(values.reloads);
const pause = Number(values.pause);
/** Waits for retired generations to exit before measuring. */
const GRACE = 1000;

const dir = await Deno.makeTempDir({ prefix: "wsgi-reload-" });
const app = `${dir}/app.ts`;
const source = (marker: string) =>
  `export const application = (_environ: unknown, start_response: (s: string, h: [string, string][]) => void) => {
  start_response("200 OK", [["Content-Type", "text/html"]]);
  return [new TextEncoder().encode("<h1>Hello,web</h1><!--${marker}-->")];
};
`;
await Deno.writeTextFile(app, source("start"));

const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", `${ROOT}mod.ts`, "app.ts", "--port", "0", "--inspector-port", "0", "--quiet"],
  cwd: dir,
  stdout: "piped",
  stderr: "inherit",
  stdin: "null",
}).spawn();
let out = "";
const reading = (async () => {
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) out += decoder.decode(chunk, { stream: true });
})();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Every pid in the process tree under `pid` (children of children too). */
function tree(pid: number): number[] {
  const all: number[] = [pid];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
      const cmd = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`);
      if (cmd.includes(dir) || cmd.includes("wsgi-dev-")) {
        const n = Number(entry.name);
        if (n !== pid && stat) all.push(n);
      }
    } catch { /* gone */ }
  }
  return all;
}

async function treeRss(pid: number): Promise<number> {
  let total = 0;
  for (const p of tree(pid)) total += await rssKiB(p).catch(() => 0);
  return total;
}

try {
  const deadline = Date.now() + 30_000;
  while (!/Serving HTTP on (\S+)/.test(out)) {
    if (Date.now() > deadline) throw new Error(`the CLI did not start:\n${out}`);
    await sleep(20);
  }
  const url = out.match(/Serving HTTP on (\S+)/)![1]!;
  const served = async (marker: string, limit = 10_000): Promise<number> => {
    const t0 = performance.now();
    for (;;) {
      try {
        const text = await (await fetch(url)).text();
        if (text.includes(marker)) {
          return performance.now() - t0;
        }
      } catch { /* between generations */ }
      if (performance.now() - t0 > limit) throw new Error(`${marker} never served`);
      await sleep(2);
    }
  };
  await served("start");
  const times: number[] = [];
  for (let i = 1; i <= edits; i++) {
    await sleep(pause);
    const marker = `edit-${i}`;
    const t0 = performance.now();
    await Deno.writeTextFile(app, source(marker));
    await served(marker);
    times.push(performance.now() - t0);
  }
  const logged = [...out.matchAll(/reloaded \(.*\) in (\d+) ms/g)].map((m) => Number(m[1]));
  console.log(
    `save-to-served over ${edits} edits: median ${median(times).toFixed(0)} ms (min ${
      Math.min(...times).toFixed(0)
    }, max ${Math.max(...times).toFixed(0)}); each: ${times.map((t) => t.toFixed(0)).join(" ")}`,
  );
  console.log(`the log's "reloaded ... in N ms": median ${median(logged)} ms`);
  if (reloads > 0) {
    // Two rounds of N reloads: the first also fills the inspector's store (every poll is an
    // exchange it records, up to --max-exchanges), the second shows what a reload itself costs.
    let rss = await rssKiB(child.pid);
    let treeKiB = await treeRss(child.pid);
    let done = edits;
    for (let round = 1; round <= 2; round++) {
      for (let i = 1; i <= reloads; i++) {
        const marker = `reload-${round}-${i}`;
        await Deno.writeTextFile(app, source(marker));
        await served(marker);
        await sleep(50);
      }
      await sleep(GRACE);
      const rssN = await rssKiB(child.pid);
      const treeN = await treeRss(child.pid);
      console.log(
        `round ${round}: supervisor RSS after ${done} reloads ${
          (rss / 1024).toFixed(1)
        } MiB, after ${done + reloads} ${(rssN / 1024).toFixed(1)} MiB: ${
          ((rssN - rss) / reloads).toFixed(0)
        } KiB per reload; ` +
          `process tree ${(treeKiB / 1024).toFixed(1)} -> ${(treeN / 1024).toFixed(1)} MiB (${
            tree(child.pid).length
          } processes)`,
      );
      rss = rssN;
      treeKiB = treeN;
      done += reloads;
    }
  }
} finally {
  child.kill("SIGTERM");
  await child.status;
  await reading;
  await Deno.remove(dir, { recursive: true });
}
