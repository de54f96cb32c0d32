/**
 * HAR import against the store's caps: a body bigger than `maxBodyBytes`
 * keeps its true size and only its first bytes, and only those are decoded;
 * the events an exchange dropped past `maxEvents` are still counted once it
 * is exported and imported again.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Application } from "../mod.ts";
import { toFetch } from "../server/gateway.ts";
import { toHar } from "../inspector/har.ts";
import { importHar } from "../inspector/har_import.ts";
import type { ExchangeDetail, ExchangeList, ImportResult } from "../inspector/protocol.ts";
import { ExchangeStore } from "../inspector/store.ts";
import { noise, withInspector } from "./_inspector.ts";

const encoder = new TextEncoder();

/**
 * Runs `fn` with the built-in decoders (base64 and UTF-8) watched, and
 * returns the most bytes one call of them made.
 */
function largestDecode(fn: () => void): number {
  let largest = 0;
  const note = (n: number) => void (largest = Math.max(largest, n));
  const fromBase64 = Uint8Array.fromBase64;
  const setFromBase64 = Uint8Array.prototype.setFromBase64;
  const encode = TextEncoder.prototype.encode;
  const encodeInto = TextEncoder.prototype.encodeInto;
  Uint8Array.fromBase64 = function (this: unknown, ...args) {
    const out = fromBase64.apply(this, args);
    note(out.length);
    return out;
  } as typeof fromBase64;
  Uint8Array.prototype.setFromBase64 = function (this: Uint8Array, ...args) {
    const out = setFromBase64.apply(this, args);
    note(out.written);
    return out;
  } as typeof setFromBase64;
  TextEncoder.prototype.encode = function (this: TextEncoder, ...args) {
    const out = encode.apply(this, args);
    note(out.length);
    return out;
  } as typeof encode;
  TextEncoder.prototype.encodeInto = function (this: TextEncoder, ...args) {
    const out = encodeInto.apply(this, args);
    note(out.written);
    return out;
  } as typeof encodeInto;
  try {
    fn();
  } finally {
    Uint8Array.fromBase64 = fromBase64;
    Uint8Array.prototype.setFromBase64 = setFromBase64;
    TextEncoder.prototype.encode = encode;
    TextEncoder.prototype.encodeInto = encodeInto;
  }
  return largest;
}

/** Imports `har` into `store`, every entry loaded; returns the details and the most bytes decoded at once. */
function importWatched(
  store: ExchangeStore,
  har: unknown,
): { details: ExchangeDetail[]; largest: number } {
  let result: ImportResult | undefined;
  const largest = largestDecode(() => result = importHar(store, har));
  assert.deepEqual(result!.skipped, []);
  return { details: result!.ids.map((id) => store.get(id)!.detail()), largest };
}

Deno.test("importHar() decodes of another tool's bodies only the bytes the store keeps, and keeps their true sizes", () => {
  const store = new ExchangeStore({ maxBodyBytes: 1000 });
  // Text whose three-byte characters straddle the cap (1000 = 333 * 3 + 1), and binary as base64.
  const text = "\u20ac".repeat(1024 * 1024) + "end";
  const textBytes = encoder.encode(text);
  const binary = noise(3 * 1024 * 1024 + 1, 3);
  const har = {
    log: {
      version: "1.2",
      entries: [{
        startedDateTime: "2026-01-02T03:04:05.678Z",
        time: 12,
        request: {
          method: "POST",
          url: "http://example.test/upload",
          headers: [{ name: "content-type", value: "text/plain; charset=utf-8" }],
          postData: { mimeType: "text/plain; charset=utf-8", text },
        },
        response: {
          status: 200,
          statusText: "OK",
          headers: [{ name: "content-type", value: "application/octet-stream" }],
          content: {
            size: binary.length,
            mimeType: "application/octet-stream",
            text: binary.toBase64(),
            encoding: "base64",
          },
        },
      }],
    },
  };
  const { details: [detail], largest } = importWatched(store, har);
  // The kept bytes and the rest of the chunk or character that holds the last of them.
  assert.ok(largest <= 1003, `decoded ${largest} bytes at once, for 1000 kept`);

  assert.deepEqual(detail!.request.body, {
    size: textBytes.length,
    bytes: textBytes.subarray(0, 1000).toBase64(),
    truncated: true,
  });
  assert.deepEqual(detail!.response.body, {
    size: binary.length,
    bytes: binary.subarray(0, 1000).toBase64(),
    truncated: true,
  });
  assert.equal(detail!.requestBytes, textBytes.length);
  assert.equal(detail!.responseBytes, binary.length);
  assert.equal(detail!.truncated, true);
  assert.equal(store.list().exchanges[0]!.truncated, true);
  // Exported, the sizes are the true ones.
  const entry = toHar([detail!]).log.entries[0]!;
  assert.equal(entry.request.bodySize, textBytes.length);
  assert.equal(entry.response.content.size, binary.length);
  assert.equal(
    entry.response.content.comment,
    `truncated: 1000 of ${binary.length} bytes captured`,
  );
});

