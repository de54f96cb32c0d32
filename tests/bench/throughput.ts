/**
 * Hello-world throughput of the CLI, as users run it, against baselines
 * measured in the same run.
 *
 * Contenders, in this order in every round:
 *
 * - `raw`: `Deno.serve` answering the constant hello page (`raw_server.ts`);
 * - `floor`: the same, after the reads every PEP 3333 gateway must make
 *   (method, target, every header, the peer's address) (`floor_server.ts`);
 * - `app`: the floor plus a call of `examples/hello.ts` itself, whose output
 *   is dropped (`app_server.ts`): what the application costs by itself, so
 *   the ceiling of any gateway that serves it;
 * - `pep3333`: the *gateway ceiling*, the least a PEP 3333 gateway must do
 *   to serve that app: its environ, `start_response`, the chunks joined and
 *   sent (`pep3333_server.ts`); no log, clock, limits or error page, so
 *   `pep3333/app` bounds `gateway/app`;
 * - `pep3333log`: the same, plus the request log line written as the gateway
 *   writes it (`--log`): the ceiling of a gateway that logs every request;
 * - `pep3333rec`: `pep3333log` recording each exchange inline, no seam
 *   (`--log --record`): `pep3333rec/pep3333log` bounds `inspector/gateway`;
 * - `gateway`: the gateway in one process (`inprocess_server.ts`), serving
 *   `examples/hello.ts` with the request log on (stderr to a file);
 * - `nolog`: the same without the request log (`--no-log`): what the log
 *   costs;
 * - `inspector`: the same with the inspector recording
 *   (`inprocess_server.ts --record`);
 * - `seam`: the gateway with the recording seam on and a recorder that does
 *   nothing (`inprocess_server.ts --recorder seam`): what recording costs the
 *   gateway before any recorder does anything;
 * - `copy`: the gateway with the ceiling recorder, which only copies the
 *   request head, the response head and the body bytes into a preallocated
 *   ring (`inprocess_server.ts --recorder copy`, `ceiling_recorders.ts`): no
 *   recorder that keeps the exchange can beat it, so `copy/gateway` is the
 *   ceiling of `inspector/gateway`, as `app` is the gateway's;
 * - `minimal`: `copy`, plus what the design also asks to keep: each event's
 *   type and time, and the environ's snapshot (written by the store's own
 *   environ writer); no frames, index or eviction (`--recorder minimal`):
 *   the ceiling of any recorder that keeps what the design asks for;
 * - `framed`: `minimal`, plus what issue 9 asks of a store, each in its
 *   cheapest form: a self-contained frame per event, a slot per exchange
 *   for the list, the oldest dropped beyond 1000 (`--recorder framed`): the
 *   ceiling of any store that keeps what the issue asks for;
 * - `dev`: the CLI as users run it, `deno run -A mod.ts --port 0`: the
 *   supervisor and one app process, reload and timeouts on, recording (its
 *   CPU time is the process tree's).
 *
 * wrk runs on loopback with the same threads, connections and duration for
 * every contender; the servers are pinned to one core and wrk to the other
 * (`taskset`); rounds alternate the contenders rather than running one block
 * each, because these 2-core machines are shared and one round can be off by
 * a third. The report gives the median req/s of each contender and the median
 * of the per-round ratios.
 *
 * ```
 * deno task bench                                # 5 rounds of 10 s
 * deno task bench --rounds 3 --duration 3        # a quick look
 * deno task bench --only floor,gateway           # some contenders only
 * deno task bench --fresh                        # new server processes every round
 * deno task bench --fresh --duration 4 --slices 4 # and the servers' turns alternated each second
 * deno task bench --server mine=tests/bench/x.ts # one more contender
 * deno task bench --server "old=../old/mod.ts --port 0 --no-inspector"
 * ```
 *
 * Flags: `--rounds N` (5), `--duration S` (10), `--warmup S` (3),
 * `--connections N` (50), `--threads N` (1), `--server-core N` (0),
 * `--client-core N` (1), `--only a,b`, `--fresh` (each round starts every
 * contender anew and warms it up, all before measuring any: a process's
 * luck then varies round by round instead of staying for the whole run), `--slices N` (1: each
 * server's `--duration` in N turns that alternate the servers, so that a
 * change of the machine's speed within a round falls on all alike),
 * `--server "NAME=FILE [ARGS]"` (repeatable;
 * the server must print `http://127.0.0.1:PORT` on stdout).
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type Contender,
  ensureWrk,
  haveTaskset,
  median,
  ROOT,
  type RunningServer,
  runWrk,
  sh,
  shellQuote,
  startServer,
  treeCpuSeconds,
  wrkArgs,
} from "./_bench.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "5" },
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "3" },
    connections: { type: "string", default: "50" },
    threads: { type: "string", default: "1" },
    "server-core": { type: "string", default: "0" },
    "client-core": { type: "string", default: "1" },
    only: { type: "string" },
    fresh: { type: "boolean", default: false },
    slices: { type: "string", default: "1" },
    server: { type: "string", multiple: true, default: [] },
    help: { type: "boolean", short: "h" },
  },
});

if (values.help) {
  console.log(
    "Usage: deno task bench [--rounds N] [--duration S] [--warmup S] [--connections N]\n" +
      "  [--threads N] [--server-core N] [--client-core N] [--fresh] [--slices N] [--only raw,floor,app,pep3333,pep3333log,pep3333rec,gateway,nolog,inspector,seam,copy,minimal,framed,dev]\n" +
      "  [--server NAME=FILE.ts ...]",
  );
  Deno.exit(0);
}

function positive(flag: string, value: string, min = 1): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    console.error(`error: --${flag} must be an integer >= ${min} (got ${JSON.stringify(value)})`);
    Deno.exit(2);
  }
  return n;
}

const rounds = positive("rounds", values.rounds);
const duration = positive("duration", values.duration);
const warmup = positive("warmup", values.warmup, 0);
const connections = positive("connections", values.connections);
const threads = positive("threads", values.threads);
const serverCore = positive("server-core", values["server-core"], 0);
const clientCore = positive("client-core", values["client-core"], 0);
const fresh = values.fresh;
const slices = positive("slices", values.slices);
if (duration % slices !== 0) {
  console.error(
    `error: --slices must divide --duration into whole seconds (got ${slices} for ${duration} s)`,
  );
  Deno.exit(2);
}

const contenders: Contender[] = [
  { name: "raw", args: ["run", "-A", "tests/bench/raw_server.ts"] },
  { name: "floor", args: ["run", "-A", "tests/bench/floor_server.ts"] },
  { name: "app", args: ["run", "-A", "tests/bench/app_server.ts"] },
  { name: "pep3333", args: ["run", "-A", "tests/bench/pep3333_server.ts"] },
  { name: "pep3333log", args: ["run", "-A", "tests/bench/pep3333_server.ts", "--log"] },
  {
    name: "pep3333rec",
    args: ["run", "-A", "tests/bench/pep3333_server.ts", "--log", "--record"],
  },
  { name: "gateway", args: ["run", "-A", "tests/bench/inprocess_server.ts"] },
  { name: "nolog", args: ["run", "-A", "tests/bench/inprocess_server.ts", "--no-log"] },
  { name: "inspector", args: ["run", "-A", "tests/bench/inprocess_server.ts", "--record"] },
  { name: "seam", args: ["run", "-A", "tests/bench/inprocess_server.ts", "--recorder", "seam"] },
  { name: "copy", args: ["run", "-A", "tests/bench/inprocess_server.ts", "--recorder", "copy"] },
  {
    name: "minimal",
    args: ["run", "-A", "tests/bench/inprocess_server.ts", "--recorder", "minimal"],
  },
  {
    name: "framed",
    args: ["run", "-A", "tests/bench/inprocess_server.ts", "--recorder", "framed"],
  },
  { name: "dev", args: ["run", "-A", "mod.ts", "--port", "0", "--inspector-port", "0"] },
];
for (const spec of values.server) {
  const eq = spec.indexOf("=");
  if (eq < 1) {
    console.error(`error: --server must be NAME=FILE.ts (got ${JSON.stringify(spec)})`);
    Deno.exit(2);
  }
  // "NAME=FILE.ts --flag value": the file and its arguments, split at spaces.
  contenders.push({
    name: spec.slice(0, eq),
    args: ["run", "-A", ...spec.slice(eq + 1).split(/\s+/)],
  });
}
const only = values.only?.split(",").map((s) => s.trim()).filter(Boolean);
const chosen = only ? contenders.filter((c) => only.includes(c.name)) : contenders;
if (chosen.length === 0) {
  console.error(`error: --only names no contender (have ${contenders.map((c) => c.name)})`);
  Deno.exit(2);
}

await ensureWrk();
const pin = await haveTaskset();
if (!pin) console.error("warning: taskset is missing; nothing is pinned");
const wrkVersion = (await sh("wrk", ["-v"])).out.split("\n")[0]?.trim() ?? "";

const tmp = await Deno.makeTempDir({ prefix: "wsgi-bench-" });
const lifetime =
  chosen.length * (warmup + rounds * (duration + 3 * slices + (fresh ? warmup + 5 : 0))) +
  120;
const servers: RunningServer[] = [];
let stopping = false;
async function stopAll(): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all(servers.map((s) => s.stop()));
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
const onSignal = async () => {
  await stopAll();
  Deno.exit(130);
};
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);

/** Counts the lines of a file (the request log), then empties it. */
async function drainLog(path: string): Promise<number> {
  let lines = 0;
  using file = await Deno.open(path, { read: true });
  for await (const chunk of file.readable) {
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) lines++;
  }
  await Deno.truncate(path, 0);
  return lines;
}

