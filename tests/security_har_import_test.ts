/**
 * A HAR file someone imports is attacker-controlled, and its size is capped
 * but not its count of entries: 256 MiB holds 128 million entries `0`. Each
 * skipped entry was listed in the answer with its reason (8 MB of `0`
 * entries took the inspector's thread 18 s, 1.7 GB of memory and a 314 MB
 * answer; the cap's 256 MiB would have taken it down), and each was checked.
 * The answer now lists the first 100 and counts the rest (`skippedMore`),
 * and an import reads no more of a file once the store is full or 1000 of
 * its entries were not HAR. Through `POST /api/import` over a socket.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Application } from "../mod.ts";
import { EntryError } from "../inspector/har_fields.ts";
import { entryDetail, INVALID_READ, SKIPPED_LISTED } from "../inspector/har_import.ts";
import type { ImportResult } from "../inspector/protocol.ts";
import { describeImport } from "../inspector/ui/import_note.ts";
import { withInspector } from "./_inspector.ts";

const app: Application = (_environ, start_response) => {
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode("ok")];
};

/** Another tool's HAR entry (a browser's), valid. */
const ENTRY = {
  startedDateTime: "2024-01-01T00:00:00.000Z",
  time: 1,
  request: {
    method: "GET",
    url: "http://127.0.0.1:8000/a",
    httpVersion: "HTTP/1.1",
    headers: [],
    queryString: [],
    cookies: [],
    headersSize: -1,
    bodySize: 0,
  },
  response: {
    status: 200,
    statusText: "OK",
    httpVersion: "HTTP/1.1",
    headers: [],
    cookies: [],
    content: { size: 0, mimeType: "text/plain" },
    redirectURL: "",
    headersSize: -1,
    bodySize: 0,
  },
  cache: {},
  timings: { send: 0, wait: 1, receive: 0 },
};

/** Posts a HAR whose entries are `entries` (JSON text, comma-separated); the answer and its size. */
async function importEntries(origin: string, entries: string) {
  const response = await fetch(`${origin}/api/import`, {
    method: "POST",
    headers: { origin, "content-type": "application/json" },
    body: `{"log":{"version":"1.2","entries":[${entries}]}}`,
  });
  const text = await response.text();
  return {
    status: response.status,
    size: text.length,
    body: JSON.parse(text) as ImportResult & { error?: string },
  };
}

const repeat = (text: string, count: number) => Array(count).fill(text).join(",");

Deno.test("POST /api/import lists the first 100 skipped entries and counts the rest", async () => {
  await withInspector(app, async ({ origin }) => {
    const count = 300_000;
    const { status, size, body } = await importEntries(origin, repeat("0", count));
    assert.equal(status, 400);
    assert.equal(body.skipped.length, SKIPPED_LISTED);
    assert.deepEqual(body.skipped[0], {
      entry: 0,
      error: "Entry 0: the entry must be an object (got 0)",
    });
    assert.equal(body.skipped.length + body.skippedMore!, count, "every entry counted");
    assert.ok(size < 20_000, `a short answer (${size} characters)`);
    assert.match(
      describeImport("x.har", body).text,
      /^Imported 0 exchanges from x\.har; skipped 300000: Entry 0: .*; and 299997 more$/,
    );
  });
});

Deno.test(`POST /api/import reads no more of a file once ${INVALID_READ} of its entries were not HAR`, async () => {
  await withInspector(app, async ({ origin }) => {
    const valid = JSON.stringify(ENTRY);
    // The entry after the cut is not read, though it is valid.
    const cut = await importEntries(origin, `${repeat("0", INVALID_READ)},${valid}`);
    assert.equal(cut.status, 400);
    assert.deepEqual(cut.body.ids, []);
    assert.equal(cut.body.skipped.length + cut.body.skippedMore!, INVALID_READ + 1);
    // One invalid entry fewer: it is loaded.
    const read = await importEntries(origin, `${repeat("0", INVALID_READ - 1)},${valid}`);
    assert.equal(read.status, 200, JSON.stringify(read.body).slice(0, 300));
    assert.equal(read.body.ids.length, 1);
    assert.equal(read.body.skipped.length + read.body.skippedMore!, INVALID_READ - 1);
  });
});

Deno.test("POST /api/import past a full store lists 100 entries not loaded and counts the rest", async () => {
  await withInspector(app, async ({ origin }) => {
    const count = 20_000;
    const { status, size, body } = await importEntries(
      origin,
      repeat(JSON.stringify(ENTRY), count),
    );
    assert.equal(status, 200);
    assert.equal(body.ids.length, 5);
    assert.equal(body.skipped.length, SKIPPED_LISTED);
    assert.deepEqual(body.skipped.map((s) => s.entry).slice(0, 2), [5, 6]);
    assert.match(body.skipped[0]!.error, /^Entry 5: not loaded: the store keeps at most 5 /);
    assert.equal(body.skippedMore, count - 5 - SKIPPED_LISTED);
    assert.ok(size < 40_000, `a short answer (${size} characters)`);
  }, { maxExchanges: 5 });
});

Deno.test("a refused HAR field is quoted from its start only, never stringified whole", async (t) => {
  await t.step("a field nested deep is refused with its start, through the API", async () => {
    // JSON.stringify of a value 5 million deep took 12 s; the message needs its first 57 characters.
    const depth = 300_000;
    await withInspector(app, async ({ origin }) => {
      const deep = `${"[".repeat(depth)}${"]".repeat(depth)}`;
      const { status, body } = await importEntries(
        origin,
        `{"_timeline":${deep}},{"request":{"method":"GET","url":${deep}},"response":{}}`,
      );
      assert.equal(status, 400);
      assert.deepEqual(body.skipped, [
        { entry: 0, error: `Entry 0: _timeline[0] must be an object (got ${"[".repeat(57)}...)` },
        { entry: 1, error: `Entry 1: request.url must be a string (got ${"[".repeat(57)}...)` },
      ]);
    });
  });
  await t.step("a large field is read only as far as the message quotes it", () => {
    // Counts the elements read: JSON.stringify reads every one.
    let reads = 0;
    const wide = new Proxy(Array.from({ length: 100_000 }, () => ({ a: 1 })), {
      get(target, key, receiver) {
        if (typeof key === "string" && /^\d+$/.test(key)) reads++;
        return Reflect.get(target, key, receiver);
      },
    });
    assert.throws(
      () => entryDetail({ _timeline: [wide] }),
      new EntryError(
        `_timeline[0] must be an object (got [${'{"a":1},'.repeat(7)}...)`,
      ),
    );
    assert.ok(reads < 20, `${reads} elements read`);
  });
  await t.step("a request.url that is no URL is quoted from its start", () => {
    assert.throws(
      () =>
        entryDetail({ request: { method: "GET", url: "no url ".repeat(1_000_000) }, response: {} }),
      new EntryError(`request.url must be an absolute URL (got "${"no url ".repeat(8)}...)`),
    );
  });
});
