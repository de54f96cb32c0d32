/**
 * Memory of the CLI with the inspector recording, under a long run: the
 * resident set of the server process after each batch of requests.
 *
 * Starts `deno run -A mod.ts --port 0 --inspector-port 0` (the inspector on,
 * its defaults: the last 1000 exchanges, 1 MiB of body per exchange and
 * stream, 64 MiB of records in all), and prints the server's `VmRSS` (from
 * `/proc/PID/status`, summed over the CLI's process tree: the supervisor,
 * which holds the inspector's store, its app process and the standby that
 * waits for a reload) after startup, after a warm-up, and after each batch,
 * with the supervisor's own, how many exchanges the inspector holds, how many
 * it recorded in all (all of them: an app process holds requests back while
 * the supervisor is behind, `server/dev/child.ts`; fewer only when the
 * supervisor is stuck) and the bytes of records it keeps (each read a second
 * after the batch, when the records have arrived), and how fast the batch
 * was served: requests a second, and CPU µs a request of the whole tree and
 * of the supervisor alone. Two scenarios:
 *
 * - `hello` (the default): `--requests` hello-world requests (100,000 by
 *   default) over keep-alive connections, `--batches` times (2 by default:
 *   after 100,000 and after 200,000). Once the store is full the figure
 *   should stay flat.
 * - `bodies`: `examples`-style echo app (`echo_app.ts`), `--requests` POSTs
 *   (1000 by default) of `--body-kib` KiB (100) each, answered back: 200 KiB
 *   of body per exchange, far past the memory budget, so the store keeps
 *   what fits and drops the oldest. The goal: RSS within the budget
 *   plus 60 MiB.
 *
 * ```
 * deno run -A tests/bench/memory.ts
 * deno run -A tests/bench/memory.ts --requests 100000 --batches 4 --connections 32
 * deno run -A tests/bench/memory.ts --no-inspector     # the same without recording
 * deno run -A tests/bench/memory.ts --scenario bodies  # 1000 exchanges of 100 KiB each way
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  cpuSeconds,
  haveTaskset,
  processTree,
  ROOT,
  rssKiB,
  shellQuote,
  startServer,
  treeCpuSeconds,
} from "./_bench.ts";

/** Resident memory of a process and its descendants, in KiB. */
async function treeRssKiB(pid: number): Promise<number> {
  let total = 0;
  for (const p of await processTree(pid)) total += await rssKiB(p).catch(() => 0);
  return total;
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    scenario: { type: "string", default: "hello" },
    requests: { type: "string" },
    batches: { type: "string" },
    "body-kib": { type: "string", default: "100" },
    connections: { type: "string", default: "32" },
    "no-inspector": { type: "boolean", default: false },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(
    "Usage: deno run -A tests/bench/memory.ts [--scenario hello|bodies] [--requests N] [--batches N]\n" +
      "  [--body-kib N] [--connections N] [--no-inspector]",
  );
  Deno.exit(0);
}
function positive(flag: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`error: --${flag} must be a positive integer (got ${JSON.stringify(value)})`);
    Deno.exit(2);
  }
  return n;
}
const scenario = values.scenario;
if (scenario !== "hello" && scenario !== "bodies") {
  console.error(`error: --scenario must be hello or bodies (got ${JSON.stringify(scenario)})`);
  Deno.exit(2);
}
const bodies = scenario === "bodies";
const requests = positive("requests", values.requests ?? (bodies ? "1000" : "100000"));
const batches = positive("batches", values.batches ?? (bodies ? "1" : "2"));
const connections = positive("connections", values.connections);
const bodyBytes = positive("body-kib", values["body-kib"]) * 1024;

const pin = await haveTaskset();

/**
 * Sends `n` requests over `connections` keep-alive connections (a pool of
 * `fetch` clients, each sending its next request once it has read the
 * previous response) and returns how many were answered 200.
 */
async function send(url: string, n: number): Promise<number> {
  let next = 0;
  let ok = 0;
  const body = bodies ? new Uint8Array(bodyBytes).map((_, i) => (i * 7919) & 0xff) : undefined;
  await Promise.all(Array.from({ length: Math.min(connections, n) }, async () => {
    while (next < n) {
      next++;
      const response = await fetch(url, body && { method: "POST", body });
      await response.arrayBuffer();
      if (response.status === 200) ok++;
    }
  }));
  if (ok < n) console.log(`warning: ${n - ok} of ${n} responses were not 200`);
  return n;
}

