/**
 * `--host ""` (every interface, as in Python), run where it binds no real
 * interface: in a network namespace of its own (`unshare -rn`), whose
 * listening sockets are read from `/proc/PID/net/tcp`.
 */

import { equal, match, ok } from "node:assert/strict";
import { spawnDeno } from "./_helpers.ts";

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
    const cli = await spawnDeno(
      [
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
      // Both listeners are up once the banner's last line is out.
      /Serving HTTP on (\S+)[\s\S]*Edits reload/,
      20_000,
      ["unshare", "-rn"],
    );
    // unshare execs deno: its pid is the supervisor's.
    const ports = wildcardListeners(cli.process.pid);
    const code = await cli.stop();
    const output = cli.output();
    equal(code, 0, output);
    const banner = output.match(/Serving HTTP on http:\/\/127\.0\.0\.1:(\d+) .*every interface/);
    ok(banner, output);
    ok(ports.includes(Number(banner[1])), `the app's port ${banner[1]} is among ${ports}`);
    ok(ports.length >= 2, `the app and the inspector listen on 0.0.0.0 (got ports ${ports})`);
    match(output, /Inspector on http:\/\/127\.0\.0\.1:\d+\/\?token=/);
    match(output, /Shut down\./);
    ok(!/Uncaught|URIError/.test(output), output);
  },
});
