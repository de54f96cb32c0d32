/**
 * The request body over raw sockets: the upload limit (issue 8 item 6) and a
 * GET or HEAD that carries a body (item 9).
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import type { Application } from "../mod.ts";
import { RequestBodyTooLarge } from "../server/input.ts";
import { EventLog, rawRequest, spawnDeno, text, utf8, withServer } from "./_helpers.ts";
import { exchange } from "./_http.ts";

/** Reads the whole body and answers its length; counts its calls. */
function counter() {
  const seen = { calls: 0 };
  const app: Application = async (environ, start_response) => {
    seen.calls++;
    const body = await environ["wsgi.input"].read();
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return [utf8(`read ${body.length}`)];
  };
  return { seen, app };
}

Deno.test("a Content-Length over maxRequestBody gets 413 before the application is called", async () => {
  const { seen, app } = counter();
  await withServer(app, async (server, sink) => {
    // Only the head is sent: the answer must not wait for a body it refuses.
    const refused = await exchange(
      server.port,
      "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n",
    );
    equal(refused.status, 413);
    match(
      refused.body,
      /Content-Length says 1001 bytes, over the limit of 1000 bytes; raise the limit with --max-request-body N/,
    );
    equal(seen.calls, 0, "the application never saw the request");
    match(sink.text, /Error in gateway \(POST \/upload\): RequestBodyTooLarge: /);
    const fine = await rawRequest(
      server.port,
      "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n" +
        "x".repeat(1000),
    );
    equal(fine.status, 200);
    equal(text(fine.body), "read 1000");
  }, { maxRequestBody: 1000 });
});

Deno.test("the default limit is 100 MiB, and 0 means none", async (t) => {
  const head = (n: number) => `POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${n}\r\n\r\n`;
  await t.step("default", async () => {
    const { seen, app } = counter();
    await withServer(app, async (server) => {
      const refused = await exchange(server.port, head(100 * 1024 * 1024 + 1));
      equal(refused.status, 413);
      match(refused.body, /the limit of 104857600 bytes \(100 MiB\)/);
      equal(seen.calls, 0);
    });
  });
  await t.step("0", async () => {
    const app: Application = (environ, start_response) => {
      start_response("200 OK", [["Content-Type", "text/plain"]]);
      return [utf8(`${environ.CONTENT_LENGTH}`)];
    };
    await withServer(app, async (server) => {
      const answered = await exchange(server.port, head(200 * 1024 * 1024));
      equal(answered.status, 200);
      equal(answered.body, "209715200");
    }, { maxRequestBody: 0 });
  });
});

/** A chunked upload of `total` bytes in 100-byte chunks. */
function chunkedUpload(total: number): string {
  let body = "";
  for (let left = total; left > 0; left -= 100) {
    const n = Math.min(100, left);
    body += `${n.toString(16)}\r\n${"y".repeat(n)}\r\n`;
  }
  return "POST /chunks HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
    body + "0\r\n\r\n";
}

Deno.test("a chunked upload past the limit: the read of wsgi.input throws, naming the limit", async (t) => {
  await t.step("the application catches it", async () => {
    let caught: unknown;
    let before = 0;
    const app: Application = async (environ, start_response) => {
      const input = environ["wsgi.input"];
      before = (await input.read(1000)).length;
      try {
        await input.read();
      } catch (error) {
        caught = error;
      }
      start_response("200 OK", [["Content-Type", "text/plain"]]);
      return [utf8("handled")];
    };
    await withServer(app, async (server) => {
      const response = await rawRequest(server.port, chunkedUpload(5000));
      equal(response.status, 200);
      equal(before, 1000);
      ok(caught instanceof RequestBodyTooLarge, `got ${caught}`);
      equal(caught.limit, 4096);
      match(caught.message, /larger than the limit of 4096 bytes; raise the limit/);
    }, { maxRequestBody: 4096 });
  });
  await t.step("the application lets it through: 413", async () => {
    const { app } = counter();
    const log = new EventLog();
    await withServer(app, async (server) => {
      const response = await rawRequest(server.port, chunkedUpload(5000));
      equal(response.status, 413);
      match(
        text(response.body),
        /^413 Content Too Large\n\nRequestBodyTooLarge: Cannot read wsgi\.input/,
      );
      const within = await rawRequest(server.port, chunkedUpload(4096));
      equal(within.status, 200);
      equal(text(within.body), "read 4096");
    }, { maxRequestBody: 4096, recorder: log });
    equal(log.of("error", 0)[0]?.name, "RequestBodyTooLarge");
  });
});

Deno.test("--max-request-body sets the limit of the CLI", async () => {
  const child = await spawnDeno([
    "run",
    "-A",
    "mod.ts",
    "examples/form.ts",
    "--port",
    "0",
    "--no-inspector",
    "--max-request-body",
    "10",
  ]);
  try {
    const port = Number(new URL(child.url).port);
    const refused = await exchange(
      port,
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 11\r\n\r\nname=abcdef",
    );
    equal(refused.status, 413);
    match(refused.body, /over the limit of 10 bytes/);
  } finally {
    await child.stop();
  }
});

Deno.test("a GET or HEAD with a body: the environ says there is none, as wsgi.input does, and a lint event says why", async (t) => {
  const app: Application = async (environ, start_response) => {
    const body = await environ["wsgi.input"].read();
    start_response("200 OK", [["Content-Type", "application/json"]]);
    return [utf8(JSON.stringify({
      path: environ.PATH_INFO,
      length: environ.CONTENT_LENGTH ?? null,
      terminated: environ["wsgi.input_terminated"] ?? null,
      read: text(body),
    }))];
  };
  const cases: [string, string, string][] = [
    ["GET, Content-Length", "GET", "Content-Length: 5\r\n\r\nhello"],
    ["GET, chunked", "GET", "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"],
    ["HEAD, Content-Length", "HEAD", "Content-Length: 5\r\n\r\nhello"],
  ];
  for (const [name, method, rest] of cases) {
    await t.step(name, async () => {
      const log = new EventLog();
      await withServer(app, async (server) => {
        // The bodied request, then a plain one on the same connection: the body's
        // bytes must belong to neither.
        const response = await rawRequest(
          server.port,
          `${method} /first HTTP/1.1\r\nHost: x\r\n${rest}` +
            "GET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        );
        equal((response.text.match(/HTTP\/1\.1 200/g) ?? []).length, 2, response.text);
        if (method === "GET") {
          const first = JSON.parse(response.text.split("\r\n\r\n")[1]!.split("HTTP/1.1")[0]!);
          deepEqual(first, { path: "/first", length: null, terminated: null, read: "" });
        }
        ok(!response.text.includes("hello"), "the dropped body is nowhere in the answers");
      }, { recorder: log });
      const environ = log.of("environ", 0)[0]!.environ;
      equal(environ.CONTENT_LENGTH, undefined);
      equal(environ["wsgi.input_terminated"], undefined);
      const lint = log.of("lint", 0);
      equal(lint.length, 1);
      equal(lint[0]!.rule, "request.body_dropped");
      match(lint[0]!.message, new RegExp(`^The ${method} request carried a body \\(`));
      deepEqual(log.of("lint", 1), [], "the next request is clean");
      equal(log.of("environ", 1)[0]!.environ.PATH_INFO, "/second");
    });
  }
});
