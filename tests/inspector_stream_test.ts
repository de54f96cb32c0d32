/**
 * The live streams scoped to interest, over real sockets: the list's stream
 * without events (`GET /api/stream?events=none`) and one exchange's stream
 * (`GET /api/exchanges/:id/stream`), with the guard in front of both.
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import type { ExchangeDetail, StreamMessage } from "../inspector/protocol.ts";
import type { Application } from "../server/types.ts";
import { noise, SseReader, textApp, withInspector } from "./_inspector.ts";

type EventMessage = Extract<StreamMessage, { kind: "event" }>;

/** The `data:` messages of a whole SSE body. */
function messagesOf(text: string): StreamMessage[] {
  return text.split("\n").filter((line) => line.startsWith("data: ")).map((line) =>
    JSON.parse(line.slice(6))
  );
}

/** The kept bytes the events of one stream added, in order. */
function bytesOf(events: EventMessage[], stream: "request" | "response"): Uint8Array {
  const parts = events.filter((m) => {
    const ref = "bytes" in m.event.data ? m.event.data.bytes : undefined;
    return typeof ref === "object" && ref.stream === stream && m.bytes !== undefined;
  }).map((m) => Uint8Array.fromBase64(m.bytes!));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** An app whose response waits for `release()` between its two chunks. */
function gatedApp(): { app: Application; release: () => void } {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => release = resolve);
  const app: Application = (_environ, start_response) => {
    start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
    return (async function* () {
      yield noise(3000, 7);
      await gate;
      yield noise(5000, 8);
    })();
  };
  return { app, release };
}

Deno.test("GET /api/stream?events=none sends every summary and no event", async () => {
  await withInspector(textApp, async ({ app, origin }) => {
    const light = new SseReader(await fetch(`${origin}/api/stream?events=none`));
    const full = new SseReader(await fetch(`${origin}/api/stream`));
    try {
      await light.until((_, comments) => comments.includes("connected"), "connected");
      await full.until((_, comments) => comments.includes("connected"), "connected");
      for (let i = 0; i < 20; i++) await (await fetch(`${app.url}/n${i}`)).text();
      const done = (messages: StreamMessage[]) =>
        messages.filter((m) => m.kind === "exchange" && m.exchange.state === "complete")
          .length === 20;
      await light.until(done, "20 complete summaries");
      await full.until(done, "20 complete summaries");
      equal(light.messages.filter((m) => m.kind === "event").length, 0, "no event message");
      ok(full.messages.filter((m) => m.kind === "event").length >= 20 * 7, "events by default");
      const targets = (messages: StreamMessage[]) =>
        new Set(messages.flatMap((m) => m.kind === "exchange" ? [m.exchange.target] : []));
      deepEqual(targets(light.messages), targets(full.messages));
      deepEqual(
        light.messages,
        full.messages.filter((m) => m.kind !== "event"),
        "the same summaries, in the same order",
      );
      const [code, text] = await fetch(`${origin}/api/stream?events=some`).then(async (
        r,
      ) => [r.status, await r.text()] as const);
      equal(code, 400);
      match(JSON.parse(text).error, /events must be "all" or "none" \(got "some"\)/);
    } finally {
      await light.cancel();
      await full.cancel();
    }
  });
});

