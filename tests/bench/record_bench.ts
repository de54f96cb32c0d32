/**
 * Micro-benchmarks of recording: what the inspector's store costs per
 * exchange, apart from the gateway. `deno bench -A tests/bench/record_bench.ts`
 * (pin it for steadier numbers: `taskset -c 0 deno bench -A ...`).
 *
 * - `record`: the events of a hello-world exchange, as the gateway hands
 *   them over (live payloads built once), recorded into a store that keeps
 *   the last 1000 exchanges;
 * - `round trip`: the hello app through `toFetch` in memory, without a
 *   recorder and with the store.
 *
 * With `OLD_STORE=path/to/inspector/store.ts` in the environment, the same
 * benches run against that store too (an older commit's, for comparison).
 *
 * @module
 */

import type { EventMap, EventType, Recorder } from "../../server/recorder.ts";
import { helloAnswer } from "./hello_events.ts";
import { toFetch } from "../../server/gateway.ts";
import { buildEnviron } from "../../server/environ.ts";
import { Input } from "../../server/input.ts";
import { Errors } from "../../server/log.ts";
import { ExchangeStore } from "../../inspector/store.ts";
import { application } from "../../examples/hello.ts";

const quiet = { write() {}, flush() {} };
const peer: Deno.NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 51234 };
const request = new Request("http://127.0.0.1:8000/", { headers: { host: "127.0.0.1:8000" } });
const environ = buildEnviron(request, {
  input: new Input({ body: null }, undefined),
  errors: new Errors(quiet),
  remoteAddr: peer,
  serverName: "127.0.0.1",
  serverPort: "8000",
});
const headers: [string, string][] = [["Content-Type", "text/html"]];
const body = new TextEncoder().encode("<h1>Hello,web</h1>");
const events: [EventType, EventMap[EventType]][] = [
  ["request", {
    method: "GET",
    target: "/",
    version: "HTTP/1.1",
    peer,
    headers: [["host", "127.0.0.1:8000"]],
  }],
  ["environ", { environ }],
  ...helloAnswer(headers, body),
];

const stores: [string, Recorder][] = [["store", new ExchangeStore()]];
const old = Deno.env.get("OLD_STORE");
if (old) {
  const { ExchangeStore: Old } = await import(new URL(old, `file://${Deno.cwd()}/`).href);
  stores.push(["old store", new Old() as Recorder]);
}

let t = 0;
for (const [name, store] of stores) {
  Deno.bench(`record a hello exchange, ${name}`, { group: "record" }, () => {
    const rec = store.begin(request, t)!;
    t += 0.001;
    for (let i = 0; i < events.length; i++) rec.record(events[i]![0], events[i]![1] as never, t);
  });
}

const sink = { n: 0 };
Deno.bench("toFetch, no recorder", { group: "round trip", baseline: true }, async () => {
  sink.n += (await (await plain(request, { remoteAddr: peer })).arrayBuffer()).byteLength;
});
const plain = toFetch(application, { errors: quiet });
for (const [name, store] of stores) {
  const handler = toFetch(application, { errors: quiet, recorder: store });
  Deno.bench(`toFetch, ${name}`, { group: "round trip" }, async () => {
    sink.n += (await (await handler(request, { remoteAddr: peer })).arrayBuffer()).byteLength;
  });
}
