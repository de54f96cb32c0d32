/**
 * Helpers of the benchmark scripts: finding (or installing) the tools, starting
 * a server pinned to a core that stops by itself, and running wrk.
 *
 * Every server is started as `taskset -c CORE timeout LIFETIME deno run ...`,
 * listens on 127.0.0.1 on a free port and prints its URL on stdout, which is
 * how the scripts learn the port. `timeout` makes sure it stops even if the
 * benchmark dies; normally the benchmark sends SIGTERM when done.
 *
 * @module
 */

/** The repository's root. */
export const ROOT: string = new URL("../../", import.meta.url).pathname;

/** Runs a command and returns its stdout (and whether it succeeded). */
export async function sh(
  cmd: string,
  args: string[],
): Promise<{ ok: boolean; out: string; err: string }> {
  try {
    const o = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
    const d = new TextDecoder();
    return { ok: o.success, out: d.decode(o.stdout), err: d.decode(o.stderr) };
  } catch (error) {
    return { ok: false, out: "", err: String(error) };
  }
}

async function have(tool: string): Promise<boolean> {
  return (await sh("sh", ["-c", `command -v ${tool}`])).ok;
}

/**
 * Makes sure `wrk` is installed: Debian's package, via `apt-get` as root or
 * with `sudo` otherwise.
 */
export async function ensureWrk(): Promise<void> {
  if (await have("wrk")) return;
  console.error("wrk is missing; installing it with apt-get ...");
  const root = Deno.uid() === 0;
  const run = (args: string[]) =>
    root ? sh("apt-get", args) : sh("sudo", ["-n", "apt-get", ...args]);
  let r = await run(["install", "-y", "wrk"]);
  if (!r.ok) {
    await run(["update"]);
    r = await run(["install", "-y", "wrk"]);
  }
  if (!r.ok || !await have("wrk")) {
    throw new Error(`Cannot install wrk: apt-get install -y wrk failed\n${r.err}`);
  }
}

/** Whether `taskset` (util-linux) is there; without it nothing is pinned. */
export function haveTaskset(): Promise<boolean> {
  return have("taskset");
}

/** A server under test. */
export interface Contender {
  /** Short name: `raw`, `floor`, `gateway`, ... */
  name: string;
  /** The arguments of `deno` (`run -A file.ts ...`), or of `cmd` when given. */
  args: string[];
  /** The program to run; `deno` (this one) by default. */
  cmd?: string;
}

/** A running server. */
export interface RunningServer {
  contender: Contender;
  /** The URL it printed. */
  url: string;
  /** Everything else it printed on stdout (e.g. "Inspector on ..."). */
  stdout: () => string;
  /** The pid of the server process itself (for /proc/PID/status; a master, if it has workers). */
  denoPid: number;
  /** The command line that started it, for the report. */
  command: string;
  /** Where its stderr (the request log) goes. */
  logFile: string;
  /** Stops it (SIGTERM, then SIGKILL after 5 s) and waits for it. */
  stop(): Promise<void>;
}

const URL_RE = /http:\/\/127\.0\.0\.1:(\d+)/;

/** Quotes a word for a shell command line shown to people. */
export function shellQuote(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * Starts a contender: `taskset -c core timeout lifetime deno <args>`, stderr
 * appended to `logFile`, and waits until it prints its URL.
 */
export async function startServer(
  contender: Contender,
  options: { core?: number; lifetime: number; logFile: string },
): Promise<RunningServer> {
  const inner = [
    ...(options.core !== undefined ? ["taskset", "-c", String(options.core)] : []),
    "timeout",
    "-k",
    "5",
    String(Math.ceil(options.lifetime)),
    contender.cmd ?? Deno.execPath(),
    ...contender.args,
  ];
  const command = `${inner.map(shellQuote).join(" ")} 2>>${shellQuote(options.logFile)}`;
  const child = new Deno.Command("sh", {
    args: ["-c", 'log="$1"; shift; exec "$@" 2>>"$log"', "sh", options.logFile, ...inner],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let out = "";
  let exited = false;
  const status = child.status.then((s) => {
    exited = true;
    return s;
  });
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) out += decoder.decode(chunk, { stream: true });
  })();
  const stop = async () => {
    if (!exited) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }, 5000);
      await status;
      clearTimeout(timer);
    }
    await reading.catch(() => {});
  };
  const deadline = Date.now() + 30_000;
  let m: RegExpMatchArray | null = null;
  while (!(m = out.match(URL_RE))) {
    if (exited || Date.now() > deadline) {
      await stop();
      let log = "";
      try {
        log = (await Deno.readTextFile(options.logFile)).slice(-2000);
      } catch { /* none */ }
      throw new Error(
        `${contender.name} did not start (${
          exited ? "it exited" : "no URL after 30 s"
        }): ${command}\n${out}${log}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  // `timeout` (the pid we have, after sh and taskset exec'd) has deno as its one child.
  let denoPid = child.pid;
  try {
    const kids = (await Deno.readTextFile(`/proc/${child.pid}/task/${child.pid}/children`)).trim();
    if (kids) denoPid = Number(kids.split(/\s+/)[0]);
  } catch { /* no /proc: keep the pid we have */ }
  return {
    contender,
    url: `http://127.0.0.1:${m[1]}/`,
    stdout: () => out,
    denoPid,
    command,
    logFile: options.logFile,
    stop,
  };
}

/** What wrk measured. */
export interface WrkResult {
  rps: number;
  requests: number;
  /** Non-2xx/3xx responses plus socket errors: should be 0. */
  errors: number;
  /** Latency percentiles in milliseconds, when asked for (`latency: true`). */
  p50?: number;
  p99?: number;
  output: string;
}

/** wrk's latency figure (`812.00us`, `1.20ms`, `2.01s`) in milliseconds. */
function wrkMs(text: string | undefined): number | undefined {
  const m = text?.match(/^([\d.]+)(us|ms|s|m)$/);
  if (!m) return undefined;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000, m: 60_000 }[m[2] as "us"];
}

