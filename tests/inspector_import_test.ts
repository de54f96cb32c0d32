/**
 * The side port's search in bodies, HAR import and test export, over HTTP
 * against a real app server recording into a real inspector.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Application } from "../mod.ts";
import type { ExchangeDetail, ExchangeList, ImportResult } from "../inspector/protocol.ts";
import { bytesContain } from "../inspector/search.ts";
import { describeImport } from "../inspector/ui/import_note.ts";
import { sleep } from "./_helpers.ts";
import { bodyText, noise, withInspector } from "./_inspector.ts";

const encoder = new TextEncoder();
const EVICTED_NONE = { recorded: 0, imported: 0 };
const BINARY = noise(300, 7);

/** Routes that give each kind of exchange: text, JSON, binary, streamed, partly read, failing. */
const app: Application = async (environ, start_response) => {
  switch (environ.PATH_INFO) {
    case "/json": {
      const body = new TextDecoder().decode(await environ["wsgi.input"].read());
      start_response("201 Created", [["Content-Type", "application/json"], ["X-App", "yes"]]);
      return [encoder.encode(JSON.stringify({ echoed: body, Needle: "Haystack" }))];
    }
    case "/binary":
      start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
      return [BINARY];
    case "/stream":
      start_response("200 OK", [["Content-Type", "text/event-stream"]]);
      return (async function* () {
        yield encoder.encode("id: 1\ndata: one\n\n");
        await sleep(5);
        yield encoder.encode("event: tick\ndata: two\n\n");
      })();
    case "/partial": {
      const head = await environ["wsgi.input"].read(4);
      environ["wsgi.errors"].write("read four bytes\n");
      start_response("200 OK", [["Content-Type", "text/plain"], ["Set-Cookie", "a=1"], [
        "Set-Cookie",
        "b=2",
      ]]);
      return [head];
    }
    case "/boom":
      throw new Error("kaboom");
    default:
      start_response("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
      return [encoder.encode(`plain page at ${environ.PATH_INFO}`)];
  }
};

async function send(url: string, init?: RequestInit): Promise<number> {
  const response = await fetch(url, init);
  await response.arrayBuffer();
  return response.status;
}

/** The detail without what an import changes: its place in the store and its mark. */
function comparable(detail: ExchangeDetail): Omit<ExchangeDetail, "id" | "seq"> {
  const { id: _id, seq: _seq, imported: _imported, replayOf: _replayOf, ...rest } = detail;
  return rest;
}

async function recordEveryKind(base: string): Promise<void> {
  assert.equal(await send(`${base}/json`, { method: "POST", body: '{"a": [1, 2]}' }), 201);
  assert.equal(await send(`${base}/binary`), 200);
  assert.equal(await send(`${base}/stream`), 200);
  assert.equal(
    await send(`${base}/partial?x=1`, { method: "PUT", body: "abcdefghij".repeat(50) }),
    200,
  );
  assert.equal(await send(`${base}/boom`), 500);
  assert.equal(await send(`${base}/plain?q=needle`), 200);
}

Deno.test("bytesContain() finds UTF-8 text, ASCII letters in any case", () => {
  const hay = encoder.encode('{"Greeting":"Grüße, WEB"}');
  assert.ok(bytesContain("greeting")(hay));
  assert.ok(bytesContain("grüße, web")(hay));
  assert.ok(!bytesContain("GRÜSSE")(hay));
  assert.ok(bytesContain("")(hay));
  assert.ok(!bytesContain("x")(new Uint8Array(0)));
});

Deno.test("GET /api/exchanges?body= searches request and response bodies of every kept exchange", async () => {
  await withInspector(app, async ({ app: server, origin }) => {
    await recordEveryKind(server.url);
    const list = async (query: string) => {
      const response = await fetch(`${origin}/api/exchanges?${query}`);
      const body = await response.json();
      return { status: response.status, body };
    };
    const targets = async (query: string) =>
      ((await list(query)).body as ExchangeList).exchanges.map((e) => e.target);

    // In a response body (any case), in a request body, in both.
    assert.deepEqual(await targets("body=haystack"), ["/json"]);
    assert.deepEqual(await targets("body=ABCDEFGHIJ"), ["/partial?x=1"]);
    assert.deepEqual(await targets("body=data%3A%20two"), ["/stream"]);
    // The part the app left unread was drained, and is searched too.
    assert.deepEqual(await targets("body=hijabcdefghij"), ["/partial?x=1"]);
    // Every body word must match; other filters still apply.
    assert.deepEqual(await targets("body=echoed&body=needle"), ["/json"]);
    assert.deepEqual(await targets("body=echoed&body=nothing-like-this"), []);
    assert.deepEqual(await targets("body=plain%20page&method=GET"), ["/plain?q=needle"]);
    assert.equal((await list("body=plain&limit=1")).body.total, 1);
    // The 500 page's text is a body like any other.
    assert.deepEqual(await targets("body=internal%20server%20error"), ["/boom"]);
    const empty = await list("body=");
    assert.equal(empty.status, 400);
    assert.match(empty.body.error, /body must be some text to look for/);
  });
});

Deno.test("HAR export then POST /api/import gives the same detail, marked imported, and replays", async () => {
  await withInspector(app, async ({ app: server, origin, inspector }) => {
    await recordEveryKind(server.url);
    const har = await (await fetch(`${origin}/api/har`)).json();
    const originals: ExchangeDetail[] = [];
    for (const entry of har.log.entries) {
      originals.push(await (await fetch(`${origin}/api/exchanges/${entry._id}`)).json());
    }
    assert.equal(originals.length, 6);

    const refused = await fetch(`${origin}/api/import`, {
      method: "POST",
      body: JSON.stringify(har),
    });
    assert.equal(refused.status, 403, "a state change needs the inspector's own Origin");
    await refused.body?.cancel();

    const response = await fetch(`${origin}/api/import`, {
      method: "POST",
      headers: { origin, "content-type": "application/json" },
      body: JSON.stringify(har),
    });
    assert.equal(response.status, 200);
    const result: ImportResult = await response.json();
    assert.deepEqual(result.skipped, []);
    assert.equal(result.ids.length, 6);
    assert.equal(inspector.store.size, 12);

    for (const [i, id] of result.ids.entries()) {
      const imported: ExchangeDetail = await (await fetch(`${origin}/api/exchanges/${id}`)).json();
      assert.equal(imported.imported, true);
      assert.equal(imported.id, id);
      assert.deepEqual(comparable(imported), comparable(originals[i]!), `entry ${i}`);
    }
    // The list says so too, and the search finds imported bodies.
    const listed: ExchangeList = await (await fetch(`${origin}/api/exchanges?body=haystack`))
      .json();
    assert.deepEqual(listed.exchanges.map((e) => [e.target, e.imported ?? false]), [
      ["/json", true],
      ["/json", false],
    ]);
    // Exported again, the imported exchanges give the same HAR (ids aside).
    const again = await (await fetch(`${origin}/api/har`)).json();
    const strip = (entry: Record<string, unknown>) => ({ ...entry, _id: "" });
    assert.deepEqual(again.log.entries.slice(6).map(strip), har.log.entries.map(strip));

    // An imported exchange replays like a recorded one: the whole body as the client sent it.
    const partial = result.ids[3]!;
    const replayed = await fetch(`${origin}/api/exchanges/${partial}/replay`, {
      method: "POST",
      headers: { origin, "content-type": "application/json" },
      body: "{}",
    });
    assert.equal(replayed.status, 200);
    const replay = await replayed.json();
    assert.deepEqual(replay.changes, []);
    const detail: ExchangeDetail = await (await fetch(`${origin}/api/exchanges/${replay.id}`))
      .json();
    assert.equal(detail.replayOf, partial);
    assert.equal(bodyText(detail.request.body), "abcdefghij".repeat(50));
  });
});

Deno.test("POST /api/import takes another tool's HAR, and says which entries it skipped and why", async () => {
  await withInspector(app, async ({ origin }) => {
    const post = (body: string) =>
      fetch(`${origin}/api/import`, { method: "POST", headers: { origin }, body });
    const browserHar = {
      log: {
        version: "1.2",
        creator: { name: "a browser", version: "1" },
        entries: [
          {
            startedDateTime: "2026-01-02T03:04:05.678Z",
            time: 42.5,
            request: {
              method: "POST",
              url: "https://example.test/api/items?page=2",
              httpVersion: "http/2.0",
              headers: [
                { name: ":authority", value: "example.test" },
                { name: "content-type", value: "application/json" },
              ],
              postData: { mimeType: "application/json", text: '{"name":"cup"}' },
            },
            response: {
              status: 201,
              statusText: "Created",
              headers: [{ name: "content-type", value: "application/json" }],
              content: {
                size: 12,
                mimeType: "application/json",
                text: "eyJpZCI6IDd9",
                encoding: "base64",
              },
            },
            timings: { send: 1, wait: 30, receive: 11.5 },
          },
          { startedDateTime: "2026-01-02T03:04:06Z", request: { method: 7 }, response: {} },
          {
            startedDateTime: "2026-01-02T03:04:07Z",
            time: 5,
            request: { method: "GET", url: "http://example.test/gone", headers: [] },
            response: { status: 0, statusText: "", headers: [], content: {} },
          },
        ],
      },
    };
    const response = await post(JSON.stringify(browserHar));
    assert.equal(response.status, 200);
    const result: ImportResult = await response.json();
    assert.equal(result.ids.length, 2);
    assert.deepEqual(result.skipped, [
      { entry: 1, error: "Entry 1: request.method must be a string (got 7)" },
    ]);
    const detail: ExchangeDetail = await (await fetch(`${origin}/api/exchanges/${result.ids[0]}`))
      .json();
    assert.equal(detail.method, "POST");
    assert.equal(detail.target, "/api/items?page=2");
    assert.equal(detail.status, 201);
    assert.equal(detail.statusLine, "201 Created");
    assert.equal(detail.startedAt, Date.parse("2026-01-02T03:04:05.678Z"));
    assert.equal(detail.duration, 42.5);
    assert.equal(bodyText(detail.request.body), '{"name":"cup"}');
    assert.equal(bodyText(detail.response.body), '{"id": 7}');
    const request = detail.events[0]!;
    assert.ok(request.type === "request");
    assert.deepEqual(request.data.headers, [
      ["host", "example.test"],
      ["content-type", "application/json"],
    ]);
    const gone: ExchangeDetail = await (await fetch(`${origin}/api/exchanges/${result.ids[1]}`))
      .json();
    assert.equal(gone.state, "aborted");
    assert.equal(gone.status, null);

    const notJson = await post("not json at all");
    assert.equal(notJson.status, 400);
    assert.match((await notJson.json()).error, /^Cannot import: the file is not JSON/);
    const notHar = await post('{"log": {}}');
    assert.equal(notHar.status, 400);
    assert.match((await notHar.json()).error, /not a HAR document \(no log\.entries\)/);
    const badTimeline = await post(JSON.stringify({
      log: {
        entries: [{
          _timeline: [{ type: "request", t: 0, data: { method: "GET" } }],
          request: {},
          response: { content: {} },
        }],
      },
    }));
    assert.equal(badTimeline.status, 400);
    const answer = await badTimeline.json();
    assert.deepEqual(answer.skipped, [
      { entry: 0, error: "Entry 0: _timeline[0].data.target must be a string (got undefined)" },
    ]);
  });
});

Deno.test("POST /api/import refuses a file over its size limit", async () => {
  await withInspector(app, async ({ origin }) => {
    const response = await fetch(`${origin}/api/import`, {
      method: "POST",
      headers: { origin },
      body: JSON.stringify({ log: { entries: [], pad: "x".repeat(2048) } }),
    });
    assert.equal(response.status, 413);
    assert.match((await response.json()).error, /larger than 1024 bytes/);
  }, { maxImportBytes: 1024 });
});

// ---------------------------------------------------------------------------
// HAR export

// deno-lint-ignore no-explicit-any
type Json = any;

Deno.test("GET /api/har leaves out an exchange it cannot export, and says so, instead of failing", async () => {
  await withInspector(app, async ({ app: server, origin, inspector }) => {
    assert.equal(await send(`${server.url}/plain`), 200);
    // An arrival no date can hold, recorded past the import's checks.
    const writer = inspector.store.begin(new Request("http://localhost/odd"), 1e20);
    writer.record("request", {
      method: "GET",
      target: "/odd",
      version: "HTTP/1.1",
      peer: undefined,
      headers: [],
    }, 1e20);
    writer.record("end", { status: 0, bytes: 0 }, 1e20 + 1);
    assert.equal(await send(`${server.url}/after`), 200);

    const response = await fetch(`${origin}/api/har`);
    assert.equal(response.status, 200);
    const har = await response.json();
    assert.deepEqual(har.log.entries.map((e: Json) => e._id), ["1", "3"]);
    assert.match(har.log.comment, /^Left out 1 exchange that could not be exported: #2 \(/);

    const one = await fetch(`${origin}/api/exchanges/2/har`);
    assert.equal(one.status, 500);
    assert.match((await one.json()).error, /^Cannot export exchange 2 as HAR: /);
  });
});

// ---------------------------------------------------------------------------
// Entries that are not what HAR (or this inspector's `_timeline`) says

/** POSTs a HAR document to the import with the inspector's own Origin. */
async function importDocument(
  origin: string,
  entries: unknown[],
): Promise<{ status: number; body: ImportResult & { error?: string } }> {
  const response = await fetch(`${origin}/api/import`, {
    method: "POST",
    headers: { origin, "content-type": "application/json" },
    body: JSON.stringify({ log: { version: "1.2", entries } }),
  });
  return { status: response.status, body: await response.json() };
}

/** The HAR entry this inspector exports for exchange `id`. */
async function exportedEntry(origin: string, id: string): Promise<Record<string, unknown>> {
  const response = await fetch(`${origin}/api/exchanges/${id}/har`);
  assert.equal(response.status, 200);
  return (await response.json()).log.entries[0];
}

/** The states of every kept exchange, newest first. */
async function states(origin: string): Promise<string[]> {
  const list: ExchangeList = await (await fetch(`${origin}/api/exchanges`)).json();
  return list.exchanges.map((e) => e.state);
}

const hugeRead = (size: number) => ({
  type: "input",
  t: 1,
  data: {
    method: "read",
    size: null,
    bytes: { stream: "request", offset: 0, size, kept: 0 },
  },
});

Deno.test("POST /api/import skips an entry whose _timeline has more request bytes than its request says, naming the field, and leaves nothing pending", async () => {
  await withInspector(app, async ({ app: server, origin, inspector }) => {
    assert.equal(await send(`${server.url}/plain`), 200);
    const good = await exportedEntry(origin, "1");
    const bad: Json = structuredClone(good);
    bad._timeline.splice(1, 0, hugeRead(1e12));
    const { status, body } = await importDocument(origin, [good, bad]);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.ids.length, 1);
    assert.deepEqual(body.skipped, [{
      entry: 1,
      error:
        "Entry 1: _timeline[1].data.bytes.size must be at most 0, for the request body to stay within request.bodySize (0 bytes) (got 1000000000000)",
    }]);
    // The good entry is loaded, the bad one left no trace.
    assert.deepEqual(await states(origin), ["complete", "complete"]);
    assert.equal(inspector.store.size, 2);
  });
});

Deno.test("POST /api/import keeps the declared size of a body the file has only in part, holding only the bytes it has", async () => {
  await withInspector(app, async ({ app: server, origin }) => {
    assert.equal(await send(`${server.url}/plain`), 200);
    const entry: Json = await exportedEntry(origin, "1");
    // A terabyte the app read, of which the file keeps nothing: said, never allocated.
    entry._timeline.splice(1, 0, hugeRead(1e12));
    entry.request.bodySize = 1e12;
    const { status, body } = await importDocument(origin, [entry]);
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(body.skipped, []);
    const detail: ExchangeDetail = await (await fetch(`${origin}/api/exchanges/${body.ids[0]}`))
      .json();
    assert.equal(detail.state, "complete");
    assert.equal(detail.requestBytes, 1e12);
    assert.deepEqual(detail.request.body, { size: 1e12, bytes: "", truncated: true });
    assert.equal(bodyText(detail.response.body), "plain page at /plain");
  });
});

Deno.test("POST /api/import skips an entry whose frames the store cannot hold, and leaves nothing pending", async () => {
  await withInspector(app, async ({ app: server, origin, inspector }) => {
    assert.equal(await send(`${server.url}/plain`), 200);
    const good = await exportedEntry(origin, "1");
    const bad: Json = structuredClone(good);
    bad._timeline[0].data.headers.push(["x-big", "x".repeat(600 * 1024)]);
    const { status, body } = await importDocument(origin, [good, bad, good]);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.ids.length, 2);
    assert.equal(body.skipped.length, 1);
    assert.match(
      body.skipped[0]!.error,
      /^Entry 1: cannot be kept: its request event takes \d+ bytes, more than half of the inspector's memory \(1048576 bytes\); raise --inspector-memory$/,
    );
    assert.deepEqual(await states(origin), ["complete", "complete", "complete"]);
    assert.equal(inspector.store.size, 3);
  }, { memory: 1024 * 1024, maxBodyBytes: 65536 });
});

