/**
 * Micro-benchmarks of the gateway's hot path: `deno bench tests/bench/gateway_bench.ts`.
 *
 * - `environ`: building the environ for a wrk-like request (one header) and a
 *   browser-like one (ten headers);
 * - `rules`: `checkStatus` and `checkHeaders` on typical values;
 * - `round trip`: the hello app through `toFetch` in memory (request in,
 *   response body read), bare, with the request log (to a sink that drops
 *   it), with a recorder that records nothing, with the inspector's store,
 *   and behind the validator (the CLI's default);
 *   against the `floor`: a handler that makes the reads every gateway must
 *   make and answers the same page. The same `Request` serves every
 *   iteration (building one costs more than the gateway).
 *
 * These isolate the JavaScript cost of each step; the whole-server figures,
 * with sockets, come from `deno task bench` (`throughput.ts`).
 *
 * @module
 */

import { toFetch } from "../../server/gateway.ts";
import { buildEnviron } from "../../server/environ.ts";
import { Input } from "../../server/input.ts";
import { Errors } from "../../server/log.ts";
import { checkHeaders, checkStatus } from "../../server/rules.ts";
import type { Recorder } from "../../server/recorder.ts";
import type { Header } from "../../server/types.ts";
import { ExchangeStore } from "../../inspector/store.ts";
import { validator } from "../../server/validate.ts";
import { application } from "../../examples/hello.ts";

const quiet = { write() {}, flush() {} };
const peer: Deno.NetAddr = { transport: "tcp", hostname: "127.0.0.1", port: 51234 };
const info = { remoteAddr: peer };

const wrkRequest = () =>
  new Request("http://127.0.0.1:8000/", { headers: { host: "127.0.0.1:8000" } });
const browserHeaders = {
  host: "127.0.0.1:8000",
  "user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
  accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
  "accept-language": "en-US,en;q=0.5",
  "accept-encoding": "gzip, deflate, br",
  connection: "keep-alive",
  cookie: "session=abc123; theme=dark",
  "upgrade-insecure-requests": "1",
  "sec-fetch-dest": "document",
  "sec-fetch-mode": "navigate",
};
const browserRequest = () =>
  new Request("http://127.0.0.1:8000/items/42?sort=name&page=2", { headers: browserHeaders });

const sink = { n: 0 };
const input = new Input({ body: null }, undefined);
const errors = new Errors(quiet);

for (const [name, make] of [["wrk-like", wrkRequest], ["browser-like", browserRequest]] as const) {
  const request = make();
  Deno.bench(`buildEnviron, ${name} request`, { group: `environ ${name}` }, () => {
    const environ = buildEnviron(request, {
      input,
      errors,
      remoteAddr: peer,
      serverName: "127.0.0.1",
      serverPort: "8000",
    });
    sink.n += environ.PATH_INFO.length;
  });
  Deno.bench(`floor reads, ${name} request`, { group: `environ ${name}`, baseline: true }, () => {
    sink.n += request.method.length + request.url.length + peer.hostname.length + peer.port;
    request.headers.forEach((v, k) => sink.n += k.length + v.length);
  });
  Deno.bench(`floor reads with for...of, ${name} request`, { group: `environ ${name}` }, () => {
    sink.n += request.method.length + request.url.length + peer.hostname.length + peer.port;
    for (const [k, v] of request.headers) sink.n += k.length + v.length;
  });
}

const oneHeader: Header[] = [["Content-Type", "text/html"]];
const fiveHeaders: Header[] = [
  ["Content-Type", "text/html; charset=utf-8"],
  ["Content-Length", "1234"],
  ["Cache-Control", "no-store"],
  ["Set-Cookie", "session=abc123; Path=/; HttpOnly"],
  ["X-Frame-Options", "DENY"],
];
Deno.bench('checkStatus("200 OK")', { group: "rules" }, () => {
  sink.n += checkStatus("200 OK");
});
Deno.bench("checkHeaders, 1 header", { group: "rules" }, () => {
  checkHeaders(oneHeader);
});
Deno.bench("checkHeaders, 5 headers", { group: "rules" }, () => {
  checkHeaders(fiveHeaders);
});

/** A recorder that is asked but records nothing: the cost of the recorder hooks themselves. */
const declining: Recorder = { begin: () => undefined };
/** A recorder that takes every event and drops it: the cost of building the events. */
const dropping: Recorder = { begin: () => ({ record() {} }) };

const handlers: [string, (request: Request, i: typeof info) => Promise<Response>][] = [
  ["toFetch, no log, no recorder", toFetch(application, { errors: quiet })],
  ["toFetch, request log", toFetch(application, { errors: quiet, log: true })],
  ["toFetch, recorder that declines", toFetch(application, { errors: quiet, recorder: declining })],
  [
    "toFetch, recorder that drops events",
    toFetch(application, { errors: quiet, recorder: dropping }),
  ],
  [
    "toFetch, inspector store",
    toFetch(application, { errors: quiet, recorder: new ExchangeStore() }),
  ],
  [
    "toFetch, validator (the CLI's default)",
    toFetch(validator(application, { warn: () => {} }), { errors: quiet }),
  ],
];

/**
 * One request for every round trip: a new `Request` costs more than the
 * gateway itself and would hide it (a GET has no body, so it can be reused).
 */
const reused = wrkRequest();

Deno.bench("floor: reads, then the constant page", {
  group: "round trip",
  baseline: true,
}, async () => {
  const request = reused;
  sink.n += request.method.length + request.url.length + info.remoteAddr.port;
  request.headers.forEach((v, k) => sink.n += k.length + v.length);
  const response = new Response("<h1>Hello,web</h1>", { headers: { "Content-Type": "text/html" } });
  sink.n += (await response.arrayBuffer()).byteLength;
});
for (const [name, handler] of handlers) {
  Deno.bench(name, { group: "round trip" }, async () => {
    const response = await handler(reused, info);
    sink.n += (await response.arrayBuffer()).byteLength;
  });
}
