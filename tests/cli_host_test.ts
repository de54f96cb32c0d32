/**
 * `--host ""` (every interface, as in Python), run where it binds no real
 * interface: in a network namespace of its own (`unshare -rn`), whose
 * listening sockets are read from `/proc/PID/net/tcp`.
 */

import { equal, match, ok } from "node:assert/strict";
import { ROOT, sleep } from "./_helpers.ts";

/** Whether this machine lets us make a user and network namespace. */
function canUnshare(): boolean {
  try {
    return new Deno.Command("unshare", { args: ["-rn", "true"], stderr: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

const unshare = canUnshare();
if (!unshare) {
  console.warn(
    'SKIPPED: the CLI test of --host "" needs `unshare -rn` (a network namespace of its own, so that it binds no real interface); addressUrl("") and bindHost("") are still checked by their doc tests',
  );
}

/** The ports a process's network namespace listens on, on every IPv4 interface. */
function wildcardListeners(pid: number): number[] {
  return Deno.readTextFileSync(`/proc/${pid}/net/tcp`).split("\n").slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[3] === "0A" && f[1]?.startsWith("00000000:"))
    .map((f) => parseInt(f[1]!.slice(9), 16));
}

Deno.test({
  name: 'mod.ts --host "" serves on every interface and prints a URL a client can use',
  ignore: !unshare,
  async fn() {
    const process = new Deno.Command("unshare", {
      args: [
        "-rn",
        Deno.execPath(),
        "run",
        "-A",
        "mod.ts",
        "--host",
        "",
        "--port",
        "0",
        "--inspector-host",
        "",
        "--inspector-port",
        "0",
      ],
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    let stdout = "";
    let stderr = "";
    const read = async (stream: ReadableStream<Uint8Array>, add: (t: string) => void) => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) add(decoder.decode(chunk, { stream: true }));
    };
    const output = Promise.all([
      read(process.stdout, (t) => stdout += t),
      read(process.stderr, (t) => stderr += t),
    ]);
    let stopped = false;
    let ports: number[] = [];
    const status = process.status.then((s) => (stopped = true, s));
    try {
      for (let i = 0; i < 400 && !stopped && !/Edits reload/.test(stdout); i++) await sleep(50);
      if (!/Edits reload/.test(stdout)) {
        throw new Error(`The CLI did not start:\n${stdout}\n${stderr}`);
      }
      // unshare execs deno: its pid is the supervisor's.
      ports = wildcardListeners(process.pid);
    } finally {
      try {
        process.kill("SIGINT");
      } catch { /* gone */ }
    }
    const timer = setTimeout(() => process.kill("SIGKILL"), 5000);
    const { code } = await status;
    clearTimeout(timer);
    await output;
    equal(code, 0, `${stdout}\n${stderr}`);
    const banner = stdout.match(/Serving HTTP on http:\/\/127\.0\.0\.1:(\d+) .*every interface/);
    ok(banner, stdout);
    ok(ports.includes(Number(banner[1])), `the app's port ${banner[1]} is among ${ports}`);
    ok(ports.length >= 2, `the app and the inspector listen on 0.0.0.0 (got ports ${ports})`);
    match(stdout, /Inspector on http:\/\/127\.0\.0\.1:\d+\/\?token=/);
    match(stdout, /Shut down\./);
    ok(!/Uncaught|URIError/.test(stderr), stderr);
  },
});
