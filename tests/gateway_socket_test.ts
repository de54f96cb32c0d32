/**
 * The gateway over real loopback sockets: streaming, backpressure, client
 * disconnects, cut connections, HEAD, and what `Deno.serve` decides for us.
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import type { Application } from "../mod.ts";
import type { LogEntry } from "../server/log.ts";
import { EventLog, rawRequest, request, text, utf8, waitFor, withServer } from "./_helpers.ts";

/** A promise with its resolver, for gating an app from the test. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

const echoEnviron: Application = (environ, start_response) => {
  const plain: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(environ)) {
    plain[k] = typeof v === "object" && !Array.isArray(v) ? String(v) : v;
  }
  start_response("200 OK", [["Content-Type", "application/json"]]);
  return [utf8(JSON.stringify(plain))];
};

Deno.test("a slow async generator streams: the client gets chunk 1 while the app still works", async () => {
  const second = gate();
  const app: Application = (_e, start_response) => {
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return (async function* () {
      yield utf8("first\n");
      await second.opened;
      yield utf8("second\n");
    })();
  };
  await withServer(app, async (server) => {
    const response = await fetch(server.url);
    const reader = response.body!.getReader();
    // The app is blocked until we open the gate, so this chunk can only have
    // arrived while the app was still producing.
    equal(text((await reader.read()).value!), "first\n");
    second.open();
    equal(text((await reader.read()).value!), "second\n");
    ok((await reader.read()).done);
  });
});

Deno.test("backpressure: a huge generator is pulled only as fast as the client reads", async () => {
  const MiB = 1024 * 1024;
  let produced = 0;
  let finalized = false;
  const app: Application = (_e, start_response) => {
    start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
    return (function* () {
      try {
        // 1 TiB if anyone pulled it all.
        for (let i = 0; i < 1024 * 1024; i++) {
          produced++;
          yield new Uint8Array(MiB);
        }
      } finally {
        finalized = true;
      }
    })();
  };
  await withServer(app, async (server) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(utf8("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    const buf = new Uint8Array(64 * 1024);
    await conn.read(buf);
    // Give the server every chance to run ahead, then look.
    let before = -1;
    for (let i = 0; i < 50 && produced !== before; i++) {
      before = produced;
      await new Promise((r) => setTimeout(r, 20));
    }
    ok(produced < 64, `only socket buffers' worth is pulled ahead (pulled ${produced} MiB)`);
    conn.close();
    await waitFor(() => finalized, 5000, "the generator to be finalized after the disconnect");
  });
});

Deno.test("a client that disconnects mid-stream: close() once, finally runs, abort recorded", async () => {
  const calls: string[] = [];
  const recorder = new EventLog();
  const app: Application = (environ, start_response) => {
    start_response("200 OK", []);
    if (environ.PATH_INFO !== "/stream") {
      return Object.assign([utf8("short")], { close: () => void calls.push("close") });
    }
    const gen = (async function* () {
      try {
        for (let i = 0;; i++) {
          yield utf8(`line ${i}\n`);
          await new Promise((r) => setTimeout(r, 5));
        }
      } finally {
        calls.push("finally");
      }
    })();
    return Object.assign(gen, { close: () => void calls.push("close") });
  };
  await withServer(app, async (server) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(utf8("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"));
    await conn.read(new Uint8Array(1024));
    conn.close();
    await waitFor(() => calls.length === 2, 5000, "close()");
    // Each once. The order depends on where the generator was when the client
    // left: in its 5 ms await (close() is then called at once, and its finally
    // runs when the await settles), or at a yield (returned first).
    deepEqual([...calls].sort(), ["close", "finally"]);
    await waitFor(() => recorder.of("abort").length === 1, 5000, "the abort event");
    equal(recorder.of("end").length, 0);
    // And the server keeps serving.
    const again = await request(server.port, "GET", "/x");
    equal(again.status, 200);
    equal(calls.filter((c) => c === "close").length, 2, "a second exchange closes its own body");
  }, { recorder });
});

Deno.test("an error after the headers went out cuts the connection (no clean end)", async (t) => {
  const app: Application = (environ, start_response) => {
    const headers: [string, string][] = environ.PATH_INFO === "/cl"
      ? [["Content-Length", "100"]]
      : [];
    start_response("200 OK", headers);
    return (async function* () {
      yield utf8("half a page");
      await Promise.resolve();
      throw new Error("broke halfway");
    })();
  };
  await withServer(app, async (server, sink) => {
    await t.step("chunked: no terminating 0-chunk", async () => {
      const r = await request(server.port, "GET", "/");
      equal(r.status, 200);
      equal(r.headers.get("transfer-encoding"), "chunked");
      ok(r.text.includes("half a page"));
      ok(!r.text.endsWith("0\r\n\r\n"), "the chunked body must not end cleanly");
    });
    await t.step("Content-Length: fewer bytes than announced", async () => {
      const r = await request(server.port, "GET", "/cl");
      equal(r.headers.get("content-length"), "100");
      ok(r.body.length < 100);
    });
    await t.step("fetch sees an error, not a short body", async () => {
      const response = await fetch(server.url);
      let failed = false;
      try {
        await response.text();
      } catch {
        failed = true;
      }
      ok(failed);
    });
    match(sink.text, /Error in iterable \(GET \/\): Error: broke halfway/);
  });
});

Deno.test("an error before anything was sent is a 500, and the server keeps serving", async () => {
  let n = 0;
  const app: Application = (_e, start_response) => {
    if (n++ === 0) throw new Error("first request fails");
    start_response("200 OK", []);
    return [utf8("second works")];
  };
  await withServer(app, async (server, sink) => {
    const first = await fetch(server.url);
    equal(first.status, 500);
    equal(await first.text(), "500 Internal Server Error\n", "serve() shows no internals");
    match(sink.text, /Error: first request fails\n\s+at /, "the log has the error and its stack");
    const second = await fetch(server.url);
    equal(second.status, 200);
    equal(await second.text(), "second works");
  });
});

Deno.test("serve() with debug: true puts the error's message and stack in the 500 page", async () => {
  const app: Application = () => {
    throw new Error("shown to the developer");
  };
  await withServer(app, async (server) => {
    const response = await fetch(server.url);
    equal(response.status, 500);
    match(await response.text(), /Error: shown to the developer\n\n\s+at /);
  }, { debug: true });
});

Deno.test("HEAD sends the GET's headers and no body; close() is called", async (t) => {
  const calls: string[] = [];
  const app: Application = (environ, start_response) => {
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    if (environ.PATH_INFO === "/stream") {
      const gen = (async function* () {
        try {
          for (;;) yield utf8("endless");
        } finally {
          calls.push("finally");
        }
      })();
      return Object.assign(gen, { close: () => void calls.push("close") });
    }
    return Object.assign([utf8("hello")], { close: () => void calls.push("close") });
  };
  await withServer(app, async (server) => {
    await t.step("array body", async () => {
      const r = await request(server.port, "HEAD", "/");
      equal(r.status, 200);
      equal(r.headers.get("content-length"), "5");
      equal(r.body.length, 0);
      deepEqual(calls.splice(0), ["close"]);
    });
    await t.step("an endless generator is not pulled past its first chunk", async () => {
      const r = await request(server.port, "HEAD", "/stream");
      equal(r.status, 200);
      equal(r.body.length, 0);
      deepEqual(calls.splice(0), ["finally", "close"]);
    });
  });
});

Deno.test("what Deno.serve decides for us", async (t) => {
  await withServer(echoEnviron, async (server) => {
    const environOf = async (raw: string) =>
      JSON.parse(text((await rawRequest(server.port, raw)).body));
    await t.step("duplicate headers arrive joined with ', ' (cookies with '; ')", async () => {
      const env = await environOf(
        "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nX-A: 2\r\nCookie: a=1\r\nCookie: b=2\r\nConnection: close\r\n\r\n",
      );
      equal(env.HTTP_X_A, "1, 2");
      equal(env.HTTP_COOKIE, "a=1; b=2");
    });
    await t.step("HTTP/1.0 is not told apart from 1.1", async () => {
      const env = await environOf("GET / HTTP/1.0\r\nHost: x\r\n\r\n");
      equal(env.SERVER_PROTOCOL, "HTTP/1.1");
    });
    await t.step("OPTIONS * arrives as /*", async () => {
      const env = await environOf("OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      equal(env.REQUEST_METHOD, "OPTIONS");
      equal(env.PATH_INFO, "/*");
    });
    await t.step("raw non-UTF-8 bytes in the target are refused with 400 by hyper", async () => {
      const r = await request(server.port, "GET", "/caf\xe9");
      equal(r.status, 400);
    });
    await t.step("raw UTF-8 bytes in the target reach PATH_INFO as bytes-as-latin-1", async () => {
      const env = await environOf(
        "GET /caf\xc3\xa9?q=\xc3\xa9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      );
      equal(env.PATH_INFO, "/caf\xc3\xa9");
      equal(env.QUERY_STRING, "q=\xc3\xa9");
    });
  });
  const custom: Application = (environ, start_response) => {
    if (environ.PATH_INFO === "/204") {
      start_response("204 No Content", []);
      return [];
    }
    if (environ.PATH_INFO === "/more") {
      start_response("200 OK", [["Content-Length", "3"]]);
      return (async function* () {
        yield utf8("abc");
        yield utf8("def");
      })();
    }
    start_response("500 Oops", []);
    return [utf8("custom reason")];
  };
  await withServer(custom, async (server) => {
    await t.step("a custom reason phrase goes out as the standard one", async () => {
      const r = await request(server.port, "GET", "/");
      equal(r.statusLine, "HTTP/1.1 500 Internal Server Error");
      equal(text(r.body), "custom reason");
    });
    await t.step("a 204 with an empty body goes out with no body, not Deno's own 500", async () => {
      const r = await request(server.port, "GET", "/204");
      equal(r.status, 204);
      equal(r.body.length, 0);
    });
    await t.step("a streamed body longer than its Content-Length is cut at the limit", async () => {
      const r = await request(server.port, "GET", "/more");
      equal(r.headers.get("content-length"), "3");
      equal(text(r.body), "abc");
    });
  });
});

Deno.test("wsgi.input over a socket: Content-Length and chunked uploads", async (t) => {
  const app: Application = async (environ, start_response) => {
    const input = environ["wsgi.input"];
    const first = await input.readline();
    const rest = await input.read();
    start_response("200 OK", [["Content-Type", "application/json"]]);
    return [
      utf8(
        JSON.stringify({
          first: text(first),
          rest: text(rest),
          terminated: environ["wsgi.input_terminated"] ?? null,
        }),
      ),
    ];
  };
  await withServer(app, async (server) => {
    await t.step("Content-Length", async () => {
      const r = await rawRequest(
        server.port,
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nConnection: close\r\n\r\nline\nrest..",
      );
      deepEqual(JSON.parse(text(r.body)), { first: "line\n", rest: "rest..", terminated: null });
    });
    await t.step("chunked", async () => {
      const r = await rawRequest(
        server.port,
        "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nab\n\r\n4\r\ncdef\r\n0\r\n\r\n",
      );
      deepEqual(JSON.parse(text(r.body)), { first: "ab\n", rest: "cdef", terminated: true });
    });
    await t.step("a large body read whole", async () => {
      const big = "x".repeat(3 * 1024 * 1024) + "\n";
      const response = await fetch(server.url, { method: "POST", body: "hi\n" + big });
      const got = await response.json();
      equal(got.first, "hi\n");
      equal(got.rest.length, big.length);
    });
  });
});

Deno.test("the log line and the request event give the target as sent, even with a / in Host", async () => {
  const app: Application = async (environ, start_response) => {
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    return [utf8(`${environ.PATH_INFO}|${environ.QUERY_STRING}`)];
  };
  const log = new EventLog();
  const entries: LogEntry[] = [];
  await withServer(app, async (server) => {
    for (const host of ["a/b", "127.0.0.1"]) {
      const res = await rawRequest(
        server.port,
        `GET /p%20q?x=1 HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
      );
      equal(text(res.body), "/p q|x=1");
    }
  }, { recorder: log, log: (entry) => entries.push(entry) });
  deepEqual(entries.map((e) => e.target), ["/p%20q?x=1", "/p%20q?x=1"]);
  deepEqual(log.of("request", 0).map((r) => r.target), ["/p%20q?x=1"]);
  deepEqual(log.of("request", 1).map((r) => r.target), ["/p%20q?x=1"]);
  // The gateway's clock: the request is stamped with the arrival, times never go back, the
  // application's 5 ms show between its start_response and its chunk, and the log's duration
  // is the end event's time.
  for (const [i, events] of log.exchanges.entries()) {
    const times = events.map((e) => e.time!);
    equal(times[0], log.began[i]);
    ok(times.every((t, k) => typeof t === "number" && (k === 0 || t >= times[k - 1]!)), `${times}`);
    const at = (type: string) => events.find((e) => e.type === type)!.time!;
    ok(at("chunk") - at("start_response") >= 4, `${at("chunk") - at("start_response")} ms`);
    equal(entries[i]!.duration, at("end") - log.began[i]!);
  }
});
