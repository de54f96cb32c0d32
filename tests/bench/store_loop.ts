/**
 * The recorder alone, in a loop: the eight events of a hello exchange (the
 * environ as its derivation, as the gateway gives it) recorded again and
 * again, without the gateway. Nanoseconds per exchange, five runs after a
 * warm-up, printed one per line.
 *
 * ```
 * taskset -c 0 deno run -A tests/bench/store_loop.ts                      # the store
 * taskset -c 0 deno run -A tests/bench/store_loop.ts --recorder minimal   # the ceiling recorder
 * taskset -c 0 deno run -A tests/bench/store_loop.ts --fresh              # new strings each time
 * taskset -c 0 deno run -A tests/bench/store_loop.ts --junk 1048576 --exchanges 300000
 * ```
 *
 * `--fresh` gives each exchange new string objects of the same text (the
 * target, the peer, the Host header, the URL), as a server's requests are;
 * their making is in every recorder's time, `--recorder none` measures it
 * alone. `--junk N` touches N bytes of other memory between exchanges (a
 * cache line each 64 bytes), as a server's kernel and HTTP stack do; its
 * cost is in every recorder's time too, so compare with `--recorder none`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import type { EventMap, EventType, Recorder } from "../../server/recorder.ts";
import { helloAnswer } from "./hello_events.ts";
import { deriveEnviron } from "../../server/environ_rule.ts";
import { ExchangeStore } from "../../inspector/store.ts";
import { MinimalRecorder } from "./ceiling_recorders.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    recorder: { type: "string", default: "store" },
    exchanges: { type: "string", default: "2000000" },
    fresh: { type: "boolean", default: false },
    junk: { type: "string", default: "0" },
  },
});
const recorders: Record<string, () => Recorder | undefined> = {
  store: () => new ExchangeStore(),
  minimal: () => new MinimalRecorder(),
  none: () => undefined,
};
const make = recorders[values.recorder];
if (make === undefined) {
  console.error(`error: --recorder must be one of ${Object.keys(recorders)}`);
  Deno.exit(2);
}
const recorder = make();
const n = Number(values.exchanges);
const junk = new Uint8Array(Number(values.junk));

const request = new Request("http://127.0.0.1:8000/", { headers: { host: "127.0.0.1:8000" } });
const derivation: NonNullable<EventMap["environ"]["derivation"]> = {
  rule: deriveEnviron,
  url: "http://127.0.0.1:8000/",
  serverName: "127.0.0.1",
  serverPort: "8000",
  urlScheme: undefined,
  multiprocess: false,
  dropped: false,
  inputLeft: 0,
};
const body = new TextEncoder().encode("<!doctype html><title>Hello</title><h1>Hello, WSGI</h1>\n");
const headers: [string, string][] = [
  ["Content-Type", "text/html; charset=utf-8"],
  ["Content-Length", String(body.length)],
];
const requestEvent: EventMap["request"] = {
  method: "GET",
  target: "/",
  version: "HTTP/1.1",
  peer: { hostname: "127.0.0.1", port: 51234 },
  headers: [["host", "127.0.0.1:8000"]],
};
const events: [EventType, EventMap[EventType]][] = [
  ["request", requestEvent],
  ["environ", { environ: {}, derivation }],
  ...helloAnswer(headers, body),
];

/** A new string of the same text as `text` (slice() of a longer one: not the same object). */
const anew = (text: string, j: number): string =>
  (text + (j & 1 ? "x" : "y")).slice(0, text.length);

function run(count: number): void {
  let t = 0;
  for (let j = 0; j < count; j++) {
    for (let i = 0; i < junk.length; i += 64) junk[i] = junk[i]! + 1;
    if (values.fresh) {
      requestEvent.target = anew("/", j);
      requestEvent.peer = { hostname: anew("127.0.0.1", j), port: 40000 + (j & 63) };
      requestEvent.headers = [[anew("host", j), anew("127.0.0.1:8000", j)]];
      derivation.url = anew("http://127.0.0.1:8000/", j);
    }
    if (recorder === undefined) continue;
    const rec = recorder.begin(request, t)!;
    t += 0.001;
    for (let i = 0; i < events.length; i++) rec.record(events[i]![0], events[i]![1] as never, t);
  }
}

run(Math.min(200_000, n));
for (let r = 0; r < 5; r++) {
  const t0 = performance.now();
  run(n / 5);
  console.log(`${((performance.now() - t0) * 1e6 / (n / 5)).toFixed(0)} ns/exchange`);
}
