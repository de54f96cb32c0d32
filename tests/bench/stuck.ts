/**
 * A CPU spin under `--timeout 1`: how long until the client has its `504`
 * (taken from the stopped app process's socket by the supervisor), and how
 * long after that until a request is served `200` again (a request in
 * between gets the `503` of a restart, and is asked again 5 ms later).
 *
 * Starts the CLI as users run it (reload on, inspector recording) on an app
 * in a temporary folder whose `/spin` never returns, and spins `--rounds`
 * times (5 by default).
 *
 * ```
 * deno run -A tests/bench/stuck.ts
 * deno run -A tests/bench/stuck.ts --rounds 10
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { median, ROOT } from "./_bench.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { rounds: { type: "string", default: "5" } },
});
const rounds = Number(values.rounds);

const dir = await Deno.makeTempDir({ prefix: "wsgi-bench-stuck-" });
await Deno.writeTextFile(
  `${dir}/app.ts`,
  `export const application = (environ: Record<string, unknown>, start_response: (s: string, h: [string, string][]) => void) => {
  if (environ.PATH_INFO === "/spin") while (true) { /* a CPU-bound loop */ }
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode("ok")];
};
`,
);
const cli = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    `${ROOT}mod.ts`,
    "app.ts",
    "--port",
    "0",
    "--inspector-port",
    "0",
    "--timeout",
    "1",
    "--quiet",
  ],
  cwd: dir,
  stdout: "piped",
  stderr: "piped",
  env: { NO_COLOR: "1" },
}).spawn();
let out = "";
const read = async (stream: ReadableStream<Uint8Array<ArrayBuffer>>) => {
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) out += chunk;
};
const reading = Promise.all([read(cli.stdout), read(cli.stderr)]);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
try {
  while (!/Serving HTTP on (\S+)/.test(out)) await sleep(20);
  const url = out.match(/Serving HTTP on (\S+)/)![1]!;
  await (await fetch(url)).text();
  const toAnswer: number[] = [];
  const toServed: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // Let the last exchange's records go out first (a spin within 1 ms of them is unrecorded).
    await sleep(300);
    const t0 = performance.now();
    const spin = await fetch(`${url}/spin`);
    await spin.text();
    const t1 = performance.now();
    if (spin.status !== 504) throw new Error(`Expected a 504, got ${spin.status}`);
    for (;;) {
      try {
        const r = await fetch(url);
        await r.text();
        if (r.status === 200) break;
      } catch { /* between app processes */ }
      await sleep(5);
    }
    toAnswer.push(t1 - t0);
    toServed.push(performance.now() - t1);
    console.log(
      `round ${i + 1}: 504 after ${(t1 - t0).toFixed(0)} ms, 200 again ${
        (toServed.at(-1)!).toFixed(0)
      } ms later`,
    );
  }
  console.log(
    `median: the 504 ${median(toAnswer).toFixed(0)} ms after the request (timeout 1000 ms), ` +
      `served again ${median(toServed).toFixed(0)} ms after it`,
  );
} finally {
  cli.kill("SIGTERM");
  await cli.status;
  await reading.catch(() => {});
  await Deno.remove(dir, { recursive: true });
}
