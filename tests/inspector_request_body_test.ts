/**
 * The request as the client sent it (issue 9 item 3): the inspector records
 * the whole request body whether the app read none, part or all of it,
 * byte for byte, and says which part the app read; what the app reads is
 * never changed; HAR, copy as curl and replay use the whole body. Real
 * sockets: `serve()` with the inspector recording, plus raw requests where
 * the framing matters.
 *
 * @module
 */

import { deepEqual, equal, ok, throws } from "node:assert/strict";
import type { Application } from "../server/types.ts";
import type { ExchangeDetail } from "../inspector/protocol.ts";
import { harEntry } from "../inspector/har.ts";
import { curlCommand } from "../inspector/ui/curl.ts";
import { openExchange } from "../inspector/ui/open_exchange.ts";
import { noise, stateOf, withInspector } from "./_inspector.ts";
import { sleep } from "./_helpers.ts";

/** Reads `?read=N` bytes of the body (all when N is `all`, none when absent), and answers them back. */
const readsApp: Application = async (environ, start_response) => {
  const want = new URLSearchParams(environ.QUERY_STRING).get("read");
  const input = environ["wsgi.input"];
  const got = want === null
    ? new Uint8Array(0)
    : await input.read(want === "all" ? undefined : Number(want));
  start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
  return [got];
};

/** Waits until exchange `id` has a drained rest, or is finished with nothing to drain. */
async function settled(origin: string, id: string, drained: boolean): Promise<ExchangeDetail> {
  const end = Date.now() + 5000;
  for (;;) {
    const detail = await (await fetch(`${origin}/api/exchanges/${id}`)).json() as ExchangeDetail;
    const done = detail.state !== "pending" &&
      (!drained || detail.events.some((e) => e.type === "input_rest"));
    if (done) return detail;
    if (Date.now() > end) {
      throw new Error(`Timed out waiting for exchange ${id} to settle: ${JSON.stringify(detail)}`);
    }
    await sleep(20);
  }
}

for (
  const [name, read, drained] of [
    ["none", null, true],
    ["part", 3000, true],
    ["all", "all", false],
  ] as const
) {
  Deno.test(`the inspector records the whole request body, byte for byte, when the app read ${name} of it`, async () => {
    await withInspector(readsApp, async ({ app, origin, inspector }) => {
      const body = noise(10_000, 3);
      const query = read === null ? "" : `?read=${read}`;
      const response = await fetch(`${app.url}/up${query}`, { method: "POST", body });
      const answer = new Uint8Array(await response.arrayBuffer());
      const appRead = read === null ? 0 : read === "all" ? body.length : read;
      deepEqual(answer, body.subarray(0, appRead), "the app read exactly what it asked for");

      const detail = await settled(origin, "1", drained);
      deepEqual(Uint8Array.fromBase64(detail.request.body.bytes), body, "the body as sent");
      equal(detail.request.body.size, body.length);
      equal(detail.request.body.truncated, false);
      equal(detail.requestBytes, appRead, "the summary counts what the app read");
      const state = stateOf(detail);
      equal(state.input.read, appRead);
      equal(state.input.rest, body.length - appRead);
      const rest = detail.events.filter((e) => e.type === "input_rest");
      equal(rest.length, drained ? 1 : 0);
      if (rest[0]?.type === "input_rest") {
        deepEqual(rest[0].data.bytes, {
          stream: "request",
          offset: appRead,
          size: body.length - appRead,
          kept: body.length - appRead,
        });
        equal(rest[0].data.complete, true);
      }
      const sent = inspector.store.get("1")!.requestBody();
      deepEqual(sent.bytes, body);
      equal(sent.read, appRead);
      equal(sent.complete, true);

      // HAR's postData and copy as curl carry the whole body.
      const har = harEntry(detail);
      deepEqual(Uint8Array.fromBase64(har.request.postData!.text), body);
      equal(har.request.postData!._encoding, "base64");
      equal(har.request.bodySize, body.length);
      const open = openExchange(detail);
      const curl = curlCommand({
        state: open.state,
        body: open.request.bytes(),
        appUrl: "http://127.0.0.1:8000",
      });
      ok(
        curl.startsWith(
          `printf %s ${body.toBase64()} | base64 -d | curl -q -X POST`,
        ),
        curl.slice(0, 80),
      );
    });
  });
}

