/**
 * "Export as test": through the real CLI on an app in a temporary folder,
 * the side port's `GET /api/exchanges/:id/test` gives a `deno test` file;
 * saved in that folder, it runs under `deno test` against the app and
 * passes; with the app changed, the same file fails, saying what differs.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { ExchangeList } from "../inspector/protocol.ts";
import { testFile } from "../inspector/test_export.ts";
import { eventually, get, startDev } from "./_dev.ts";
import { rawRequest } from "./_helpers.ts";

const APP = `import type { Application } from "${new URL("../mod.ts", import.meta.url).href}";

const encoder = new TextEncoder();

export const application: Application = async (environ, start_response) => {
  if (environ.PATH_INFO === "/items") {
    const body = new TextDecoder().decode(await environ["wsgi.input"].read());
    start_response("201 Created", [
      ["Content-Type", "application/json"],
      ["X-Item-Count", "1"],
      ["Set-Cookie", "seen=1; Path=/"],
    ]);
    return [encoder.encode(JSON.stringify({ created: JSON.parse(body), by: environ.HTTP_X_USER }))];
  }
  if (environ.PATH_INFO === "/bytes") {
    start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
    return [new Uint8Array([0, 1, 2, 255, 254, 10, 13, 0])];
  }
  start_response("200 OK", [["Content-Type", "text/plain; charset=utf-8"], ["Date", "yesterday"]]);
  return [encoder.encode("hello \\u2028 " + environ.QUERY_STRING)];
};
`;

async function denoTest(dir: string, file: string): Promise<{ ok: boolean; output: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["test", "-A", file],
    cwd: dir,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const output = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return { ok: out.success, output };
}

Deno.test({
  name:
    "an exchange exported as a test runs under deno test against the app, and fails when the app changes",
  // The CLI's processes and the child `deno test` are awaited and killed in cleanup.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const dev = await startDev({ "app.ts": APP });
    try {
      assert.equal(
        (await get(`${dev.url}/items`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-user": "ada" },
          body: '{"name":"cup"}',
        })).status,
        201,
      );
      assert.equal((await get(`${dev.url}/bytes`)).status, 200);
      assert.equal((await get(`${dev.url}/?a=1`)).status, 200);
      // A raw UTF-8 target, as curl sends it and new Request() cannot: the app echoes its
      // QUERY_STRING (bytes as latin-1), so the exported test must send the target as sent.
      const port = Number(new URL(dev.url).port);
      const raw = await rawRequest(
        port,
        `GET /?x=\xc3\xa9 HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`,
      );
      assert.equal(raw.status, 200);
      assert.equal(
        new TextDecoder().decode(raw.body),
        "hello \u2028 x=\u00c3\u00a9",
        "the live app got the raw bytes",
      );
      let list: ExchangeList = { total: 0, exchanges: [] };
      await eventually(async () => {
        list = await (await fetch(`${dev.inspector}/api/exchanges`)).json();
        return list.exchanges.filter((e) => e.state === "complete").length === 4;
      }, "four exchanges recorded");

      const files: string[] = [];
      for (const exchange of list.exchanges) {
        const response = await fetch(`${dev.inspector}/api/exchanges/${exchange.id}/test`);
        assert.equal(response.status, 200);
        assert.match(
          response.headers.get("content-disposition") ?? "",
          new RegExp(`filename="exchange_${exchange.id}_test\\.ts"`),
        );
        const text = await response.text();
        assert.match(text, /^\/\/ A test of exchange #\d+ recorded by the wsgi-deno inspector/);
        assert.match(text, /import \* as appModule from "\.\/app\.ts";/);
        assert.match(text, /from "(\.\.\/)+[^"]*mod\.ts";/, "mod.ts by a relative path");
        const name = `exchange_${exchange.id}_test.ts`;
        await Deno.writeTextFile(`${dev.dir}/${name}`, text);
        files.push(name);
      }
      const items = await Deno.readTextFile(
        `${dev.dir}/exchange_${list.exchanges.find((e) => e.target === "/items")!.id}_test.ts`,
      );
      assert.match(items, /assert\.equal\(response\.status, 201\);/);
      assert.match(items, /response\.headers\.get\("X-Item-Count"\), "1"/);
      assert.match(items, /getSetCookie\(\), \["seen=1; Path=\/"\]/);
      assert.match(items, /\["x-user", "ada"\]/);
      assert.match(items, /body: "\{\\"name\\":\\"cup\\"\}"/);
      const plain = await Deno.readTextFile(
        `${dev.dir}/exchange_${list.exchanges.find((e) => e.target === "/?a=1")!.id}_test.ts`,
      );
      assert.doesNotMatch(plain, /"Date"|"yesterday"/, "Date is not checked");
      assert.match(plain, /Not checked: Date/);
      const rawTest = await Deno.readTextFile(
        `${dev.dir}/exchange_${list.exchanges.find((e) => e.target === "/?x=\u00e9")!.id}_test.ts`,
      );
      assert.match(rawTest, /handler\(request, \{ target: "\/\?x=\u00e9" \}\)/);

      const passing = await denoTest(dev.dir, ".");
      assert.ok(passing.ok, `the exported tests pass:\n${passing.output}`);
      assert.match(passing.output, /4 passed/);

      // The same files against a changed app: they fail, and say what differs.
      await Deno.writeTextFile(
        `${dev.dir}/app.ts`,
        APP.replace('["X-Item-Count", "1"]', '["X-Item-Count", "2"]').replace(
          "[0, 1, 2, 255",
          "[0, 1, 3, 255",
        ),
      );
      const failing = await denoTest(dev.dir, ".");
      assert.ok(!failing.ok);
      assert.match(failing.output, /2 passed.*2 failed/s);
      assert.match(failing.output, /'2' !== '1'|"2" !== "1"|- '1'|\+ '2'|2.*1/);
    } finally {
      await dev.cleanup();
    }
  },
});

Deno.test("testFile() writes recorded text as string literals only: no recorded byte becomes code", () => {
  const hostile = `*/ Deno.exit(3); /*\u2028Deno.exit(4)\n"; Deno.exit(5); "`;
  const text = testFile({
    id: "9",
    seq: 9,
    startedAt: 0,
    method: "POST",
    target: `/x?${hostile}`,
    status: 200,
    statusLine: "200 OK",
    duration: 1,
    requestBytes: 0,
    responseBytes: 0,
    state: "complete",
    truncated: false,
    errors: 0,
    events: [
      {
        type: "request",
        t: 0,
        data: {
          method: "POST",
          target: `/x?${hostile}`,
          version: "HTTP/1.1",
          peer: null,
          headers: [["x-evil", hostile]],
          startedAt: 0,
        },
      },
      {
        type: "headers_sent",
        t: 1,
        data: { status: 200, status_line: `200 ${hostile}`, headers: [["X-Evil", hostile]] },
      },
      { type: "end", t: 1, data: { status: 200, bytes: 0, dropped_events: 0 } },
    ],
    request: { body: { size: 0, bytes: "", truncated: false } },
    response: { body: { size: 0, bytes: "", truncated: false } },
  }, { app: "./app.ts", name: "x; Deno.exit(6)", mod: "./mod.ts" });
  // Every line that is not a comment holds the hostile text only inside JSON string literals.
  for (const line of text.split("\n")) {
    if (line.trimStart().startsWith("//")) {
      assert.ok(!/[\u2028\u2029]/.test(line), "a comment stays one line");
      continue;
    }
    assert.doesNotMatch(line.replace(/"(?:[^"\\]|\\.)*"/g, '""'), /Deno\.exit/, line);
  }
  assert.match(
    text,
    /const names = \["application", "default", "fetch"\];/,
    "a bad export name is not used",
  );
});