const loadBefore = (await Deno.readTextFile("/proc/loadavg").catch(() => "")).trim();
const results = new Map<string, number[]>(chosen.map((c) => [c.name, []]));
/** Server CPU time per request (user + system), in microseconds, per round. */
const cpuPerRequest = new Map<string, number[]>(chosen.map((c) => [c.name, []]));
const notes: string[] = [];
/** Starts contender `c` and checks that it answers the hello page. */
async function launch(c: Contender): Promise<RunningServer> {
  const server = await startServer(c, {
    core: pin ? serverCore : undefined,
    lifetime,
    logFile: `${tmp}/${c.name}.log`,
  });
  servers.push(server);
  const response = await fetch(server.url);
  const body = await response.text();
  if (
    response.status !== 200 || body !== "<h1>Hello,web</h1>" ||
    response.headers.get("content-type") !== "text/html"
  ) {
    throw new Error(
      `${c.name} answered ${response.status} ${response.headers.get("content-type")} ${
        JSON.stringify(body)
      }, not the hello page`,
    );
  }
  if (c.name === "dev" && !/Inspector on/.test(server.stdout())) {
    notes.push(
      "the CLI printed no inspector URL: the inspector is not wired yet, so `inspector` is the same as `gateway`",
    );
  }
  return server;
}

