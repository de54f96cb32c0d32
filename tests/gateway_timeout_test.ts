/**
 * The gateway's `timeout` option: a 504 while nothing was sent, a cut after,
 * both recorded; the synchronous fast path is never watched.
 */

import { equal, match, ok } from "node:assert/strict";
import { type Application, toFetch } from "../mod.ts";
import { EventLog, MemorySink, sleep, utf8, waitFor, withServer } from "./_helpers.ts";

const never = () => new Promise<never>(() => {});

Deno.test("toFetch() with a timeout answers 504 to an app that never returns, and records it", async () => {
  const errors = new MemorySink();
  const recorder = new EventLog();
  const entries: string[] = [];
  const handler = toFetch(async () => await never(), {
    errors,
    recorder,
    timeout: 100,
    log: (e) => entries.push(`${e.status} ${e.outcome}`),
  });
  const started = performance.now();
  const response = await handler(new Request("http://localhost/hang"));
  const waited = performance.now() - started;
  equal(response.status, 504);
  match(await response.text(), /did not answer within 0\.1 s/);
  ok(waited >= 100 && waited < 5000, `answered after the timeout (${waited} ms)`);
  const [error] = recorder.of("error");
  equal(error!.name, "TimeoutError");
  equal(error!.where, "gateway");
  equal(recorder.of("end")[0]!.status, 504);
  match(errors.text, /Timed out \(GET \/hang\)/);
  equal(entries.join(), "504 end");
});

Deno.test("toFetch() with a timeout cuts a stream that stalls after the headers went out", async () => {
  const recorder = new EventLog();
  const app: Application = (_environ, start_response) => {
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return (async function* () {
      yield utf8("first\n");
      await never();
    })();
  };
  await withServer(app, async (server) => {
    const response = await fetch(server.url);
    equal(response.status, 200);
    let cut = false;
    try {
      await response.text();
    } catch {
      cut = true;
    }
    ok(cut, "the client sees a cut connection, not a complete body");
    await waitFor(() => recorder.of("abort").length === 1, 5000, "the abort event");
    match(recorder.of("abort")[0]!.reason, /timed out after 0\.1 s/);
    equal(recorder.of("error")[0]!.name, "TimeoutError");
  }, { recorder, timeout: 100 });
});

Deno.test("toFetch() with a timeout leaves a fast answer alone, and keeps serving after a timeout", async () => {
  let hang = true;
  const app: Application = async (_environ, start_response) => {
    if (hang) await never();
    await sleep(1);
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return [utf8("ok")];
  };
  await withServer(app, async (server) => {
    const first = await fetch(server.url);
    equal(first.status, 504);
    await first.body?.cancel();
    hang = false;
    for (let i = 0; i < 3; i++) {
      const r = await fetch(server.url);
      equal(r.status, 200);
      equal(await r.text(), "ok");
    }
  }, { timeout: 200 });
});