Deno.test("the drained rest stops at the cap: kept bytes exact, marked truncated, replay refused", async () => {
  await withInspector(readsApp, async ({ app, origin, inspector }) => {
    const body = noise(5000, 4);
    await (await fetch(`${app.url}/up?read=1000`, { method: "POST", body })).arrayBuffer();
    const detail = await settled(origin, "1", true);
    deepEqual(Uint8Array.fromBase64(detail.request.body.bytes), body.subarray(0, 2048));
    ok(detail.request.body.truncated);
    ok(detail.truncated);
    equal(detail.requestBytes, 1000);
    const sent = inspector.store.get("1")!.requestBody();
    equal(sent.complete, false);
    const replay = await fetch(`${origin}/api/exchanges/1/replay`, {
      method: "POST",
      headers: { origin },
    });
    equal(replay.status, 409);
    await replay.body?.cancel();
    // Copy as curl refuses it too: the kept bytes would be another request.
    const open = openExchange(detail);
    throws(
      () => curlCommand({ state: open.state, body: open.request.bytes(), appUrl: app.url }),
      /Cannot copy as curl: the request body was captured only up to 2048 of 2048\+ bytes; raise --max-body-bytes/,
    );
  }, { maxBodyBytes: 2048 });
});

Deno.test("a replay sends the whole body as the client sent it, though the app read none", async () => {
  await withInspector(readsApp, async ({ app, origin }) => {
    const body = new TextEncoder().encode("name=Ada&lang=en");
    await (await fetch(`${app.url}/form`, { method: "POST", body })).arrayBuffer();
    await settled(origin, "1", true);
    const result = await (await fetch(`${origin}/api/exchanges/1/replay`, {
      method: "POST",
      headers: { origin },
    })).json();
    const replayed = await settled(origin, result.id, true);
    deepEqual(Uint8Array.fromBase64(replayed.request.body.bytes), body);
  });
});

Deno.test("a chunked upload the app read in part is recorded whole", async () => {
  await withInspector(readsApp, async ({ app, origin }) => {
    const parts = [noise(1500, 8), noise(2500, 9)];
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of parts) controller.enqueue(part);
        controller.close();
      },
    });
    await (await fetch(`${app.url}/chunked?read=100`, { method: "POST", body: stream }))
      .arrayBuffer();
    const detail = await settled(origin, "1", true);
    const whole = new Uint8Array([...parts[0]!, ...parts[1]!]);
    deepEqual(Uint8Array.fromBase64(detail.request.body.bytes), whole);
    equal(detail.requestBytes, 100);
    const rest = detail.events.find((e) => e.type === "input_rest");
    ok(rest?.type === "input_rest" && rest.data.complete);
  });
});

Deno.test("draining never changes what the app reads, even when it reads after its response", async () => {
  let late: Uint8Array | undefined;
  const app: Application = (environ, start_response) => {
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    const input = environ["wsgi.input"];
    return (async function* () {
      yield new TextEncoder().encode("answered");
      // Read once the response is nearly done: the drain may have buffered these bytes.
      late = await input.read();
    })();
  };
  await withInspector(app, async ({ app: server, origin }) => {
    const body = noise(3000, 10);
    equal(await (await fetch(server.url, { method: "POST", body })).text(), "answered");
    const detail = await settled(origin, "1", false);
    deepEqual(late, body);
    deepEqual(Uint8Array.fromBase64(detail.request.body.bytes), body);
  });
});
