/**
 * The comparison table: the seed's hello application served by raw
 * `Deno.serve` (the limit), by this project's CLI (inspector off, recording,
 * dev mode), and by the Python servers a WSGI developer knows (wsgiref,
 * Werkzeug, gunicorn), all measured in one run with the same wrk settings.
 *
 * ```
 * deno task bench:peers                          # every section, 3 rounds of 5 s
 * deno task bench:peers --rounds 5 --duration 10
 * deno task bench:peers --only throughput        # or streaming, latency
 * ```
 *
 * Sections:
 *
 * - **throughput**: every row serves the hello page to wrk (`--latency`), rows
 *   alternated round by round, medians; req/s, p50 and p99 latency, peak RSS
 *   (the sum of each process's `VmHWM`: workers count), ratio to raw. Twice:
 *   *1 core* (each server pinned to core 0 with `taskset`, wrk to core 1) and
 *   *2 cores* (nothing pinned: server and wrk share both cores, so gunicorn's
 *   two workers can use both). Every server logs each request (the log on).
 * - **streaming**: 1 GiB down and 1 GiB up (read with `read(65536)` and with
 *   `read()`): raw `Deno.serve`, the gateway recording in one process, the
 *   CLI with `--no-inspector` and recording; MiB/s and its ratio to raw, CPU
 *   per GiB, peak RSS of a fresh server per transfer, and the least peak RSS
 *   the CLI can have (its RSS at rest plus what raw grows by moving the same
 *   bytes); curl is the client. About 3 minutes at 3 rounds.
 * - **latency**: p99 of the recording CLI under a moderate load, with and
 *   without the inspector page open in Chromium and its live stream attached.
 *
 * A row whose server is missing (gunicorn, Werkzeug, Chromium, a CLI flag
 * that does not exist yet) is skipped with a note. Debian's `gunicorn` and
 * `python3-werkzeug` are installed when missing. Servers listen on 127.0.0.1
 * on free ports and run under `timeout`, so they stop even if this dies.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type Contender,
  cpuSeconds,
  ensureWrk,
  haveTaskset,
  median,
  processTree,
  ROOT,
  type RunningServer,
  runWrk,
  sh,
  startServer,
  treeCpuSeconds,
  treePeakRssKiB,
  wrkArgs,
} from "./_bench.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    rounds: { type: "string", default: "3" },
    duration: { type: "string", default: "5" },
    warmup: { type: "string", default: "2" },
    connections: { type: "string", default: "50" },
    "stream-mib": { type: "string", default: "1024" },
    only: { type: "string", default: "throughput,streaming,latency" },
    help: { type: "boolean", short: "h" },
  },
});
if (values.help) {
  console.log(
    "Usage: deno task bench:peers [--rounds N] [--duration S] [--warmup S] [--connections N]\n" +
      "  [--stream-mib N] [--only throughput,streaming,latency]",
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
const streamBytes = positive("stream-mib", values["stream-mib"]) * 1024 * 1024;
const sections = new Set(values.only.split(",").map((s) => s.trim()));

const notes: string[] = [];
const note = (text: string) => {
  notes.push(text);
  console.error(`note: ${text}`);
};

// ---- what this machine has -------------------------------------------------

async function aptInstall(packages: string[]): Promise<boolean> {
  const root = Deno.uid() === 0;
  const run = (args: string[]) =>
    root ? sh("apt-get", args) : sh("sudo", ["-n", "apt-get", ...args]);
  console.error(`installing ${packages.join(" ")} with apt-get ...`);
  let r = await run(["install", "-y", ...packages]);
  if (!r.ok) {
    await run(["update"]);
    r = await run(["install", "-y", ...packages]);
  }
  return r.ok;
}

/** A python3 that has Werkzeug (Debian's, where pyenv's shadows it), else any python3. */
async function findPython(): Promise<{ python?: string; werkzeug: boolean }> {
  const candidates = ["/usr/bin/python3", "python3"];
  for (const python of candidates) {
    if ((await sh(python, ["-c", "import werkzeug.serving"])).ok) return { python, werkzeug: true };
  }
  for (const python of candidates) {
    if ((await sh(python, ["-c", "import wsgiref.simple_server"])).ok) {
      return { python, werkzeug: false };
    }
  }
  return { werkzeug: false };
}

