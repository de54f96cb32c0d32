/**
 * The inspector page's parts that run outside a browser: the bundler (built
 * from source, never stale) and the pure model the components draw (the
 * stepper's state so far from the shared reducer, the filter, copy as curl,
 * the hex dump), fed with exchanges recorded by the real store. The page
 * itself is driven in `inspector_browser_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Application } from "../mod.ts";
import { createInspector } from "../inspector/mod.ts";
import type { ExchangeDetail } from "../inspector/protocol.ts";
import { bundleUi, createBundler, pageHtml } from "../inspector/page/bundle.ts";
import { hexDumpText, utf8Text } from "../inspector/ui/bytes.ts";
import { curlCommand } from "../inspector/ui/curl.ts";
import { groupEnviron } from "../inspector/ui/environ_table.tsx";
import { filterExchanges } from "../inspector/ui/filter.ts";
import { describeChange } from "../inspector/ui/replay_form.tsx";
import { parseSse } from "../inspector/ui/api_client.ts";
import { stateAt } from "../inspector/timeline.ts";
import { describeStep } from "../inspector/ui/step_text.ts";
import { openExchange } from "../inspector/ui/open_exchange.ts";
import { withServer } from "./_helpers.ts";

const encoder = new TextEncoder();
const CHUNKS = ["one\n", "two two\n", "three three three\n"];

const app: Application = async (environ, start_response) => {
  if (environ.PATH_INFO === "/stream") {
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return (async function* () {
      for (const chunk of CHUNKS) yield encoder.encode(chunk);
    })();
  }
  const body = await environ["wsgi.input"].read();
  environ["wsgi.errors"].write("read it\n");
  start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
  return [body];
};

/** Records what `requests` do to the app, and returns the details, oldest first. */
async function record(requests: [string, RequestInit?][]): Promise<ExchangeDetail[]> {
  const inspector = createInspector({ port: 0 });
  await withServer(app, async (server) => {
    for (const [path, init] of requests) await (await fetch(server.url + path, init)).arrayBuffer();
  }, { recorder: inspector.recorder });
  return [...inspector.store.exchanges()].map((e) => e.detail()).sort((a, b) => a.seq - b.seq);
}

Deno.test("bundleUi() bundles the page's TSX into one browser module; pageHtml loads it", async () => {
  const js = await bundleUi();
  assert.ok(!/^import\s/m.test(js), "every import is bundled in");
  assert.match(js, /\/api\/stream/, "the API client is in");
  assert.match(js, /data-testid/);
  assert.equal(await bundleUi(), js, "unchanged sources give the same bundle");
  assert.match(pageHtml, /<script type="module" src="\/app\.js"/);
  assert.match(pageHtml, /prefers-color-scheme: dark/);
});

