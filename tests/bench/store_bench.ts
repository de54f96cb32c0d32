/**
 * Micro-benchmarks of what the inspector's API asks of the store: a page of
 * the list (plain and filtered) and one exchange's detail, over a full store
 * of 1000 recorded exchanges. `deno bench -A tests/bench/store_bench.ts`
 * (pin it for steadier numbers: `taskset -c 0 deno bench -A ...`).
 *
 * The store is filled through the real gateway (`toFetch` with the store as
 * its recorder): 990 hello exchanges and 10 that post and answer 100 KiB.
 *
 * @module
 */

import { toFetch } from "../../server/gateway.ts";
import { ExchangeStore } from "../../inspector/store.ts";
import { toHar } from "../../inspector/har.ts";
import { application as hello } from "../../examples/hello.ts";
import type { Application } from "../../server/types.ts";

const BIG = 100 * 1024;
const echo: Application = async (environ, start_response) => {
  const body = await environ["wsgi.input"].read();
  start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
  return [body];
};

const store = new ExchangeStore();
const helloFetch = toFetch(hello, { recorder: store });
const echoFetch = toFetch(echo, { recorder: store });
const headers = {
  host: "127.0.0.1:8000",
  "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0",
  accept: "text/html,application/xhtml+xml",
  "accept-language": "en-GB,en;q=0.9",
};
for (let i = 0; i < 1000; i++) {
  const response = i % 100 === 50
    ? await echoFetch(
      new Request(`http://127.0.0.1:8000/upload/${i}`, {
        method: "POST",
        headers,
        body: new Uint8Array(BIG).fill(i & 0xff),
      }),
    )
    : await helloFetch(new Request(`http://127.0.0.1:8000/page/${i}?q=${i}`, { headers }));
  await response.arrayBuffer();
}
if (store.size !== 1000) throw new Error(`the store kept ${store.size} exchanges, not 1000`);
const newest = store.list({ limit: 1 }).exchanges[0]!;
const big = store.list({ method: "POST", limit: 1 }).exchanges[0]!;

Deno.bench("list: the newest 100", { group: "list", baseline: true }, () => {
  store.list({ limit: 100 });
});
Deno.bench("list: every kept exchange (1000)", { group: "list" }, () => {
  store.list({ limit: 1000 });
});
Deno.bench("list: filtered by method and status", { group: "list" }, () => {
  store.list({ method: "POST", status: "2xx", limit: 100 });
});
Deno.bench("list: filtered by path text", { group: "list" }, () => {
  store.list({ q: "page/99", limit: 100 });
});

Deno.bench("detail: a hello exchange", { group: "detail", baseline: true }, () => {
  store.get(newest.id)!.detail();
});
Deno.bench("detail: 100 KiB up and down", { group: "detail" }, () => {
  store.get(big.id)!.detail();
});
Deno.bench("HAR: a hello exchange", { group: "detail" }, () => {
  toHar([store.get(newest.id)!.detail()]);
});