/** Stops a server started by {@linkcode launch}. */
async function halt(server: RunningServer): Promise<void> {
  servers.splice(servers.indexOf(server), 1);
  await server.stop();
}

const wrkOptions = {
  threads,
  connections,
  duration,
  core: pin ? clientCore : undefined,
};

async function warm(server: RunningServer): Promise<void> {
  if (warmup === 0) return;
  await runWrk(server.url, { ...wrkOptions, duration: warmup });
  await drainLog(server.logFile);
}

/** What one contender did in one round, summed over its slices. */
interface Tally {
  requests: number;
  seconds: number;
  cpu: number;
}

/** One slice of a round: wrk against `s` for `seconds`, added to its tally. */
async function slice(
  s: RunningServer,
  tally: Tally,
  seconds: number,
  round: number,
): Promise<void> {
  const cpu0 = await treeCpuSeconds(s.denoPid);
  const r = await runWrk(s.url, { ...wrkOptions, duration: seconds });
  const cpu1 = await treeCpuSeconds(s.denoPid);
  tally.requests += r.requests;
  tally.seconds += r.rps > 0 ? r.requests / r.rps : seconds;
  tally.cpu += cpu1 - cpu0;
  const logged = await drainLog(s.logFile);
  if (r.errors > 0) notes.push(`round ${round}: ${s.contender.name} had ${r.errors} errors`);
  const logging = s.contender.args.some((a) => /mod\.ts$|inprocess_server\.ts$/.test(a)) &&
    !s.contender.args.includes("--quiet") && !s.contender.args.includes("--no-log");
  if (logging && logged < r.requests * 0.99) {
    notes.push(
      `round ${round}: ${s.contender.name} logged ${logged} lines for ${r.requests} requests`,
    );
  }
}

/**
 * One round: each server measured for `duration` seconds, in `slices`
 * turns that alternate the servers (A B C A B C ...), so that a change of
 * the machine's speed within the round falls on all of them alike. Returns
 * the round's line of req/s.
 */
async function measureRound(these: RunningServer[], round: number): Promise<string[]> {
  const tallies = these.map(() => ({ requests: 0, seconds: 0, cpu: 0 }));
  for (let k = 0; k < slices; k++) {
    for (let i = 0; i < these.length; i++) {
      await slice(these[i]!, tallies[i]!, duration / slices, round);
    }
  }
  return these.map((s, i) => {
    const t = tallies[i]!;
    const rps = t.requests / t.seconds;
    results.get(s.contender.name)!.push(rps);
    cpuPerRequest.get(s.contender.name)!.push(t.cpu * 1e6 / t.requests);
    return rps.toFixed(0).padStart(10);
  });
}

