/**
 * The gateway's rules: start_response, the body, close(), HEAD, status
 * quirks, errors. Each case runs in memory through `toFetch`; the ones that
 * need a socket (framing, cut connections) are in gateway_socket_test.ts.
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { type Application, type Header, toFetch } from "../mod.ts";
import { EventLog, MemorySink, text, utf8 } from "./_helpers.ts";

/** Calls `app` in memory and returns the response, its text and the diagnostics. */
async function call(
  app: Application,
  init: { method?: string; path?: string; body?: string; headers?: Record<string, string> } = {},
) {
  const errors = new MemorySink();
  const recorder = new EventLog();
  const handler = toFetch(app, { errors, recorder, debug: true });
  const response = await handler(
    new Request(`http://localhost${init.path ?? "/"}`, {
      method: init.method ?? "GET",
      body: init.body,
      headers: init.headers,
    }),
  );
  const body = await response.text();
  return { response, body, errors: errors.text, recorder };
}

const hello = (status: unknown, headers: unknown): Application => (_environ, start_response) => {
  start_response(status as string, headers as Header[]);
  return [utf8("hello")];
};

Deno.test("start_response() enforces the status and header rules", async (t) => {
  const cases: [string, unknown, unknown, RegExp][] = [
    ["status as a number", 200, [], /status must be a string like "200 OK" \(got number 200\)/],
    ["status without a reason", "200", [], /status must be a string like "200 OK"/],
    ["status with two digits", "20 OK", [], /status must be a string like "200 OK"/],
    ["informational status", "100 Continue", [], /status 100 cannot be sent/],
    ["status with CR/LF", "200 OK\r\nX: y", [], /control characters/],
    ["headers not a list", "200 OK", { "Content-Type": "text/plain" }, /headers must be an array/],
    ["header not a pair", "200 OK", [["Content-Type"]], /header 0 must be a \[name, value\] pair/],
    ["header value not a string", "200 OK", [["Content-Length", 5]], /must be a pair of strings/],
    ["header name with a space", "200 OK", [["Content Type", "x"]], /is not a valid token/],
    [
      "header value with CR/LF (injection)",
      "200 OK",
      [["X-A", "1\r\nSet-Cookie: evil=1"]],
      /contains a control character/,
    ],
    ["header value beyond latin-1", "200 OK", [["X-A", "snow ☃"]], /non-latin-1/],
    ["hop-by-hop Connection", "200 OK", [["Connection", "close"]], /hop-by-hop header/],
    ["hop-by-hop Transfer-Encoding", "200 OK", [["transfer-encoding", "chunked"]], /hop-by-hop/],
  ];
  for (const [name, status, headers, rule] of cases) {
    await t.step(name, async () => {
      const { response, body, errors, recorder } = await call(hello(status, headers));
      equal(response.status, 500);
      match(body, rule);
      match(errors, rule, "the broken rule is logged to stderr");
      const [sr] = recorder.of("start_response");
      match(sr!.error!, rule, "the start_response event names the broken rule");
      deepEqual(recorder.of("lint").length, 1);
    });
  }
});

Deno.test("start_response() called twice without exc_info is a 500 that says so", async () => {
  const { response, body } = await call((_environ, start_response) => {
    start_response("200 OK", []);
    start_response("201 Created", []);
    return [];
  });
  equal(response.status, 500);
  match(body, /start_response\(\) was called twice without exc_info/);
});

Deno.test("a rule broken in start_response() is answered even if the app catches it", async () => {
  const { response, body } = await call((_environ, start_response) => {
    try {
      start_response("200 OK", [["Connection", "close"]]);
    } catch {
      // swallowed on purpose
    }
    return [utf8("never sent")];
  });
  equal(response.status, 500);
  match(body, /hop-by-hop/);
});

Deno.test("start_response() with exc_info replaces a response that was not sent yet", async () => {
  const { response, body, recorder } = await call((_environ, start_response) => {
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    try {
      throw new Error("database down");
    } catch (error) {
      start_response("503 Service Unavailable", [["Content-Type", "text/plain"]], error);
      return [utf8("sorry")];
    }
  });
  equal(response.status, 503);
  equal(body, "sorry");
  deepEqual(recorder.of("start_response").map((e) => e.exc_info), [false, true]);
});

