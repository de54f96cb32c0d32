/**
 * Recording under the CLI's dev loop, through real sockets: every exchange
 * an app process serves reaches the supervisor's inspector, even when the
 * app makes records faster than the supervisor takes them
 * (`server/dev/child.ts`: requests wait while the channel is behind).
 */

import { equal, ok } from "node:assert/strict";
import { eventually, get, startDev } from "./_dev.ts";
import type { ExchangeList } from "../inspector/protocol.ts";

/** Reads the whole body and answers it back: 2 × the body of records an exchange. */
const ECHO_APP =
  `export const application = async (environ: Record<string, any>, start_response: (s: string, h: [string, string][]) => void) => {
  const body = await environ["wsgi.input"].read();
  start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
  return [body];
};
`;

/** Sends `n` POSTs of `body` over `connections` keep-alive connections; returns the statuses. */
async function postMany(
  url: string,
  body: Uint8Array<ArrayBuffer>,
  n: number,
  connections: number,
) {
  let next = 0;
  const statuses: number[] = [];
  await Promise.all(Array.from({ length: connections }, async () => {
    while (next < n) {
      next++;
      const response = await fetch(url, { method: "POST", body });
      const echoed = new Uint8Array(await response.arrayBuffer());
      statuses.push(response.status === 200 && echoed.length === body.length ? 200 : 0);
    }
  }));
  return statuses;
}

Deno.test("CLI: every one of 200 POSTs of 100 KiB over 4 connections is recorded whole, even while the supervisor is stopped and 40 MiB of records pile up", async () => {
  const dev = await startDev({ "app.ts": ECHO_APP });
  const n = 200;
  const body = new Uint8Array(100 * 1024).map((_, i) => (i * 7919) & 0xff);
  let stopped = false;
  try {
    // The supervisor takes nothing while stopped; the app process serves its port itself, so
    // without backpressure it would record on until 16 MiB queued, then leave exchanges out.
    Deno.kill(dev.process.pid, "SIGSTOP");
    stopped = true;
    const sending = postMany(dev.url, body, n, 4);
    // Long enough for an app process that does not wait to serve them all (~0.3 s unloaded),
    // far short of the 5 s after which requests stop waiting for a stuck supervisor.
    await Promise.race([sending, new Promise((resolve) => setTimeout(resolve, 1500))]);
    Deno.kill(dev.process.pid, "SIGCONT");
    stopped = false;
    const statuses = await sending;
    equal(statuses.filter((s) => s === 200).length, n, "every POST was echoed whole");
    let list: ExchangeList | undefined;
    await eventually(
      async () => {
        list = JSON.parse((await get(`${dev.inspector}/api/exchanges?limit=${n}`)).text);
        // Some were left out (the app process says so on stderr): no need to wait for them.
        if (/not recorded/.test(dev.output())) return true;
        return list!.total >= n && list!.exchanges.every((x) => x.state !== "pending");
      },
      `the inspector to hold ${n} exchanges`,
      30_000,
    ).catch((error) => {
      throw new Error(
        `${error.message}: it holds ${list?.total}; the CLI printed:\n${dev.output().slice(-2000)}`,
      );
    });
    equal(list!.total, n, "one exchange a POST");
    for (const x of list!.exchanges) {
      equal(x.requestBytes, body.length, `exchange ${x.id}: the request body read`);
      equal(x.responseBytes, body.length, `exchange ${x.id}: the response body sent`);
      equal(x.truncated, false, `exchange ${x.id}: recorded whole`);
    }
    ok(!/not recorded/.test(dev.output()), `nothing was left unrecorded:\n${dev.output()}`);
  } finally {
    if (stopped) Deno.kill(dev.process.pid, "SIGCONT");
    await dev.cleanup();
  }
});