Deno.test("POST /api/import refuses times a date cannot hold and absurd numbers, naming the field", async () => {
  await withInspector(app, async ({ app: server, origin }) => {
    assert.equal(await send(`${server.url}/plain`), 200);
    const good: Json = await exportedEntry(origin, "1");
    const at = (type: string) => good._timeline.findIndex((e: Json) => e.type === type);
    const broken = (edit: (entry: Json) => void) => {
      const entry = structuredClone(good);
      edit(entry);
      return entry;
    };
    const sent = at("headers_sent");
    const end = at("end");
    const cases: [Json, string][] = [
      [
        broken((e) => e._timeline[0].data.startedAt = 1e20),
        "_timeline[0].data.startedAt must be a time from 1970 to the end of 9999, in ms since 1970 (got 100000000000000000000)",
      ],
      [
        broken((e) => e._timeline[0].data.startedAt = -1),
        "_timeline[0].data.startedAt must be a time from 1970 to the end of 9999, in ms since 1970 (got -1)",
      ],
      [
        broken((e) => e._timeline[end].t = 1e300),
        `_timeline[${end}].t must be a time from the arrival in ms, at most a year either way (got 1e+300)`,
      ],
      [
        broken((e) => e._timeline[sent].data.status = 1e300),
        `_timeline[${sent}].data.status must be a status code from 100 to 999 (got 1e+300)`,
      ],
      [
        broken((e) => e._timeline[sent].data.status = -1),
        `_timeline[${sent}].data.status must be a status code from 100 to 999 (got -1)`,
      ],
      [
        broken((e) => e._timeline[end].data.bytes = 1e300),
        `_timeline[${end}].data.bytes must be a whole number from 0 to 9007199254740991 (got 1e+300)`,
      ],
      [
        broken((e) => e._timeline[end].data.dropped_events = -1),
        `_timeline[${end}].data.dropped_events must be a whole number from 0 to 4294967295 (got -1)`,
      ],
    ];
    const { status, body } = await importDocument(origin, cases.map(([entry]) => entry));
    assert.equal(status, 400, JSON.stringify(body));
    assert.deepEqual(
      body.skipped,
      cases.map(([, error], entry) => ({ entry, error: `Entry ${entry}: ${error}` })),
    );
    // Nothing was loaded, so the export of everything still answers.
    const har = await fetch(`${origin}/api/har`);
    assert.equal(har.status, 200);
    assert.equal((await har.json()).log.entries.length, 1);
  });
});