if (!(await sh("sh", ["-c", "command -v gunicorn"])).ok || !(await findPython()).werkzeug) {
  await aptInstall(["gunicorn", "python3-werkzeug"]);
}
const { python, werkzeug } = await findPython();
const gunicorn = (await sh("sh", ["-c", "command -v gunicorn"])).ok;
const pin = await haveTaskset();
if (!pin) note("taskset is missing: the 1-core rows are not pinned");

/** The CLI's flags, read from its --help, to tell which of our rows exist yet. */
const help = (await sh(Deno.execPath(), ["run", "-A", `${ROOT}mod.ts`, "--help"])).out;
const hasFlag = (flag: string) => help.includes(flag);
const devByDefault = hasFlag("--no-reload");
const inProcess = devByDefault ? ["--no-reload"] : [];
const bodyLimit = hasFlag("--max-request-body") ? ["--max-request-body", "0"] : [];

// ---- the rows ---------------------------------------------------------------

interface Row {
  name: string;
  contender?: Contender;
  /** Why the row cannot run here. */
  skip?: string;
}

const STREAM_APP = "tests/bench/peers/stream_app.ts";
const ours = (name: string, args: string[], app = "examples/hello.ts"): Contender => ({
  name,
  args: ["run", "-A", "mod.ts", app, "--port", "0", "--inspector-port", "0", ...args],
});
const py = (name: string, kind: string): Row =>
  python === undefined ? { name, skip: "no python3" } : {
    name,
    contender: { name, cmd: python, args: ["tests/bench/peers/hello_wsgi.py", kind] },
  };

function helloRows(): Row[] {
  return [
    {
      name: "deno-raw",
      contender: { name: "deno-raw", args: ["run", "-A", "tests/bench/raw_server.ts"] },
    },
    { name: "ours-off", contender: ours("ours-off", [...inProcess, "--no-inspector"]) },
    { name: "ours-rec", contender: ours("ours-rec", inProcess) },
    devByDefault
      ? { name: "ours-dev", contender: ours("ours-dev", []) }
      : { name: "ours-dev", skip: "the CLI has no dev mode (reload) yet" },
    hasFlag("--workers")
      ? { name: "ours-dev-w2", contender: ours("ours-dev-w2", ["--workers", "2"]) }
      : { name: "ours-dev-w2", skip: "the CLI has no --workers yet" },
    py("wsgiref", "wsgiref"),
    werkzeug ? py("werkzeug", "werkzeug") : { name: "werkzeug", skip: "Werkzeug is missing" },
    gunicorn
      ? py("gunicorn-sync-w2", "gunicorn-sync")
      : { name: "gunicorn-sync-w2", skip: "gunicorn is missing" },
    gunicorn
      ? py("gunicorn-gthread-w2", "gunicorn-gthread")
      : { name: "gunicorn-gthread-w2", skip: "gunicorn is missing" },
  ];
}

// ---- running servers ---------------------------------------------------------