try {
  // With --fresh, every round starts each contender anew: a process's own
  // luck (where its JIT and allocator put things) then varies round by round,
  // as the rounds' medians assume, instead of staying with the contender for
  // the whole run. All of a round's servers are started and warmed first and
  // then measured back to back (idle servers cost nothing), so that the
  // round's ratios span seconds of the machine's time, not minutes.
  const running: RunningServer[] = [];
  if (!fresh) {
    for (const c of chosen) running.push(await launch(c));
    for (const s of running) await warm(s);
  }
  console.log(`round  ${chosen.map((c) => c.name.padStart(10)).join(" ")}   (req/s)`);
  for (let round = 1; round <= rounds; round++) {
    let these = running;
    if (fresh) {
      these = [];
      for (const c of chosen) these.push(await launch(c));
      for (const s of these) await warm(s);
    }
    const line = await measureRound(these, round);
    if (fresh) { for (const s of these) await halt(s); }
    console.log(`${String(round).padStart(5)}  ${line.join(" ")}`);
  }
} finally {
  await stopAll();
}
const loadAfter = (await Deno.readTextFile("/proc/loadavg").catch(() => "")).trim();
// A round where a contender fell far below its median was disturbed (by a
// neighbour on this shared machine): the medians leave it out, but say so.
for (const [name, xs] of results) {
  const m = median(xs);
  xs.forEach((x, i) => {
    if (x < 0.6 * m) {
      notes.push(
        `round ${i + 1} looks disturbed: ${name} at ${(100 * x / m).toFixed(0)}% of its median`,
      );
    }
  });
}

const names = chosen.map((c) => c.name);
console.log("\nmedian req/s (min-max), and the server's median CPU time per request:");
for (const name of names) {
  const xs = results.get(name)!;
  const cpu = median(cpuPerRequest.get(name)!);
  console.log(
    `  ${name.padEnd(10)} ${median(xs).toFixed(0).padStart(8)}  (${Math.min(...xs).toFixed(0)}-${
      Math.max(...xs).toFixed(0)
    })  ${cpu.toFixed(2)} µs/req`,
  );
}

function ratio(a: string, b: string): void {
  const xs = results.get(a);
  const ys = results.get(b);
  if (!xs || !ys) return;
  const per = xs.map((x, i) => x / ys[i]!);
  const cx = cpuPerRequest.get(a)!;
  const cy = cpuPerRequest.get(b)!;
  const cpu = median(cx.map((x, i) => cy[i]! / x));
  console.log(
    `  ${`${a}/${b}`.padEnd(18)} ${median(per).toFixed(3)}   (by CPU per request ${
      cpu.toFixed(3)
    })   per round: ${per.map((r) => r.toFixed(3)).join(" ")}`,
  );
}
console.log("\nmedian of per-round ratios of req/s:");
ratio("gateway", "floor");
ratio("gateway", "raw");
ratio("floor", "raw");
ratio("inspector", "floor");
ratio("inspector", "raw");
ratio("inspector", "gateway");
ratio("app", "floor");
ratio("gateway", "app");
ratio("inspector", "app");
ratio("pep3333", "app");
ratio("gateway", "pep3333");
ratio("nolog", "pep3333");
ratio("pep3333log", "app");
ratio("gateway", "pep3333log");
ratio("pep3333rec", "pep3333log");
ratio("inspector", "pep3333rec");
ratio("gateway", "nolog");
ratio("seam", "gateway");
ratio("copy", "gateway");
ratio("minimal", "gateway");
ratio("inspector", "copy");
ratio("inspector", "minimal");
ratio("framed", "gateway");
ratio("framed", "minimal");
ratio("inspector", "framed");
ratio("inspector", "seam");
ratio("dev", "inspector");
ratio("dev", "gateway");
const standard = [
  "raw",
  "floor",
  "app",
  "pep3333",
  "pep3333log",
  "pep3333rec",
  "gateway",
  "nolog",
  "inspector",
  "seam",
  "copy",
  "minimal",
  "framed",
  "copy-environ",
  "dev",
];
for (const name of names.filter((n) => !standard.includes(n))) {
  ratio(name, "floor");
  ratio(name, "raw");
  ratio(name, "gateway");
}
const cmd = ["deno", "run", "-A", "tests/bench/throughput.ts", ...Deno.args].map(shellQuote)
  .join(" ");
console.log(`\ncommand: ${cmd}   (in ${ROOT})`);
console.log(
  `wrk:     ${
    [
      ...(pin ? ["taskset", "-c", String(clientCore)] : []),
      ...wrkArgs("URL", { threads, connections, duration: duration / slices }),
    ].join(" ")
  }`,
);
for (const s of servers) {
  console.log(`${s.contender.name.padEnd(9)}: ${s.command.replace(tmp, "$TMP")}`);
}
console.log(`${Deno.version.deno}; ${wrkVersion}; load ${loadBefore} -> ${loadAfter}`);
for (const note of new Set(notes)) console.log(`note: ${note}`);