Deno.test("POST /api/import refuses a foreign entry's absurd status, and quotes a text that is not base64", async () => {
  await withInspector(app, async ({ origin }) => {
    const entry = (response: Json, postData?: Json) => ({
      startedDateTime: "2026-01-02T03:04:05.678Z",
      time: 5,
      request: { method: "POST", url: "http://example.test/x", headers: [], postData },
      response: { statusText: "", headers: [], content: {}, ...response },
    });
    const { status, body } = await importDocument(origin, [
      entry({ status: 1e300 }),
      entry({ status: -1 }),
      entry({ status: 200.5 }),
      entry({ status: 200 }, { mimeType: "x", text: "%%% not base64 %%%", _encoding: "base64" }),
      entry({ status: 0 }),
    ]);
    assert.equal(status, 200, JSON.stringify(body));
    assert.deepEqual(body.skipped, [
      {
        entry: 0,
        error:
          "Entry 0: response.status must be 0 (no response) or a status code from 100 to 999 (got 1e+300)",
      },
      {
        entry: 1,
        error:
          "Entry 1: response.status must be 0 (no response) or a status code from 100 to 999 (got -1)",
      },
      {
        entry: 2,
        error:
          "Entry 2: response.status must be 0 (no response) or a status code from 100 to 999 (got 200.5)",
      },
      {
        entry: 3,
        error:
          'Entry 3: request.postData.text must be base64, as its encoding says (got "%%% not base64 %%%")',
      },
    ]);
    assert.equal(body.ids.length, 1);
    const gone: ExchangeDetail = await (await fetch(`${origin}/api/exchanges/${body.ids[0]}`))
      .json();
    assert.equal(gone.state, "aborted");
  });
});