Deno.test("GET /api/exchanges/:id/stream sends one exchange's events live, byte-exact, and ends after its end", async () => {
  const second = gatedApp();
  await withInspector(second.app, async ({ app, origin }) => {
    // The gate opens whatever happens, so that the servers can stop.
    try {
      const list = new SseReader(await fetch(`${origin}/api/stream?events=none`));
      await list.until((_, comments) => comments.includes("connected"), "connected");
      // Another exchange beside it, so that its events are left out.
      const other = fetch(`${app.url}/other`).then((r) => r.arrayBuffer());
      const answer = fetch(`${app.url}/watched`).then((r) => r.arrayBuffer());
      const sent = (target: string) =>
        list.messages.find((m) =>
          m.kind === "exchange" && m.exchange.target === target && m.exchange.status === 200
        ) as Extract<StreamMessage, { kind: "exchange" }> | undefined;
      await list.until(
        () => sent("/other") !== undefined && sent("/watched") !== undefined,
        "both",
      );
      await list.cancel();
      const id = sent("/watched")!.exchange.id;
      // Both wait at the gate: the stream of exchange 2 gives what is kept, then goes on.
      const response = await fetch(`${origin}/api/exchanges/${id}/stream`);
      equal(response.status, 200);
      equal(response.headers.get("content-type"), "text/event-stream; charset=utf-8");
      const sse = new SseReader(response);
      await sse.until(
        (messages) => messages.some((m) => m.kind === "event" && m.event.type === "chunk"),
        "the first chunk, from what is kept",
      );
      ok(!sse.messages.some((m) => m.kind === "event" && m.event.type === "end"), "still pending");
      second.release();
      const body = new Uint8Array(await answer);
      await other;
      await sse.until(
        (messages) => messages.some((m) => m.kind === "event" && m.event.type === "end"),
        "the end, live",
      );
      const events = sse.messages as EventMessage[];
      ok(events.every((m) => m.kind === "event" && m.id === id), "only that exchange's events");
      deepEqual(events.map((m) => m.index), events.map((_, i) => i), "every index, in order");
      const detail = await (await fetch(`${origin}/api/exchanges/${id}`)).json() as ExchangeDetail;
      deepEqual(events.map((m) => m.event), detail.events, "exactly the recorded events");
      deepEqual(bytesOf(events, "response"), body, "the body, byte-exact");
      // The stream ended after the end: the reader sees its close.
      let ended = false;
      try {
        await sse.until(() => false, "the stream's close", 2000);
      } catch (error) {
        ended = /ended/.test((error as Error).message);
      }
      ok(ended, "the stream ends after the exchange's end");
    } finally {
      second.release();
    }
  });
});

Deno.test("GET /api/exchanges/:id/stream of an ended exchange sends its events from ?from= and ends; 404 unknown", async () => {
  await withInspector(textApp, async ({ app, origin }) => {
    await (await fetch(`${app.url}/done`)).text();
    const detail = await (await fetch(`${origin}/api/exchanges/1`)).json() as ExchangeDetail;
    const all = messagesOf(await (await fetch(`${origin}/api/exchanges/1/stream`)).text());
    deepEqual(all.map((m) => m.kind === "event" && m.event), detail.events);
    const rest = messagesOf(await (await fetch(`${origin}/api/exchanges/1/stream?from=3`)).text());
    deepEqual(rest.map((m) => m.kind === "event" && m.index), all.slice(3).map((_, i) => i + 3));
    deepEqual(rest, all.slice(3));
    const missing = await fetch(`${origin}/api/exchanges/99/stream`);
    equal(missing.status, 404);
    match((await missing.json()).error, /^No exchange "99"/);
    const bad = await fetch(`${origin}/api/exchanges/1/stream?from=-1`);
    equal(bad.status, 400);
    match((await bad.json()).error, /from must be an event index of at least 0 \(got "-1"\)/);
  });
});

Deno.test("the scoped streams need the token in token mode, as the other reads do", async () => {
  await withInspector(textApp, async ({ app, origin, inspector }) => {
    await (await fetch(`${app.url}/secret`)).text();
    const bearer = { authorization: `Bearer ${inspector.token}` };
    for (const path of ["/api/stream?events=none", "/api/exchanges/1/stream"]) {
      const denied = await fetch(`${origin}${path}`);
      equal(denied.status, 401, path);
      match((await denied.json()).error, /access token/);
      const crossSite = await fetch(`${origin}${path}`, {
        headers: { ...bearer, "sec-fetch-site": "cross-site", "sec-fetch-mode": "cors" },
      });
      equal(crossSite.status, 403, path);
      await crossSite.body?.cancel();
      const allowed = await fetch(`${origin}${path}`, { headers: bearer });
      equal(allowed.status, 200, path);
      await allowed.body?.cancel();
    }
  }, { token: true });
});