/** The wrk command line for a URL. */
export function wrkArgs(
  url: string,
  o: { threads: number; connections: number; duration: number; latency?: boolean },
): string[] {
  return [
    "wrk",
    `-t${o.threads}`,
    `-c${o.connections}`,
    `-d${o.duration}s`,
    ...(o.latency ? ["--latency"] : []),
    url,
  ];
}

/** Runs wrk (pinned to `core` when given) and parses its summary. */
export async function runWrk(
  url: string,
  o: { threads: number; connections: number; duration: number; core?: number; latency?: boolean },
): Promise<WrkResult> {
  const args = [
    ...(o.core !== undefined ? ["-c", String(o.core)] : []),
    ...wrkArgs(url, o),
  ];
  const r = o.core !== undefined ? await sh("taskset", args) : await sh(args[0]!, args.slice(1));
  if (!r.ok) throw new Error(`wrk failed: ${r.err}${r.out}`);
  const rps = Number(r.out.match(/Requests\/sec:\s+([\d.]+)/)?.[1]);
  const requests = Number(r.out.match(/(\d+) requests in/)?.[1] ?? 0);
  const non2xx = Number(r.out.match(/Non-2xx or 3xx responses:\s+(\d+)/)?.[1] ?? 0);
  const sock = r.out.match(
    /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/,
  );
  const socketErrors = sock ? sock.slice(1).reduce((n, x) => n + Number(x), 0) : 0;
  if (!Number.isFinite(rps)) throw new Error(`Cannot parse wrk output:\n${r.out}`);
  const p50 = wrkMs(r.out.match(/^\s+50%\s+(\S+)/m)?.[1]);
  const p99 = wrkMs(r.out.match(/^\s+99%\s+(\S+)/m)?.[1]);
  return { rps, requests, errors: non2xx + socketErrors, p50, p99, output: r.out };
}

/** The median of some numbers (the mean of the middle two for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** CPU time (user + system, all threads) a process has used so far, in seconds. */
export async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after the command name (which is in parentheses and may hold spaces).
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime
  return ticks / 100; // USER_HZ is 100 on Linux
}

/** A process's resident set size in KiB, from `/proc/PID/status` (`VmRSS`). */
export async function rssKiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const m = status.match(/VmRSS:\s+(\d+) kB/);
  if (!m) throw new Error(`No VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

/** A process and all its descendants, from `/proc/PID/task/TID/children`. */
export async function processTree(pid: number): Promise<number[]> {
  const all = [pid];
  for (let i = 0; i < all.length; i++) {
    const p = all[i]!;
    try {
      for await (const task of Deno.readDir(`/proc/${p}/task`)) {
        const kids = await Deno.readTextFile(`/proc/${p}/task/${task.name}/children`);
        for (const kid of kids.trim().split(/\s+/)) if (kid) all.push(Number(kid));
      }
    } catch { /* gone */ }
  }
  return all;
}

/** CPU seconds of a process and its descendants (those alive now). */
export async function treeCpuSeconds(pid: number): Promise<number> {
  let total = 0;
  for (const p of await processTree(pid)) total += await cpuSeconds(p).catch(() => 0);
  return total;
}

/**
 * The peak resident set of a process tree in KiB: the sum of each live
 * process's own peak (`VmHWM`), an upper bound of the tree's peak.
 */
export async function treePeakRssKiB(pid: number): Promise<number> {
  let total = 0;
  for (const p of await processTree(pid)) {
    try {
      const status = await Deno.readTextFile(`/proc/${p}/status`);
      total += Number(status.match(/VmHWM:\s+(\d+) kB/)?.[1] ?? 0);
    } catch { /* gone */ }
  }
  return total;
}
