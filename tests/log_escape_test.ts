/**
 * Terminal injection: every line the server writes escapes control
 * characters (issue 8 item 5), checked with raw requests over sockets
 * (`fetch` would normalise the targets).
 */

import { equal, match, ok } from "node:assert/strict";
import type { Application } from "../mod.ts";
import { BufferedSink, escapeControls } from "../server/log.ts";
import { MemorySink, rawRequest, waitFor, withServer } from "./_helpers.ts";

/** Fails the test if `output` holds anything a terminal acts on, other than line feeds. */
function assertNoControls(output: string): void {
  // deno-lint-ignore no-control-regex -- finding control characters is the point
  const found = output.match(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
  equal(found, null, `a raw control character in:\n${JSON.stringify(output)}`);
}

const thrower: Application = () => {
  throw new Error("boom");
};

Deno.test("escapeControls() escapes C0, DEL, C1 and the backslash, as Werkzeug does", () => {
  equal(escapeControls("/plain/path?q=1"), "/plain/path?q=1");
  equal(escapeControls("/x\x1b[2J\r\nFAKE"), "/x\\x1b[2J\\x0d\\x0aFAKE");
  equal(escapeControls("a\x00b\x7fc\x9bd\\e\u00e9"), "a\\x00b\\x7fc\\x9bd\\\\e\u00e9");
});

Deno.test("the 'Error in application' line escapes a decoded PATH_INFO (no escape sequence, no forged line)", async () => {
  await withServer(thrower, async (server, sink) => {
    const response = await rawRequest(
      server.port,
      "GET /x%1b%5b2J%0d%0aFAKE HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    equal(response.status, 500);
    await waitFor(() => sink.text.includes("Error in application"), 2000, "the error line");
    assertNoControls(sink.text);
    ok(
      sink.text.includes("Error in application (GET /x\\x1b[2J\\x0d\\x0aFAKE): Error: boom"),
      sink.text,
    );
    ok(!/^FAKE/m.test(sink.text), "no line starts with the forged text");
  });
});

Deno.test("an error message that quotes request data stays one line; the stack keeps its lines", async () => {
  const app: Application = (environ) => {
    throw new Error(`no route for ${environ.PATH_INFO}`);
  };
  await withServer(app, async (server, sink) => {
    await rawRequest(
      server.port,
      "GET /a%0d%0aFAKE%07 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    await waitFor(() => sink.text.includes("no route"), 2000, "the error line");
    assertNoControls(sink.text);
    match(sink.text, /Error: no route for \/a\\x0d\\x0aFAKE\\x07\n {4}at /);
    ok(!/^FAKE/m.test(sink.text));
  });
});

/** A BufferedSink whose "file" keeps the bytes, as stderr would get them. */
function capturingSink(): { sink: BufferedSink; text: () => string } {
  const chunks: Uint8Array[] = [];
  const sink = new BufferedSink({
    writeSync(p: Uint8Array) {
      chunks.push(p.slice());
      return p.length;
    },
  }, 1);
  const decoder = new TextDecoder();
  return { sink, text: () => chunks.map((c) => decoder.decode(c)).join("") };
}

const ok200: Application = (_environ, start_response) => {
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [new Uint8Array([104, 105])];
};

Deno.test("the request log line escapes C1 controls and backslashes in the target (both log writers)", async (t) => {
  // Raw UTF-8 C2 9B is U+009B, the one-byte CSI of a C1-aware terminal; "\" passes Deno.serve.
  const target = "/a\xc2\x9b2J\\b";
  const expected = '"GET /a\\x9b2J\\\\b HTTP/1.1" 200 2';
  await t.step("BufferedSink (the CLI's)", async () => {
    const { sink, text } = capturingSink();
    await withServer(ok200, async (server) => {
      const response = await rawRequest(
        server.port,
        `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      equal(response.status, 200);
      await waitFor(() => text().includes("HTTP/1.1"), 2000, "the log line");
      assertNoControls(text());
      ok(text().includes(expected), text());
    }, { log: true, errors: sink });
  });
  await t.step("any other sink", async () => {
    const sink = new MemorySink();
    await withServer(ok200, async (server) => {
      await rawRequest(
        server.port,
        `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      await waitFor(() => sink.text.includes("HTTP/1.1"), 2000, "the log line");
      assertNoControls(sink.text);
      ok(sink.text.includes(expected), sink.text);
    }, { log: true, errors: sink });
  });
});