Deno.test("importHar() decodes of an exported exchange's bodies only the bytes the store keeps, and keeps their true sizes", async () => {
  const request = encoder.encode("\u00e9".repeat(300 * 1024));
  const response = noise(900 * 1024, 5);
  const app: Application = async (environ, start_response) => {
    await environ["wsgi.input"].read();
    start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
    return [response.subarray(0, 1), response.subarray(1)];
  };
  const recorded = new ExchangeStore();
  const handler = toFetch(app, { recorder: recorded });
  await (await handler(new Request("http://localhost/big", { method: "PUT", body: request })))
    .arrayBuffer();
  const [original] = [...recorded.exchanges()].map((e) => e.detail());
  assert.equal(original!.truncated, false);
  const har = JSON.parse(JSON.stringify(toHar([original!])));

  const store = new ExchangeStore({ maxBodyBytes: 1000 });
  const { details: [detail], largest } = importWatched(store, har);
  assert.ok(largest <= 1003, `decoded ${largest} bytes at once, for 1000 kept`);
  assert.deepEqual(detail!.request.body, {
    size: request.length,
    bytes: request.subarray(0, 1000).toBase64(),
    truncated: true,
  });
  assert.deepEqual(detail!.response.body, {
    size: response.length,
    bytes: response.subarray(0, 1000).toBase64(),
    truncated: true,
  });
  assert.equal(detail!.truncated, true);
  // Each part keeps its size; the second chunk keeps what is left of the cap.
  const chunks = detail!.events.filter((e) => e.type === "chunk");
  assert.deepEqual(chunks.map((e) => e.data.bytes), [
    { stream: "response", offset: 0, size: 1, kept: 1 },
    { stream: "response", offset: 1, size: response.length - 1, kept: 999 },
  ]);
});

Deno.test("importHar() refuses a body of an exported exchange that says base64 and is not, naming the field", async () => {
  const recorded = new ExchangeStore();
  const handler = toFetch((_environ, start_response) => {
    start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
    return [noise(10)];
  }, { recorder: recorded });
  await (await handler(new Request("http://localhost/bin"))).arrayBuffer();
  const entry = JSON.parse(JSON.stringify(toHar([...recorded.exchanges()]).log.entries[0]));
  assert.equal(entry.response.content.encoding, "base64");
  entry.response.content.text = entry.response.content.text.slice(0, -3) + "*==";
  const result = importHar(new ExchangeStore({ maxBodyBytes: 4 }), { log: { entries: [entry] } });
  assert.deepEqual(result.ids, []);
  assert.deepEqual(result.skipped, [{
    entry: 0,
    error: `Entry 0: response.content.text must be base64, as its encoding says (got ${
      JSON.stringify(entry.response.content.text)
    })`,
  }]);
});

// ---------------------------------------------------------------------------
// Events dropped past maxEvents

/** Yields 40 chunks: more events than a budget of 10 keeps. */
const manyChunks: Application = (_environ, start_response) => {
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return (function* () {
    for (let i = 0; i < 40; i++) yield encoder.encode(`chunk ${i}\n`);
  })();
};

/** The `end` or `abort` event of a detail. */
function finish(detail: ExchangeDetail) {
  const last = detail.events.findLast((e) => e.type === "end" || e.type === "abort");
  assert.ok(last?.type === "end" || last?.type === "abort");
  return last;
}

Deno.test("HAR export then POST /api/import keeps the count of events dropped past maxEvents, and the list marks it truncated", async () => {
  await withInspector(manyChunks, async ({ app: server, origin }) => {
    await (await fetch(`${server.url}/many`)).arrayBuffer();
    const original: ExchangeDetail = await (await fetch(`${origin}/api/exchanges/1`)).json();
    const dropped = finish(original).data.dropped_events;
    assert.ok(dropped > 30, `${dropped} events dropped`);
    assert.equal(original.truncated, true);

    const har = await (await fetch(`${origin}/api/har`)).json();
    const response = await fetch(`${origin}/api/import`, {
      method: "POST",
      headers: { origin, "content-type": "application/json" },
      body: JSON.stringify(har),
    });
    const result: ImportResult = await response.json();
    assert.equal(response.status, 200, JSON.stringify(result));
    assert.equal(result.ids.length, 1);
    const imported: ExchangeDetail = await (await fetch(`${origin}/api/exchanges/${result.ids[0]}`))
      .json();
    assert.deepEqual(finish(imported), finish(original));
    assert.equal(imported.truncated, true);
    assert.deepEqual(imported.events, original.events);
    const list: ExchangeList = await (await fetch(`${origin}/api/exchanges`)).json();
    assert.deepEqual(list.exchanges.map((e) => [e.id, e.imported ?? false, e.truncated]), [
      [result.ids[0], true, true],
      ["1", false, true],
    ]);
  }, { maxEvents: 10 });
});

Deno.test("importHar() restores an abort's dropped events, and adds those its own store drops", async () => {
  const recorded = new ExchangeStore({ maxEvents: 20 });
  const handler = toFetch(manyChunks, { recorder: recorded });
  await (await handler(new Request("http://localhost/many"))).arrayBuffer();
  const original = [...recorded.exchanges()][0]!.detail();
  const kept = original.events.length;
  const dropped = finish(original).data.dropped_events;
  assert.ok(dropped > 0);
  const har = JSON.parse(JSON.stringify(toHar([original])));

  // Into a store that keeps fewer events: the file's dropped ones, and the store's own.
  const small = new ExchangeStore({ maxEvents: 10 });
  const { details: [fewer] } = importWatched(small, har);
  assert.equal(finish(fewer!).data.dropped_events, dropped + kept - fewer!.events.length);
  assert.equal(small.list().exchanges[0]!.truncated, true);

  // An abort (the client went away) says the same count.
  const entry = har.log.entries[0];
  const end = entry._timeline.findIndex((e: { type: string }) => e.type === "end");
  entry._timeline[end] = {
    type: "abort",
    t: entry._timeline[end].t,
    data: { reason: "the client went away", bytes: 0, dropped_events: dropped },
  };
  const store = new ExchangeStore({ maxEvents: 20 });
  const { details: [aborted] } = importWatched(store, har);
  assert.deepEqual(finish(aborted!).data, {
    reason: "the client went away",
    bytes: 0,
    dropped_events: dropped,
  });
  assert.equal(aborted!.state, "aborted");
  assert.equal(store.list().exchanges[0]!.truncated, true);
});