// ---------------------------------------------------------------------------
// Room: what an import evicts, and what it does not load

Deno.test("POST /api/import says which exchanges it evicted to make room, and lists only ids still kept", async () => {
  await withInspector(app, async ({ app: server, origin, inspector }) => {
    for (let i = 0; i < 30; i++) assert.equal(await send(`${server.url}/plain?n=${i}`), 200);
    const har = await (await fetch(`${origin}/api/har`)).json();
    const entries = [...har.log.entries, ...har.log.entries];
    assert.equal(entries.length, 60);
    const { status, body } = await importDocument(origin, entries);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.ids.length, 50);
    assert.deepEqual(body.evicted, { recorded: 30, imported: 0 });
    assert.deepEqual(
      body.skipped.map((s) => s.entry),
      Array.from({ length: 10 }, (_, i) => 50 + i),
    );
    assert.equal(
      body.skipped[0]!.error,
      "Entry 50: not loaded: the store keeps at most 50 exchanges (--max-exchanges), and this file's entries before it fill it; raise --max-exchanges or split the file",
    );
    for (const id of body.ids) {
      const detail = await fetch(`${origin}/api/exchanges/${id}`);
      assert.equal(detail.status, 200, `imported exchange ${id} is kept`);
      await detail.body?.cancel();
    }
    assert.equal(inspector.store.size, 50);

    // Imported again: the import evicts the earlier import's exchanges, and says so.
    const again = await importDocument(origin, har.log.entries.slice(0, 5));
    assert.deepEqual(again.body.evicted, { recorded: 0, imported: 5 });
    assert.equal(again.body.ids.length, 5);
  }, { maxExchanges: 50, memory: 1024 * 1024, maxBodyBytes: 65536 });
});