Deno.test("createBundler() bundles again when a source changes, and keeps no failed bundle", async () => {
  const dir = await Deno.makeTempDir({ prefix: "bundler-test-" });
  const url = new URL(`file://${dir}/`);
  try {
    await Deno.writeTextFile(new URL("deno.json", url), "{}");
    await Deno.writeTextFile(
      new URL("entry.ts", url),
      'import { message } from "./message.ts";\nconsole.log(message);\n',
    );
    await Deno.writeTextFile(new URL("message.ts", url), 'export const message = "first";\n');
    const bundle = createBundler({
      entry: new URL("entry.ts", url),
      config: new URL("deno.json", url),
      sources: [url],
    });
    const first = await bundle();
    assert.match(first, /"first"/);

    await Deno.writeTextFile(new URL("message.ts", url), 'export const message = "second!";\n');
    const second = await bundle();
    assert.match(second, /"second!"/);
    assert.doesNotMatch(second, /"first"/);

    await Deno.writeTextFile(new URL("message.ts", url), "export const message = ;\n");
    await assert.rejects(bundle(), /Cannot bundle the inspector's UI: deno bundle failed/);
    await Deno.writeTextFile(new URL("message.ts", url), 'export const message = "fixed";\n');
    assert.match(await bundle(), /"fixed"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("stateAt() walks a recorded streaming response chunk by chunk", async () => {
  const [detail] = await record([["/stream"]]);
  const events = detail!.events;
  const types = events.map((e) => e.type);
  assert.equal(types[0], "request");
  assert.equal(types.filter((t) => t === "chunk").length, CHUNKS.length);

  const body = openExchange(detail!).response.bytes();
  let chunks = 0;
  for (let i = 0; i < events.length; i++) {
    const before = stateAt(events, i - 1);
    const after = stateAt(events, i);
    const change = describeStep(events[i]!, before, after);
    if (events[i]!.type === "chunk") chunks++;
    assert.equal(
      utf8Text(body.subarray(0, after.response.kept)),
      CHUNKS.slice(0, chunks).join(""),
      `body after step ${i}`,
    );
    assert.equal(after.response.parts.length, chunks);
    if (events[i]!.type === "chunk") {
      assert.deepEqual(change.bodyRange, [before.response.kept, after.response.kept]);
      assert.match(change.summary, /chunk #\d+: \d+ B/);
    }
    const started = types.indexOf("start_response");
    assert.equal(after.startResponse === null, i < started, `status known from step ${started}`);
    assert.equal(after.environ === null, i < types.indexOf("environ"));
  }
  const last = stateAt(events, events.length - 1);
  assert.equal(last.startResponse?.status, "200 OK");
  assert.equal(last.finished?.kind, "end");
  assert.ok(last.closed);
  let offset = 0;
  assert.deepEqual(
    last.response.parts.map((p) => p.offset),
    CHUNKS.map((c) => (offset += c.length) - c.length),
  );
});

Deno.test("stateAt() shows the input read so far; curlCommand() sends the same body", async () => {
  const binary = new Uint8Array([0, 1, 2, 255]);
  const [text, bytes] = await record([
    ["/echo?x=1", { method: "POST", body: "it's a body", headers: { "x-a": "b" } }],
    ["/bin", { method: "PUT", body: binary }],
  ]);
  const open = openExchange(text!);
  const state = open.state;
  assert.equal(utf8Text(open.request.bytes().subarray(0, state.input.read)), "it's a body");
  assert.equal(state.errorsText, "read it\n");

  const appUrl = "http://127.0.0.1:8000";
  const curl = curlCommand({ state, body: open.request.bytes(), appUrl });
  assert.match(
    curl,
    /^curl -q -X POST http:\/\/127\.0\.0\.1:8000\/ --request-target '\/echo\?x=1'/,
  );
  assert.match(curl, / -H 'x-a: b'/);
  assert.match(curl, / -H 'host: 127\.0\.0\.1:\d+'/, "the recorded Host, as a header");
  assert.match(curl, / --data-raw 'it'\\''s a body'$/, "single quotes escaped for the shell");
  assert.doesNotMatch(curl, /content-length/i);
  const put = openExchange(bytes!);
  assert.match(
    curlCommand({ state: put.state, body: put.request.bytes(), appUrl }),
    /^printf %s AAEC\/w== \| base64 -d \| curl -q -X PUT .* --data-binary @-$/,
  );

  const groups = groupEnviron(state.environ!);
  assert.deepEqual(groups.map((g) => g.id), ["cgi", "http", "wsgi"]);
  assert.ok(groups[0]!.entries.some(([k, v]) => k === "QUERY_STRING" && v === "x=1"));
  assert.ok(groups[1]!.entries.some(([k]) => k === "HTTP_X_A"));
  assert.ok(groups[2]!.entries.every(([k]) => k.includes(".")));
});

Deno.test("filterExchanges() matches method, status class and path words", async (t) => {
  const list = (await record([
    ["/stream"],
    ["/echo", { method: "POST", body: "x" }],
    ["/static/app.css", { method: "POST", body: "" }],
  ])).reverse();
  const targets = (text: string) => filterExchanges(list, text).map((e) => e.target);
  const cases: [string, string[]][] = [
    ["", ["/static/app.css", "/echo", "/stream"]],
    ["post", ["/static/app.css", "/echo"]],
    ["GET 2xx", ["/stream"]],
    ["200 -static", ["/echo", "/stream"]],
    ["5xx", []],
    ["ECHO", ["/echo"]],
  ];
  for (const [text, expected] of cases) {
    await t.step(JSON.stringify(text), () => assert.deepEqual(targets(text), expected));
  }
});

Deno.test("hexDumpText() prints offsets, hex and ASCII like hexdump -C", () => {
  const dump = hexDumpText(encoder.encode("Hello, hex dump!\n\x00"));
  assert.equal(
    dump,
    "00000000  48 65 6c 6c 6f 2c 20 68  65 78 20 64 75 6d 70 21  |Hello, hex dump!|\n" +
      `00000010  ${"0a 00".padEnd(48)}  |..|`,
  );
});

Deno.test("describeChange() says each replay change in one line", () => {
  assert.deepEqual(
    [
      { part: "method", from: "POST", to: "GET" },
      { part: "target", from: "/a", to: "/b?c=1" },
      { part: "header", name: "x-new", from: null, to: "1" },
      { part: "header", name: "x-old", from: "2", to: null },
      { part: "header", name: "content-length", from: "8", to: "0" },
      { part: "body", from: 8, to: 0 },
      { part: "body", from: 2048, to: 2048 },
    ].map((change) => describeChange(change as Parameters<typeof describeChange>[0])),
    [
      "method: POST → GET",
      "target: /a → /b?c=1",
      "header added: x-new: 1",
      "header removed: x-old: 2",
      "header content-length: 8 → 0",
      "body: 8 B → 0 B",
      "body: other bytes, 2.0 KiB",
    ],
  );
});

Deno.test("parseSse() gives each complete event's data and keeps the rest for the next read", () => {
  const got: string[] = [];
  let rest = parseSse(
    'retry: 1000\n: connected\n\ndata: {"a":1}\n\ndata: {"b"',
    (d) => got.push(d),
  );
  assert.deepEqual(got, ['{"a":1}']);
  assert.equal(rest, 'data: {"b"');
  rest = parseSse(rest + ":2}\r\n\r\n: ping\n\ndata:x\ndata: y\n\n", (d) => got.push(d));
  assert.deepEqual(got, ['{"a":1}', '{"b":2}', "x\ny"]);
  assert.equal(rest, "");
});