Deno.test("start_response() with exc_info after the headers went out rethrows it", async () => {
  let rethrown: unknown;
  const failure = new Error("late failure");
  const app: Application = (_environ, start_response) => {
    start_response("200 OK", []);
    return (function* () {
      yield utf8("first");
      try {
        start_response("500 Internal Server Error", [], failure);
      } catch (error) {
        rethrown = error;
        throw error;
      }
    })();
  };
  const errors = new MemorySink();
  const response = await toFetch(app, { errors })(new Request("http://localhost/"));
  equal(response.status, 200);
  const reader = response.body!.getReader();
  equal(text((await reader.read()).value!), "first");
  let cut: unknown;
  try {
    await reader.read();
  } catch (error) {
    cut = error;
  }
  ok(cut, "the stream errors: the client must not see a clean end");
  equal(rethrown, failure);
});

Deno.test("an application that never calls start_response() gets a 500 naming the rule", async () => {
  const { response, body } = await call(() => [utf8("x")]);
  equal(response.status, 500);
  match(body, /returned without calling start_response\(\)/);
});

Deno.test("an exception in the application is a 500 with its message, logged with its stack", async () => {
  const { response, body, errors, recorder } = await call(() => {
    throw new RangeError("no such page");
  });
  equal(response.status, 500);
  match(body, /RangeError: no such page/);
  match(errors, /Error in application \(GET \/\): RangeError: no such page\n\s+at /);
  const [error] = recorder.of("error");
  equal(error!.where, "application");
  equal(error!.message, "no such page");
  ok(error!.stack?.includes("RangeError"));
});

