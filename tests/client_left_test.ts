/**
 * A client that goes away while the app still runs, before the response's
 * headers went out, is an event of the exchange at that moment (the
 * gateway's `watchClient`): through the real CLI, whose app processes run
 * with `--unstable-no-legacy-abort`, so Deno prints no warning about its
 * request signal.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { ExchangeDetail, ExchangeList } from "../inspector/protocol.ts";
import { reduce } from "../inspector/timeline.ts";
import { sleep } from "./_helpers.ts";
import { eventually, get, startDev } from "./_dev.ts";

const SLOW = `export const application = async (
  environ: Record<string, unknown>,
  start_response: (s: string, h: [string, string][]) => void,
) => {
  if (environ.PATH_INFO === "/slow") await new Promise((r) => setTimeout(r, 1500));
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode("late answer")];
};
`;

Deno.test({
  name:
    "under the CLI, a client that leaves before the headers is a client.left lint at that moment",
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dev = await startDev({ "app.ts": SLOW });
    try {
      assert.equal((await get(`${dev.url}/fast`)).text, "late answer");
      const controller = new AbortController();
      const gone = fetch(`${dev.url}/slow`, { signal: controller.signal }).catch((e) => e);
      await sleep(300);
      controller.abort();
      await gone;
      let detail: ExchangeDetail | undefined;
      await eventually(
        async () => {
          const list: ExchangeList = await (await fetch(`${dev.inspector}/api/exchanges`)).json();
          const slow = list.exchanges.find((e) => e.target === "/slow");
          if (slow === undefined || slow.state === "pending") return false;
          detail = await (await fetch(`${dev.inspector}/api/exchanges/${slow.id}`)).json();
          return true;
        },
        "the slow exchange ends",
        10_000,
      );
      const events = detail!.events;
      const left = events.findIndex((e) => e.type === "lint" && e.data.rule === "client.left");
      assert.ok(left !== -1, `a client.left lint (got ${events.map((e) => e.type).join(", ")})`);
      const event = events[left]!;
      assert.ok(event.t >= 200 && event.t < 1200, `at the moment the client left (${event.t} ms)`);
      assert.ok(
        left < events.findIndex((e) => e.type === "start_response"),
        "before the app answered",
      );
      assert.deepEqual(reduce(events).clientLeft, { t: event.t, by: "client.left" });
      // A complete exchange gets no such event, and Deno said nothing about its signal.
      const fast: ExchangeList = await (await fetch(`${dev.inspector}/api/exchanges`)).json();
      const first: ExchangeDetail = await (await fetch(
        `${dev.inspector}/api/exchanges/${fast.exchanges.find((e) => e.target === "/fast")!.id}`,
      )).json();
      assert.equal(first.events.filter((e) => e.type === "lint").length, 0);
      await sleep(200);
      assert.doesNotMatch(dev.output(), /legacy behavior|request\.signal/);
    } finally {
      await dev.cleanup();
    }
  },
});