Deno.test("POST /api/import loads no more of a file than the inspector's memory holds with it", async () => {
  const big = encoder.encode("b".repeat(60 * 1024));
  const bigApp: Application = (_environ, start_response) => {
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return [big];
  };
  await withInspector(bigApp, async ({ app: server, origin, inspector }) => {
    for (let i = 0; i < 3; i++) assert.equal(await send(`${server.url}/big?n=${i}`), 200);
    const har = await (await fetch(`${origin}/api/har`)).json();
    // 60 KiB each: some 17 fit in 1 MiB.
    const entries = Array.from({ length: 40 }, (_, i) => har.log.entries[i % 3]);
    const { status, body } = await importDocument(origin, entries);
    assert.equal(status, 200, JSON.stringify(body));
    assert.ok(body.ids.length > 8 && body.ids.length < 17, `${body.ids.length} loaded`);
    // The oldest recorded exchanges went to make room, and the answer counts them.
    const list: ExchangeList = await (await fetch(`${origin}/api/exchanges?limit=100`)).json();
    const recorded = list.exchanges.filter((e) => !e.imported).length;
    assert.ok(recorded < 3);
    assert.deepEqual(body.evicted, { recorded: 3 - recorded, imported: 0 });
    assert.equal(list.total, recorded + body.ids.length);
    const first = body.ids.length;
    assert.equal(body.skipped.length, 40 - first);
    assert.match(
      body.skipped[0]!.error,
      new RegExp(
        `^Entry ${first}: not loaded: the inspector's memory \\(1048576 bytes, --inspector-memory\\) is full with this file's entries before it; raise --inspector-memory or split the file$`,
      ),
    );
    for (const id of body.ids) {
      assert.ok(inspector.store.get(id), `imported exchange ${id} is kept`);
    }
  }, { memory: 1024 * 1024, maxBodyBytes: 65536 });
});