Deno.test("body items that are not Uint8Array are a clear error", async (t) => {
  await t.step("a string chunk", async () => {
    const { response, body } = await call((_e, start_response) => {
      start_response("200 OK", []);
      return ["text" as unknown as Uint8Array];
    });
    equal(response.status, 500);
    match(body, /body chunk 0 must be a Uint8Array \(got "text"\).*TextEncoder/);
  });
  await t.step("a string from a generator", async () => {
    const { response, body } = await call((_e, start_response) => {
      start_response("200 OK", []);
      return (function* () {
        yield utf8("");
        yield "late text" as unknown as Uint8Array;
      })();
    });
    equal(response.status, 500);
    match(body, /body chunk 1 must be a Uint8Array \(got "late text"\)/);
  });
  await t.step("a string returned instead of an iterable", async () => {
    const { response, body } = await call(() => "hello" as unknown as Uint8Array[]);
    equal(response.status, 500);
    match(body, /returned a string; return \[new TextEncoder\(\)\.encode\(text\)\]/);
  });
  await t.step("a Uint8Array returned instead of a list of them", async () => {
    const { response, body } = await call(() => utf8("hi") as unknown as Uint8Array[]);
    equal(response.status, 500);
    match(body, /returned a Uint8Array; return \[bytes\]/);
  });
  await t.step("undefined returned", async () => {
    const { response, body } = await call(() => undefined as unknown as Uint8Array[]);
    equal(response.status, 500);
    match(body, /must return an iterable of Uint8Array chunks \(got undefined/);
  });
});

Deno.test("the body may be an array, a generator, an async generator or a Promise of one", async (t) => {
  const bodies: [string, () => unknown][] = [
    ["array", () => [utf8("a"), utf8("b"), utf8("c")]],
    ["generator", function* () {
      yield utf8("a");
      yield utf8("b");
      yield utf8("c");
    }],
    ["async generator", async function* () {
      yield utf8("a");
      await Promise.resolve();
      yield utf8("b");
      yield utf8("c");
    }],
    ["Set (any iterable)", () => new Set([utf8("a"), utf8("b"), utf8("c")])],
    ["Promise of an array", () => Promise.resolve([utf8("abc")])],
  ];
  for (const [name, make] of bodies) {
    await t.step(name, async () => {
      const { response, body } = await call(
        ((_e, start_response) => {
          start_response("200 OK", [["Content-Type", "text/plain"]]);
          return make();
        }) as Application,
      );
      equal(response.status, 200);
      equal(body, "abc");
    });
  }
  await t.step("async application", async () => {
    const { body } = await call(async (_e, start_response) => {
      await Promise.resolve();
      start_response("200 OK", []);
      return [utf8("async")];
    });
    equal(body, "async");
  });
  await t.step("start_response called inside the generator, before its first chunk", async () => {
    const { response, body } = await call((_e, start_response) =>
      (function* () {
        start_response("201 Created", [["X-Lazy", "yes"]]);
        yield utf8("made");
      })()
    );
    equal(response.status, 201);
    equal(response.headers.get("x-lazy"), "yes");
    equal(body, "made");
  });
});

Deno.test("close() is called exactly once, whatever happens", async (t) => {
  const withClose = (chunks: Uint8Array[], calls: string[]) =>
    Object.assign(chunks, { close: () => void calls.push("close") });
  await t.step("a complete response", async () => {
    const calls: string[] = [];
    await call((_e, start_response) => {
      start_response("200 OK", []);
      return withClose([utf8("x")], calls);
    });
    deepEqual(calls, ["close"]);
  });
  await t.step("HEAD", async () => {
    const calls: string[] = [];
    const { response } = await call((_e, start_response) => {
      start_response("200 OK", []);
      return withClose([utf8("x")], calls);
    }, { method: "HEAD" });
    equal(response.status, 200);
    deepEqual(calls, ["close"]);
  });
  await t.step("a chunk of the wrong type", async () => {
    const calls: string[] = [];
    await call((_e, start_response) => {
      start_response("200 OK", []);
      return withClose([utf8("x"), 42 as unknown as Uint8Array], calls);
    });
    deepEqual(calls, ["close"]);
  });
  await t.step("a rule broken after the iterable was returned", async () => {
    const calls: string[] = [];
    const { response } = await call(() => withClose([utf8("x")], calls));
    equal(response.status, 500);
    deepEqual(calls, ["close"]);
  });
  await t.step("a generator that throws: finally runs, close() once", async () => {
    const calls: string[] = [];
    const gen = (function* () {
      try {
        yield utf8("");
        throw new Error("boom");
      } finally {
        calls.push("finally");
      }
    })();
    const { response } = await call((_e, start_response) => {
      start_response("200 OK", []);
      return Object.assign(gen, { close: () => void calls.push("close") });
    });
    equal(response.status, 500);
    deepEqual(calls, ["finally", "close"]);
  });
  await t.step("a streamed response read to the end", async () => {
    const calls: string[] = [];
    const { body } = await call((_e, start_response) => {
      start_response("200 OK", []);
      const gen = (async function* () {
        try {
          yield utf8("a");
          yield utf8("b");
        } finally {
          calls.push("finally");
        }
      })();
      return Object.assign(gen, { close: () => void calls.push("close") });
    });
    equal(body, "ab");
    deepEqual(calls, ["finally", "close"]);
  });
  await t.step("a streamed response whose reader cancels (client gone)", async () => {
    const calls: string[] = [];
    const recorder = new EventLog();
    const response = await toFetch((_e, start_response) => {
      start_response("200 OK", []);
      const gen = (async function* () {
        try {
          for (;;) yield utf8("more");
        } finally {
          calls.push("finally");
        }
      })();
      return Object.assign(gen, { close: () => void calls.push("close") });
    }, { recorder })(new Request("http://localhost/"));
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
    deepEqual(calls, ["finally", "close"]);
    equal(recorder.of("abort").length, 1);
    equal(recorder.of("close").length, 1);
  });
  await t.step("an async close() is awaited", async () => {
    const calls: string[] = [];
    await call((_e, start_response) => {
      start_response("200 OK", []);
      return Object.assign([utf8("x")], {
        close: async () => {
          await Promise.resolve();
          calls.push("closed");
        },
      });
    });
    deepEqual(calls, ["closed"]);
  });
});

Deno.test("legacy write() output comes before the iterable's", async () => {
  const { body, recorder } = await call((_e, start_response) => {
    const write = start_response("200 OK", []);
    write(utf8("written "));
    write(utf8("twice, "));
    return [utf8("then iterated")];
  });
  equal(body, "written twice, then iterated");
  equal(recorder.of("write").length, 2);
});

Deno.test("write() with a generator streams writes before each chunk", async () => {
  const { body } = await call((_e, start_response) => {
    const write = start_response("200 OK", []);
    return (async function* () {
      write(utf8("w1 "));
      yield utf8("c1 ");
      write(utf8("w2 "));
      yield utf8("c2");
    })();
  });
  equal(body, "w1 c1 w2 c2");
});

Deno.test("write() refuses anything but a Uint8Array", async () => {
  const { response, body } = await call((_e, start_response) => {
    const write = start_response("200 OK", []);
    write("text" as unknown as Uint8Array);
    return [];
  });
  equal(response.status, 500);
  match(body, /write\(\) argument 0 must be a Uint8Array \(got "text"\)/);
});

Deno.test("Content-Length from the app is respected, and checked", async (t) => {
  await t.step("matching", async () => {
    const { response, body } = await call(hello("200 OK", [["Content-Length", "5"]]));
    equal(response.status, 200);
    equal(response.headers.get("content-length"), "5");
    equal(body, "hello");
  });
  await t.step("larger than the body", async () => {
    const { response, body } = await call(hello("200 OK", [["Content-Length", "50"]]));
    equal(response.status, 500);
    match(body, /Content-Length says 50 bytes but the body has 5/);
  });
});

Deno.test("204 and 304 carry no body; an empty one is fine, bytes are an error", async (t) => {
  for (const status of ["204 No Content", "304 Not Modified"]) {
    await t.step(`${status} with an empty body`, async () => {
      const { response, body } = await call((_e, start_response) => {
        start_response(status, []);
        return [];
      });
      equal(response.status, Number(status.slice(0, 3)));
      equal(body, "");
    });
    await t.step(`${status} with an empty chunk from a generator`, async () => {
      const { response } = await call((_e, start_response) => {
        start_response(status, []);
        return (function* () {
          yield new Uint8Array(0);
        })();
      });
      equal(response.status, Number(status.slice(0, 3)));
    });
    await t.step(`${status} with bytes`, async () => {
      const { response, body } = await call((_e, start_response) => {
        start_response(status, []);
        return [utf8("oops")];
      });
      equal(response.status, 500);
      match(body, /must not have a body \(got 4 bytes\)/);
    });
  }
});

Deno.test("a custom reason phrase is recorded as the app gave it", async () => {
  const { response, recorder } = await call(hello("500 Oops", []));
  equal(response.status, 500);
  const [sent] = recorder.of("headers_sent");
  equal(sent!.status, 500);
  equal(sent!.status_line, "500 Oops");
});

Deno.test("the recorder sees the timeline in order", async (t) => {
  await t.step("hello", async () => {
    const { recorder } = await call(hello("200 OK", [["Content-Type", "text/html"]]));
    deepEqual(recorder.types(), [
      "request",
      "environ",
      "call",
      "start_response",
      "chunk",
      "close",
      "headers_sent",
      "end",
    ]);
    equal(recorder.of("end")[0]!.bytes, 5);
  });
  await t.step("headers go out with the first non-empty chunk, not before", async () => {
    const { recorder } = await call((_e, start_response) => {
      start_response("200 OK", []);
      return (async function* () {
        yield new Uint8Array(0);
        yield utf8("first");
        yield utf8("second");
      })();
    });
    deepEqual(recorder.types().slice(3), [
      "start_response",
      "chunk",
      "chunk",
      "headers_sent",
      "chunk",
      "close",
      "end",
    ]);
  });
  await t.step("input and errors", async () => {
    const { recorder } = await call(async (environ, start_response) => {
      const body = await environ["wsgi.input"].read();
      environ["wsgi.errors"].write("note\n");
      start_response("200 OK", []);
      return [body];
    }, { method: "POST", body: "posted" });
    deepEqual(text(recorder.of("input")[0]!.bytes), "posted");
    deepEqual(recorder.of("errors")[0]!.text, "note\n");
  });
});

Deno.test("a recorder that throws never fails the exchange", async () => {
  const errors = new MemorySink();
  const handler = toFetch(hello("200 OK", []), {
    errors,
    recorder: {
      begin: () => ({
        record(type) {
          if (type === "environ") throw new Error("recorder bug");
        },
      }),
    },
  });
  const response = await handler(new Request("http://localhost/"));
  equal(response.status, 200);
  equal(await response.text(), "hello");
  match(errors.text, /Recorder failed; this exchange is no longer recorded: Error: recorder bug/);
});

Deno.test("wsgi.errors writes text to the error stream", async () => {
  const { errors } = await call((environ, start_response) => {
    environ["wsgi.errors"].write("first line\n");
    environ["wsgi.errors"].writelines(["a", "b\n"]);
    environ["wsgi.errors"].flush();
    start_response("200 OK", []);
    return [];
  });
  equal(errors, "first line\nab\n");
});

Deno.test("toFetch() refuses a non-function application", () => {
  let error: unknown;
  try {
    toFetch("not an app" as unknown as Application);
  } catch (e) {
    error = e;
  }
  ok(error instanceof TypeError);
  match((error as Error).message, /must be a function \(got "not an app"\)/);
});
