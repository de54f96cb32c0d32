/**
 * Ctrl-C and SIGTERM as they come in life: twice at once (a wrapper such as
 * `deno task` or `timeout` passes on the terminal's Ctrl-C), a second one
 * while stopping, one while the app still loads. Whatever the order, no app
 * process, temporary folder or uncaught error is left behind.
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { eventually, exists, pidsWith, startDev, supervisorDir } from "./_dev.ts";
import { ROOT, sleep, text } from "./_helpers.ts";
import { SAME_SIGNAL_MS } from "../server/dev/run.ts";

/** An app whose `/hang` never answers, so that a graceful stop takes its whole grace. */
const HANGING_APP =
  `export const application = async (environ: Record<string, unknown>, start_response: (s: string, h: [string, string][]) => void) => {
  if (environ.PATH_INFO === "/hang") await new Promise((r) => setTimeout(r, 60_000));
  start_response("200 OK", []);
  return [];
};
`;

/** Starts the hanging app with a request in flight; returns it and the supervisor's folder. */
async function busyDev() {
  const dev = await startDev({ "app.ts": HANGING_APP }, ["--timeout", "0"]);
  const hanging = fetch(`${dev.url}/hang`).then((r) => r.body?.cancel(), () => {});
  // Time for it to reach the app.
  await sleep(300);
  const dir = supervisorDir(dev.appPids());
  ok(exists(dir), `${dir} exists while serving`);
  return { dev, dir, hanging };
}

/**
 * Sends the busy CLI two SIGINTs `gap` ms apart; it must exit with `code`,
 * saying `said`, leaving no app process, temporary folder or uncaught error.
 */
async function twoSignals(gap: number, code: number, said: RegExp): Promise<void> {
  const { dev, dir, hanging } = await busyDev();
  try {
    dev.process.kill("SIGINT");
    await sleep(gap);
    dev.process.kill("SIGINT");
    const status = await dev.ended();
    equal(status.code, code, dev.output());
    match(dev.output(), said);
    ok(!exists(dir), `${dir} was removed`);
    await eventually(() => dev.appPids().length === 0, "every app process to be gone", 500);
    ok(!/Uncaught/.test(dev.output()), dev.output());
  } finally {
    await dev.cleanup();
    await hanging;
  }
}

Deno.test("CLI: a second Ctrl-C while stopping stops at once, leaving no app process or temporary folder", async () => {
  // Later than a duplicate of the first; the graceful stop waits on /hang for 800 ms.
  await twoSignals(SAME_SIGNAL_MS + 200, 130, /Shut down at once/);
});

Deno.test("CLI: the same Ctrl-C delivered twice (a wrapper passing it on) is one graceful stop", async () => {
  await twoSignals(30, 0, /Shut down\./);
});

Deno.test("CLI: a Ctrl-C while the app module still loads stops it then, not once it has loaded", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wsgi-devtest-" });
  // A top level that takes 30 s: the CLI must not wait for it.
  await Deno.writeTextFile(
    `${dir}/app.ts`,
    `await new Promise((r) => setTimeout(r, 30_000));\n${HANGING_APP}`,
  );
  const tmp = `${dir}/tmp`;
  await Deno.mkdir(tmp);
  const process = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}mod.ts`, "app.ts", "--port", "0", "--inspector-port", "0"],
    cwd: dir,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", TMPDIR: tmp },
  }).spawn();
  const read = async (stream: ReadableStream<Uint8Array>) => {
    let all = "";
    for await (const chunk of stream) all += text(chunk);
    return all;
  };
  const output = Promise.all([read(process.stdout), read(process.stderr)]);
  const killer = setTimeout(() => process.kill("SIGKILL"), 20_000);
  try {
    // An app process runs: the supervisor is in its start, the module loading.
    await eventually(
      () => pidsWith(dir).some((p) => p !== process.pid),
      "an app process",
      15_000,
    );
    const appPids = pidsWith(dir).filter((p) => p !== process.pid);
    process.kill("SIGINT");
    const status = await process.status;
    const [stdout, stderr] = await output;
    // Before the load's end (the killer would have ended it with SIGKILL at 20 s).
    equal(status.code, 0, `${stdout}\n${stderr}`);
    match(stdout, /Shut down \(while the app was loading\)\./);
    ok(!/Uncaught/.test(stderr), stderr);
    await eventually(
      () => appPids.every((pid) => !exists(`/proc/${pid}`)),
      "the loading app process to be gone",
      2000,
    );
    deepEqual([...Deno.readDirSync(tmp)].map((e) => e.name), [], "the CLI's folder was removed");
  } finally {
    clearTimeout(killer);
    try {
      process.kill("SIGKILL");
    } catch { /* gone */ }
    await process.status;
    await output.catch(() => {});
    for (const pid of pidsWith(dir)) {
      try {
        Deno.kill(-pid, "SIGKILL");
      } catch { /* gone */ }
    }
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("child.ts: an app process whose supervisor is already gone exits quietly", async () => {
  const config = { channel: "/nonexistent/wsgi-dev/channel.sock", generation: 0, worker: 0 };
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}server/dev/child.ts`, JSON.stringify({ ...config, standby: true })],
    stdin: "null",
    stdout: "null",
    env: { NO_COLOR: "1" },
  }).output();
  equal(text(stderr), "");
  equal(code, 0);
});