const inspector = !values["no-inspector"];
const args = ["run", "-A", "mod.ts", "--port", "0", "--inspector-port", "0"];
if (bodies) args.splice(3, 0, "tests/bench/echo_app.ts");
if (!inspector) args.push("--no-inspector");
const server = await startServer({ name: "cli", args }, {
  core: pin ? 0 : undefined,
  lifetime: 600 + batches * 120,
  logFile: "/dev/null",
});
const inspectorUrl = server.stdout().match(/Inspector on (http:\/\/\S+)/)?.[1];

/** Exchanges kept, exchanges recorded in all (the newest one's id), and the bytes of records kept. */
async function kept(): Promise<[string, string, string]> {
  if (!inspectorUrl) return ["-", "-", "-"];
  // Records reach the supervisor a moment after the answers: let them.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const url = new URL("/api/exchanges?limit=1", inspectorUrl);
  const response = await fetch(url, { headers: { origin: url.origin } });
  if (!response.ok) {
    await response.body?.cancel();
    return [`? (${response.status})`, "?", "?"];
  }
  const list = await response.json() as {
    total?: number;
    exchanges?: { id: string }[];
    memory?: { used: number };
  };
  return [
    String(list.total ?? "?"),
    list.exchanges?.[0]?.id ?? "0",
    list.memory ? `${(list.memory.used / 1024 / 1024).toFixed(1)} MiB` : "?",
  ];
}

const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
/** The process tree's resident memory, and the supervisor's alone. */
async function rss(): Promise<[string, string]> {
  return [mib(await treeRssKiB(server.denoPid)), mib(await rssKiB(server.denoPid))];
}
const rows: string[][] = [[
  "after",
  "requests",
  "VmRSS",
  "supervisor",
  "kept",
  "recorded",
  "records",
  "req/s",
  "CPU/req",
  "sup. CPU/req",
]];
/**
 * Sends `n` requests; the count, how many a second were answered, and the
 * CPU time of the server's tree and of the supervisor per request, in µs
 * (those two mean more than req/s on a machine that others load).
 */
async function timed(n: number): Promise<[number, string, string, string]> {
  const pid = server.denoPid;
  const [tree0, sup0] = [await treeCpuSeconds(pid), await cpuSeconds(pid)];
  const t0 = performance.now();
  await send(server.url, n);
  const rate = (n / ((performance.now() - t0) / 1000)).toFixed(0);
  // Records still on their way to the supervisor: counted with the batch.
  await new Promise((resolve) => setTimeout(resolve, 500));
  const perRequest = (seconds: number) => (seconds / n * 1e6).toFixed(0);
  return [
    n,
    rate,
    perRequest(await treeCpuSeconds(pid) - tree0),
    perRequest(await cpuSeconds(pid) - sup0),
  ];
}
try {
  rows.push(["startup", "0", ...await rss(), ...await kept(), "-", "-", "-"]);
  let [total, ...speed] = await timed(bodies ? 50 : 5000);
  rows.push(["warm-up", String(total), ...await rss(), ...await kept(), ...speed]);
  for (let b = 1; b <= batches; b++) {
    const [n, ...speed] = await timed(requests);
    total += n;
    const recorded = await kept();
    rows.push([`batch ${b}`, String(total), ...await rss(), ...recorded, ...speed]);
    console.log(rows.at(-1)!.join("  "));
  }
} finally {
  await server.stop();
}

console.log();
const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
for (const row of rows) console.log(row.map((c, i) => c.padStart(widths[i]!)).join("  "));
console.log(
  `\nserver: ${server.command}\ncommand: ${
    ["deno", "run", "-A", "tests/bench/memory.ts", ...Deno.args].map(shellQuote).join(" ")
  }   (in ${ROOT})`,
);
if (inspector && !inspectorUrl) {
  console.log("note: the CLI printed no inspector URL: the inspector is not wired in");
}
