/**
 * The dev loop's record channel alone, without HTTP: how many megabytes of
 * records a second an app process's channel (`server/dev/channel.ts`, a Unix
 * socket) carries into the supervisor's store, and the CPU each side spends.
 *
 * The writer, a child process, calls the gateway in memory (`toFetch`) with
 * the memory benchmark's echo app (`echo_app.ts`) and the inspector's app
 * recorder, `--exchanges` times with a `--body-kib` KiB body (each exchange's
 * records hold the body twice: read, and answered back), as fast as its
 * channel takes them (it waits while more than 4 MiB are queued: the writer
 * never drops). The reader, this process, takes each message into an
 * `ExchangeStore` (the inspector's defaults: 64 MiB of records) the way the
 * supervisor does. Both are pinned to one core (`--core`, as the memory
 * benchmark pins the CLI) unless `--cores 2`.
 *
 * ```
 * deno run -A tests/bench/channel.ts
 * deno run -A tests/bench/channel.ts --exchanges 4000 --body-kib 100 --cores 2
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { readChannel, RECORD } from "../../server/dev/channel.ts";
import { ExchangeStore } from "../../inspector/store.ts";
import { haveTaskset } from "./_bench.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    exchanges: { type: "string", default: "2000" },
    "body-kib": { type: "string", default: "100" },
    cores: { type: "string", default: "1" },
    writer: { type: "string" },
  },
});
const exchanges = Number(values.exchanges);
const bodyBytes = Number(values["body-kib"]) * 1024;

/** CPU seconds (user + system) of a process, from `/proc/PID/stat`. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

if (values.writer) {
  // The writer: an app process's recorder and channel, minus HTTP.
  const { ChannelWriter } = await import("../../server/dev/channel.ts");
  const { createAppRecorder } = await import("../../inspector/app_recorder.ts");
  const { toFetch } = await import("../../server/gateway.ts");
  const { application } = await import("./echo_app.ts");
  const conn = await Deno.connect({ transport: "unix", path: values.writer });
  const out = new ChannelWriter(conn);
  const recorder = createAppRecorder({
    settings: { module: "", maxBodyBytes: 1024 * 1024, maxEvents: 10_000, maxText: 65536 },
    generation: 1,
    worker: 1,
    send: (frame) => out.record(frame),
    congested: () => false,
  });
  const handler = toFetch(application, { recorder });
  const body = new Uint8Array(bodyBytes).map((_, i) => (i * 7919) & 0xff);
  const t0 = performance.now();
  for (let i = 0; i < exchanges; i++) {
    if (out.backlog > 4 * 1024 * 1024) await out.below(4 * 1024 * 1024, 60_000);
    const response = await handler(new Request("http://localhost/", { method: "POST", body }));
    await response.arrayBuffer();
  }
  await out.drain();
  const wall = performance.now() - t0;
  conn.close();
  console.log(JSON.stringify({ wall, cpu: await cpuSeconds(Deno.pid) }));
  Deno.exit(0);
}

const pin = await haveTaskset();
if (pin) {
  const cores = values.cores === "2" ? "0,1" : "0";
  // Pins this process (and so the writer it starts) like the memory benchmark's CLI.
  await new Deno.Command("taskset", { args: ["-a", "-p", "-c", cores, String(Deno.pid)] })
    .output();
}
const dir = await Deno.makeTempDir();
const path = `${dir}/channel.sock`;
const listener = Deno.listen({ transport: "unix", path });
const store = new ExchangeStore();
const intake = store.intake();
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", import.meta.filename!, ...Deno.args, "--writer", path],
  stdout: "piped",
}).spawn();
const conn = await listener.accept();
let bytes = 0;
const cpu0 = await cpuSeconds(Deno.pid);
const t0 = performance.now();
await readChannel(conn, (kind, payload) => {
  if (kind !== RECORD) return;
  bytes += payload.length;
  intake.ingest(payload);
});
const wall = (performance.now() - t0) / 1000;
const readerCpu = (await cpuSeconds(Deno.pid)) - cpu0;
const out = new TextDecoder().decode((await child.output()).stdout);
const writerCpu = (JSON.parse(out) as { cpu: number }).cpu;
listener.close();
await Deno.remove(dir, { recursive: true });
const mb = bytes / 1024 / 1024;
const total = store.list({ limit: 1 }).total;
console.log(
  `${exchanges} exchanges of ${bodyBytes / 1024} KiB each way, ${
    values.cores === "2" ? "2 cores" : "1 core"
  }: ${mb.toFixed(1)} MiB of records in ${wall.toFixed(2)} s = ${(mb / wall).toFixed(0)} MiB/s, ${
    (exchanges / wall).toFixed(0)
  } exchanges/s; reader CPU ${readerCpu.toFixed(2)} s (${
    (mb / readerCpu).toFixed(0)
  } MiB per CPU second, ${(readerCpu / exchanges * 1e6).toFixed(0)} µs an exchange), writer CPU ${
    writerCpu.toFixed(2)
  } s (${(writerCpu / exchanges * 1e6).toFixed(0)} µs an exchange); the store kept ${total}`,
);
