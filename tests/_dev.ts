/**
 * Helpers of the dev-loop tests: the CLI run as users run it, on an app in a
 * temporary folder, and cleaned up however a test ends: the supervisor and
 * every process whose command line names the folder (the app processes, and
 * anything they started) are killed, process group and all. The CLI runs
 * with a `TMPDIR` of its own, removed with the app's folder: a killed
 * supervisor cannot remove its temporary folder (`wsgi-dev-*`, which holds
 * the channel's socket) itself, and a test run leaves nothing in `/tmp`.
 *
 * @module
 */

import { ROOT, sleep } from "./_helpers.ts";

/** A running CLI on an app in a temporary folder. */
export interface DevServer {
  /** The folder holding the app. */
  dir: string;
  /** The CLI's `TMPDIR` (its app processes' too): its temporary folders are made there. */
  tmp: string;
  /** The app's URL. */
  url: string;
  /** The inspector's URL (no trailing slash). */
  inspector: string;
  /** Everything the CLI printed so far (stdout and stderr). */
  output(): string;
  /** The supervisor. */
  process: Deno.ChildProcess;
  /** Its exit status, once it exited and everything it printed was read (`output()` is then whole). */
  ended(): Promise<Deno.CommandStatus>;
  /** Writes a file of the app's folder. */
  write(name: string, text: string): Promise<void>;
  /** Waits until the output matches, or fails with the output. */
  waitFor(pattern: RegExp, timeout?: number): Promise<RegExpMatchArray>;
  /** The app processes (and what they started) alive now. */
  appPids(): number[];
  /** Kills everything and removes the app's folder and `tmp` (idempotent). */
  cleanup(): Promise<void>;
}

/** The pids of processes whose command line contains `text`. */
export function pidsWith(text: string): number[] {
  const pids: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${entry.name}/cmdline`);
      if (cmd.includes(text)) pids.push(Number(entry.name));
    } catch { /* gone */ }
  }
  return pids;
}

/** CPU seconds (user + system) a process has used, or 0 when it is gone. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

function killGroup(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      Deno.kill(target, "SIGKILL");
    } catch { /* gone */ }
  }
}

/**
 * The supervisor's temporary folder (`wsgi-dev-*`, holding the channel's
 * socket), read from an app process's command line.
 */
export function supervisorDir(pids: number[]): string {
  for (const pid of pids) {
    try {
      const cmd = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
      const m = cmd.match(/"channel":"([^"]+)\/channel\.sock"/);
      if (m) return m[1]!;
    } catch { /* gone */ }
  }
  throw new Error(`No app process names the channel (pids ${pids})`);
}

/** Whether `path` exists. */
export function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes `files` into a new temporary folder and starts
 * `deno run -A ...denoFlags mod.ts app.ts --port 0 --inspector-port 0 ...args` there,
 * with the `mod.ts` of `root` (a folder path ending in `/`: this project's by default),
 * and `TMPDIR` a new folder of its own.
 */
export async function startDev(
  files: Record<string, string>,
  args: string[] = [],
  module = "app.ts",
  denoFlags: string[] = [],
  root = ROOT,
): Promise<DevServer> {
  const dir = await Deno.makeTempDir({ prefix: "wsgi-devtest-" });
  const tmp = await Deno.makeTempDir({ prefix: "wsgi-devtest-tmp-" });
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  const process = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...denoFlags,
      `${root}mod.ts`,
      module,
      "--port",
      "0",
      "--inspector-port",
      "0",
      ...args,
    ],
    cwd: dir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", TMPDIR: tmp },
    detached: true,
  }).spawn();
  let all = "";
  const decoder = () => new TextDecoder();
  const read = async (stream: ReadableStream<Uint8Array>) => {
    const d = decoder();
    for await (const chunk of stream) all += d.decode(chunk, { stream: true });
  };
  const reading = Promise.all([read(process.stdout), read(process.stderr)]);
  // Exited, and its output read to the end (before that, a match may still come).
  let drained = false;
  const status = process.status;
  const ended = status.then(async (s) => {
    await reading.catch(() => {});
    drained = true;
    return s;
  });
  let cleaned = false;
  const server: DevServer = {
    dir,
    tmp,
    url: "",
    inspector: "",
    output: () => all,
    process,
    ended: () => ended,
    write: (name, text) => Deno.writeTextFile(`${dir}/${name}`, text),
    async waitFor(pattern, timeout = 15_000) {
      const end = Date.now() + timeout;
      for (;;) {
        const m = all.match(pattern);
        if (m) return m;
        if (Date.now() > end || (drained && !all.match(pattern))) {
          throw new Error(`Timed out waiting for ${pattern}; the CLI printed:\n${all}`);
        }
        await sleep(10);
      }
    },
    appPids: () => pidsWith(dir).filter((p) => p !== process.pid),
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      killGroup(process.pid);
      for (const pid of pidsWith(dir)) killGroup(pid);
      await status;
      await reading.catch(() => {});
      // A process started by an app process may outlive the group kill by a moment.
      for (let i = 0; i < 20 && pidsWith(dir).length > 0; i++) {
        for (const pid of pidsWith(dir)) killGroup(pid);
        await sleep(50);
      }
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    },
  };
  try {
    const m = await server.waitFor(/Serving HTTP on (\S+)/, 30_000);
    server.url = m[1]!;
    if (!args.includes("--no-inspector")) {
      server.inspector = (await server.waitFor(/Inspector on (\S+?)\/?(\s|$)/))[1]!;
    }
  } catch (error) {
    await server.cleanup();
    throw error;
  }
  return server;
}

/** Fetches text, retrying while nothing listens (between app processes). */
export async function get(
  url: string,
  init: RequestInit = {},
  timeout = 10_000,
): Promise<{ status: number; text: string; headers: Headers }> {
  const end = Date.now() + timeout;
  for (;;) {
    try {
      const response = await fetch(url, init);
      return { status: response.status, text: await response.text(), headers: response.headers };
    } catch (error) {
      if (Date.now() > end) throw error;
      await sleep(20);
    }
  }
}

/** Polls until `check` resolves true, or fails after `timeout` ms with `what`. */
export async function eventually(
  check: () => Promise<boolean> | boolean,
  what: string,
  timeout = 10_000,
): Promise<void> {
  const end = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A hello app whose page says `text`. */
export function helloApp(text: string): string {
  return `export const application = (_environ: Record<string, unknown>, start_response: (s: string, h: [string, string][]) => void) => {
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode(${JSON.stringify(text)})];
};
`;
}