const tmp = await Deno.makeTempDir({ prefix: "wsgi-peers-" });
const running = new Set<RunningServer>();
async function start(c: Contender, core: number | undefined, lifetime: number) {
  const server = await startServer(c, { core, lifetime, logFile: `${tmp}/${c.name}.log` });
  running.add(server);
  // Some servers print their URL a moment before they listen (gunicorn's launcher).
  for (let i = 0;; i++) {
    try {
      const response = await fetch(server.url);
      await response.body?.cancel();
      break;
    } catch (error) {
      if (i > 100) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return server;
}
async function stop(server: RunningServer) {
  running.delete(server);
  await server.stop();
}
const onSignal = async () => {
  await Promise.all([...running].map((s) => s.stop()));
  Deno.exit(130);
};
Deno.addSignalListener("SIGINT", onSignal);
Deno.addSignalListener("SIGTERM", onSignal);

const mib = (kib: number) => (kib / 1024).toFixed(0);
const ms = (x: number | undefined) => x === undefined ? "?" : x < 10 ? x.toFixed(2) : x.toFixed(0);
const table: string[] = [];

// ---- throughput -------------------------------------------------------------

async function throughput(mode: "1 core" | "2 cores"): Promise<Map<string, number>> {
  const rows = helloRows();
  const live = rows.filter((r) => r.contender);
  for (const r of rows) if (r.skip) note(`${r.name} skipped (${mode}): ${r.skip}`);
  const serverCore = mode === "1 core" && pin ? 0 : undefined;
  const wrkCore = mode === "1 core" && pin ? 1 : undefined;
  const lifetime = live.length * (warmup + rounds * (duration + 5)) + 120;
  const servers: RunningServer[] = [];
  const rps = new Map<string, number[]>();
  const p50 = new Map<string, number[]>();
  const p99 = new Map<string, number[]>();
  const cpu = new Map<string, number[]>();
  try {
    for (const r of live) {
      const server = await start(r.contender!, serverCore, lifetime);
      const body = await (await fetch(server.url)).text();
      if (body !== "<h1>Hello,web</h1>") {
        throw new Error(`${r.name} answered ${JSON.stringify(body)}`);
      }
      servers.push(server);
      for (const m of [rps, p50, p99, cpu]) m.set(r.name, []);
    }
    const wrk = { threads: 1, connections, duration, core: wrkCore, latency: true };
    for (const s of servers) if (warmup > 0) await runWrk(s.url, { ...wrk, duration: warmup });
    for (let round = 1; round <= rounds; round++) {
      for (const s of servers) {
        const name = s.contender.name;
        const cpu0 = await treeCpuSeconds(s.denoPid);
        const r = await runWrk(s.url, wrk);
        const cpu1 = await treeCpuSeconds(s.denoPid);
        if (r.errors > 0) note(`${mode}, round ${round}: ${name} had ${r.errors} errors`);
        rps.get(name)!.push(r.rps);
        p50.get(name)!.push(r.p50 ?? NaN);
        p99.get(name)!.push(r.p99 ?? NaN);
        cpu.get(name)!.push((cpu1 - cpu0) * 1e6 / r.requests);
      }
      console.error(`${mode}: round ${round}/${rounds} done`);
    }
    const raw = median(rps.get("deno-raw") ?? [NaN]);
    table.push(
      `\n### Hello world, ${mode} (${
        mode === "1 core" ? "each server pinned to core 0, wrk to core 1" : "nothing pinned"
      })\n`,
      "| server | req/s | p50 ms | p99 ms | server CPU µs/req | peak RSS MiB | vs raw Deno.serve |",
      "|---|---:|---:|---:|---:|---:|---:|",
    );
    const medians = new Map<string, number>();
    for (const s of servers) {
      const name = s.contender.name;
      const x = median(rps.get(name)!);
      medians.set(name, x);
      table.push(
        `| ${name} | ${x.toFixed(0)} | ${ms(median(p50.get(name)!))} | ${
          ms(median(p99.get(name)!))
        } | ${median(cpu.get(name)!).toFixed(1)} | ${mib(await treePeakRssKiB(s.denoPid))} | ${
          (x / raw).toFixed(2)
        } |`,
      );
    }
    for (const r of rows) if (r.skip) table.push(`| ${r.name} | skipped: ${r.skip} | | | | | |`);
    return medians;
  } finally {
    await Promise.all(servers.map(stop));
  }
}

// ---- streaming --------------------------------------------------------------

/** One transfer by curl: wall seconds. */
async function curlSeconds(args: string[]): Promise<number> {
  const r = await sh("curl", [
    "-sS",
    "-o",
    "/dev/null",
    "-H",
    "Expect:",
    "-w",
    "%{time_total}",
    ...args,
  ]);
  if (!r.ok) throw new Error(`curl failed: ${r.err}`);
  return Number(r.out.trim());
}

/**
 * The streaming rows. Each transfer runs against a fresh server (so that its
 * peak RSS is the transfer's), contenders in a new order every round:
 *
 * - `deno-raw`: raw `Deno.serve` moving the same bytes (the limit);
 * - `inproc`: the gateway and the inspector's store in one process
 *   (`peers/inprocess_stream_server.ts --record`), what the CLI costs
 *   without its second process and channel;
 * - `ours-off`: the CLI with `--no-inspector` (supervisor and app process);
 * - `ours-rec`: the CLI recording, as users run it with `--no-reload`.
 *
 * Columns: MiB/s (median), ratio to raw (median of the rounds' ratios), the
 * server tree's CPU seconds per GiB moved, its peak RSS (the sum of each
 * process's `VmHWM`, the largest over the rounds) and its peak RSS once
 * started, before any transfer (the smallest over the rounds: a server's
 * cost at rest, which every transfer's peak includes).
 */
async function streaming(): Promise<void> {
  if (!(await sh("sh", ["-c", "command -v curl"])).ok) return note("streaming skipped: no curl");
  const upload = `${tmp}/upload.bin`;
  await Deno.truncate(upload, 0).catch(() => Deno.writeFile(upload, new Uint8Array(0)));
  await Deno.truncate(upload, streamBytes); // sparse: reading it costs no disk
  const servers: Contender[] = [
    { name: "deno-raw", args: ["run", "-A", "tests/bench/peers/raw_stream_server.ts"] },
    {
      name: "inproc",
      args: ["run", "-A", "tests/bench/peers/inprocess_stream_server.ts", "--record"],
    },
    ours("ours-off", [...inProcess, ...bodyLimit, "--no-inspector"], STREAM_APP),
    ours("ours-rec", [...inProcess, ...bodyLimit], STREAM_APP),
  ];
  const size = streamBytes >= 1 << 30 && streamBytes % (1 << 30) === 0
    ? `${streamBytes / (1 << 30)} GiB`
    : `${streamBytes >> 20} MiB`;
  const transfers = [
    { name: `${size} response`, path: `download?bytes=${streamBytes}`, up: false },
    { name: `${size} upload, read(65536)`, path: "upload?read=65536", up: true },
    { name: `${size} upload, read()`, path: "upload?read=all", up: true },
  ];
  const seconds = new Map<string, number[]>();
  const cpu = new Map<string, number[]>();
  const rss = new Map<string, number>();
  const idle = new Map<string, number>();
  const push = (m: Map<string, number[]>, key: string, x: number) =>
    m.set(key, [...m.get(key) ?? [], x]);
  const max = (m: Map<string, number>, key: string, x: number) =>
    m.set(key, Math.max(m.get(key) ?? 0, x));
  for (let round = 1; round <= rounds; round++) {
    for (const t of transfers) {
      // A new order every round: no contender always runs after the same one.
      const order = servers.map((_, i) => servers[(i + round - 1) % servers.length]!);
      for (const c of order) {
        const key = `${t.name}|${c.name}`;
        const server = await start(c, undefined, 600);
        try {
          // A moment for the tree to settle (the CLI's app process reports ready first).
          await new Promise((r) => setTimeout(r, 300));
          const rest = await treePeakRssKiB(server.denoPid);
          idle.set(c.name, Math.min(idle.get(c.name) ?? Infinity, rest));
          const url = server.url + t.path;
          const cpu0 = await treeCpuSeconds(server.denoPid);
          const s = await curlSeconds(t.up ? ["-X", "POST", "-T", upload, url] : [url]);
          const cpu1 = await treeCpuSeconds(server.denoPid);
          push(seconds, key, s);
          push(cpu, key, (cpu1 - cpu0) / (streamBytes / (1 << 30)));
          max(rss, key, await treePeakRssKiB(server.denoPid));
        } finally {
          await stop(server);
        }
      }
    }
    console.error(`streaming: round ${round}/${rounds} done`);
  }
  const rate = (key: string) => median(seconds.get(key)!.map((s) => streamBytes / 1048576 / s));
  const ratio = (t: string, name: string) => {
    const raw = seconds.get(`${t}|deno-raw`)!;
    return median(seconds.get(`${t}|${name}`)!.map((s, i) => raw[i]! / s));
  };
  table.push(
    "\n### Streaming (curl on loopback, nothing pinned; a fresh server per transfer)\n",
    "| transfer | server | MiB/s | vs raw | server CPU s/GiB | peak RSS MiB | RSS at start MiB |",
    "|---|---|---:|---:|---:|---:|---:|",
  );
  for (const t of transfers) {
    for (const c of servers) {
      const key = `${t.name}|${c.name}`;
      table.push(
        `| ${t.name} | ${c.name} | ${rate(key).toFixed(0)} | ${
          ratio(t.name, c.name).toFixed(2)
        } | ${median(cpu.get(key)!).toFixed(2)} | ${mib(rss.get(key)!)} | ${
          mib(idle.get(c.name)!)
        } |`,
      );
    }
  }
  // What the CLI's tree peaks at if its app process grows as raw Deno.serve
  // does moving the same bytes (the app's chunks, Deno's buffers, the
  // collector's slack): its two processes at rest, plus raw's growth.
  table.push("");
  for (const t of transfers) {
    const grows = rss.get(`${t.name}|deno-raw`)! - idle.get("deno-raw")!;
    const floor = idle.get("ours-off")! + grows;
    table.push(
      `- ${t.name}: raw grows by ${mib(grows)} MiB; the CLI at rest is ${
        mib(idle.get("ours-off")!)
      } MiB, so it peaks at ~${mib(floor)} MiB if its app process grows as raw does (ours-rec: ${
        mib(rss.get(`${t.name}|ours-rec`)!)
      })`,
    );
  }
}

// ---- latency with the page open -----------------------------------------------

async function latency(): Promise<void> {
  let chromium;
  try {
    chromium = (await import("playwright-core")).chromium;
    await Deno.stat("/usr/bin/chromium");
  } catch {
    return note("latency with the page open skipped: no Chromium at /usr/bin/chromium");
  }
  const server = await start(ours("ours-rec", inProcess), undefined, 600);
  const inspector = server.stdout().match(/Inspector on (http:\/\/\S+)/)?.[1];
  if (!inspector) {
    await stop(server);
    return note("latency skipped: the CLI printed no inspector URL");
  }
  const browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
  const wrk = { threads: 1, connections: 10, duration, latency: true };
  type Sample = { p99: number; rps: number; cli: number; chromium: number };
  const without: Sample[] = [];
  const withPage: Sample[] = [];
  /** One wrk run, with the CPU seconds the CLI (its process tree) and Chromium used meanwhile. */
  const sample = async (): Promise<Sample> => {
    const cli0 = await treeCpuSeconds(server.denoPid);
    const chromium0 = await chromiumCpu();
    const result = await runWrk(server.url, wrk);
    return {
      p99: result.p99 ?? NaN,
      rps: result.rps,
      cli: (await treeCpuSeconds(server.denoPid)) - cli0,
      chromium: [...await chromiumCpu()].reduce(
        (sum, [pid, cpu]) => sum + cpu - (chromium0.get(pid) ?? 0),
        0,
      ),
    };
  };
  try {
    await runWrk(server.url, { ...wrk, duration: Math.max(warmup, 1) });
    for (let round = 1; round <= rounds; round++) {
      without.push(await sample());
      const page = await browser.newPage();
      await page.goto(inspector);
      await page.waitForTimeout(500);
      withPage.push(await sample());
      await page.close();
    }
  } finally {
    await browser.close();
    await stop(server);
  }
  const row = (name: string, xs: Sample[]) =>
    `| ${name} | ${ms(median(xs.map((x) => x.p99)))} | ${
      Math.round(median(xs.map((x) => x.rps)))
    } | ${median(xs.map((x) => x.cli)).toFixed(1)} | ${
      median(xs.map((x) => x.chromium)).toFixed(1)
    } |`;
  table.push(
    "\n### Latency of the recording CLI, wrk -c 10, nothing pinned\n",
    `| | p99 ms | req/s | CLI CPU s | Chromium CPU s (in ${duration} s) |`,
    "|---|---:|---:|---:|---:|",
    row("inspector page closed", without),
    row("page open, live stream attached", withPage),
  );
}

/**
 * CPU seconds of each Chromium process this script started (descendants
 * named chrom*), by pid: a run's use is the growth over the pids alive at
 * its end (a closed page's renderer, gone meanwhile, does not count).
 */
async function chromiumCpu(): Promise<Map<number, number>> {
  const cpu = new Map<number, number>();
  for (const pid of await processTree(Deno.pid)) {
    const name = await Deno.readTextFile(`/proc/${pid}/comm`).catch(() => "");
    if (/chrom/i.test(name)) cpu.set(pid, await cpuSeconds(pid).catch(() => 0));
  }
  return cpu;
}

// ---- the run ------------------------------------------------------------------

await ensureWrk();
const started = new Date();
const load0 = (await Deno.readTextFile("/proc/loadavg").catch(() => "")).trim();
try {
  if (sections.has("throughput")) {
    await throughput("1 core");
    const two = await throughput("2 cores");
    // deno-raw is the ceiling of any server of this app on Deno: where it is
    // itself below a goal's ratio, that goal cannot be reached by construction.
    const goal = (a: string, b: string, want: number) => {
      const x = two.get(a), y = two.get(b);
      if (x === undefined || y === undefined) return;
      const r = x / y;
      const ceiling = a === "deno-raw";
      table.push(
        `- ${ceiling ? "the ceiling, " : ""}${a} / ${b} on the same 2 cores: **${r.toFixed(1)}×**${
          !ceiling
            ? ` (goal ${want}×)`
            : r < want
            ? ` (below the goal of ${want}×: no server on Deno.serve reaches it)`
            : ""
        }`,
      );
    };
    table.push("");
    for (
      const [b, want, rows] of [
        ["wsgiref", 20, ["ours-rec", "ours-off"]],
        ["gunicorn-sync-w2", 5, ["ours-rec", "ours-off", "ours-dev-w2"]],
      ] as const
    ) {
      for (const a of ["deno-raw", ...rows]) goal(a, b, want);
    }
  }
  if (sections.has("streaming")) await streaming();
  if (sections.has("latency")) await latency();
} finally {
  await Promise.all([...running].map((s) => s.stop()));
  await Deno.remove(tmp, { recursive: true }).catch(() => {});
}
const load1 = (await Deno.readTextFile("/proc/loadavg").catch(() => "")).trim();
const cpuModel = (await Deno.readTextFile("/proc/cpuinfo").catch(() => ""))
  .match(/model name\s*:\s*(.+)/)?.[1] ?? "unknown CPU";
console.log(table.join("\n"));
console.log(
  `\n${started.toISOString().slice(0, 10)}; ${cpuModel}, ${navigator.hardwareConcurrency} cores; ` +
    `Deno ${Deno.version.deno}; load ${load0} -> ${load1}`,
);
console.log(
  `command: deno task bench:peers ${Deno.args.join(" ")}`.trim() +
    `; wrk: ${wrkArgs("URL", { threads: 1, connections, duration, latency: true }).join(" ")}; ` +
    `${rounds} alternated rounds, medians`,
);
for (const n of new Set(notes)) console.log(`note: ${n}`);