Deno.test("the page's import note gives the ids kept, the entries skipped, and warns of what was evicted", () => {
  assert.deepEqual(describeImport("a.har", { ids: ["7"], skipped: [], evicted: EVICTED_NONE }), {
    text: "Imported 1 exchange from a.har (#7)",
    warn: false,
  });
  const skipped = Array.from({ length: 5 }, (_, i) => ({
    entry: 50 + i,
    error: `Entry ${50 + i}: not loaded: full`,
  }));
  assert.deepEqual(
    describeImport("b.har", {
      ids: Array.from({ length: 50 }, (_, i) => String(32 + i)),
      skipped,
      evicted: { recorded: 30, imported: 2 },
    }),
    {
      text:
        "Imported 50 exchanges from b.har (#32–#81); to make room, the 32 oldest exchanges were evicted (30 recorded, 2 imported before); skipped 5: Entry 50: not loaded: full; Entry 51: not loaded: full; Entry 52: not loaded: full; and 2 more",
      warn: true,
    },
  );
  assert.deepEqual(
    describeImport("c.har", { ids: ["9"], skipped: [], evicted: { recorded: 1, imported: 0 } }),
    {
      text:
        "Imported 1 exchange from c.har (#9); to make room, the oldest exchange was evicted (1 recorded)",
      warn: true,
    },
  );
});
