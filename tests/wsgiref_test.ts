/**
 * CPython's `Lib/test/test_wsgiref.py`, `IntegrationTests` and
 * `HandlerTests`, carried to our server: each test is named after the Python
 * test it ports and asserts what it asserts, over a real socket where the
 * Python test runs a server, in memory where it runs a bare handler.
 * `UtilityTests` and `HeaderTests` are in `wsgiref_util_test.ts`.
 *
 * Where `Deno.serve` decides before our code runs, the test asserts what
 * happens instead and says so (and `docs/differences.md` lists it). Not
 * carried over, as they test Python's own classes, not behaviour:
 * `testAbstractMethods` (BaseHandler's abstract methods), `testPartialWrite`
 * and `testDontResetInternalStateOnException` (BaseHandler's writer object),
 * `test_deprecated__version__`.
 */

import { equal, match, ok } from "node:assert/strict";
import type { Application, Header } from "../mod.ts";
import { toFetch } from "../server/gateway.ts";
import { validator } from "../server/validate.ts";
import { formatLogLine } from "../server/log.ts";
import { MemorySink, rawRequest, text, withServer } from "./_helpers.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const DATE = "Mon, 05 Jun 2006 18:49:54 GMT";

const helloApp: Application = (_environ, start_response) => {
  start_response("200 OK", [["Content-Type", "text/plain"], ["Date", DATE]]);
  return [enc("Hello, world!")];
};

const headerApp: Application = (environ, start_response) => {
  start_response("200 OK", [["Content-Type", "text/plain"], ["Date", DATE]]);
  return [latin1([environ.HTTP_X_TEST_HEADER, environ.QUERY_STRING, environ.PATH_INFO].join(";"))];
};

/** Serves `app` and sends one raw HTTP/1.0 request, as `run_amock` does; `err` is stderr. */
async function runAmock(app: Application = helloApp, data = "GET / HTTP/1.0\r\n\r\n") {
  let out!: Awaited<ReturnType<typeof rawRequest>>;
  let log = "";
  let errors = "";
  await withServer(app, async (server, sink) => {
    out = await rawRequest(server.port, data);
    await new Promise((r) => setTimeout(r, 20)); // the log line is written after the response
    errors = sink.text;
  }, { log: (entry) => void (log += formatLogLine(entry)), debug: true });
  return { out, err: errors + log };
}

function checkHello(out: Awaited<ReturnType<typeof rawRequest>>, hasLength = true) {
  equal(out.statusLine, "HTTP/1.0 200 OK");
  equal(out.headers.get("content-type"), "text/plain");
  equal(out.headers.get("date"), DATE);
  equal(out.headers.get("content-length"), hasLength ? "13" : undefined);
  equal(text(out.body), "Hello, world!");
}

Deno.test("IntegrationTests.test_plain_hello", async () => {
  checkHello((await runAmock()).out);
});

Deno.test("IntegrationTests.test_environ (repeated headers joined by Deno.serve with ', ')", async () => {
  const { out } = await runAmock(
    headerApp,
    "GET /p%61th/?query=test HTTP/1.0\r\nX-Test-Header: Python test \r\nX-Test-Header: Python test 2\r\nContent-Length: 0\r\n\r\n",
  );
  // wsgiref: "Python test,Python test 2;query=test;/path/"
  equal(text(out.body), "Python test, Python test 2;query=test;/path/");
});

Deno.test("IntegrationTests.test_request_length (Deno.serve answers 400, not 414)", async () => {
  const { out } = await runAmock(helloApp, `GET /${"x".repeat(65537)} HTTP/1.0\r\n\r\n`);
  // wsgiref: "HTTP/1.0 414 URI Too Long". hyper refuses the line before our code runs.
  equal(out.status, 400);
});

Deno.test("IntegrationTests.test_validated_hello", async () => {
  const warnings: string[] = [];
  const { out } = await runAmock(validator(helloApp, { warn: (t) => warnings.push(t) }));
  checkHello(out); // our validator keeps a list a list, so Content-Length stays
  equal(warnings.length, 0);
});

Deno.test("IntegrationTests.test_simple_validation_error", async () => {
  const badApp: Application = (_environ, start_response) => {
    start_response("200 OK", ["Content-Type", "text/plain"] as unknown as Header[]);
    return ["Hello, world!" as unknown as Uint8Array];
  };
  const { out, err } = await runAmock(validator(badApp, { strict: true, warn: () => {} }));
  equal(out.status, 500);
  match(text(out.body), /Each header must be a \[name, value\] pair \(got "Content-Type"\)/);
  match(
    err,
    /Error in application \(GET \/\): ProtocolError: Each header must be a \[name, value\] pair/,
  );
});

Deno.test("IntegrationTests.test_status_validation_errors", async (t) => {
  for (const status of ["200", "20X OK", "200OK"]) {
    await t.step(status, async () => {
      const badApp: Application = (_environ, start_response) => {
        start_response(status, [["Content-Type", "text/plain; charset=utf-8"]]);
        return [enc("Hello, world!")];
      };
      const { out, err } = await runAmock(badApp);
      equal(out.status, 500);
      match(text(out.body), /status must be a string like "200 OK"/);
      match(err, new RegExp(`got ${JSON.stringify(status)}`));
    });
  }
});

Deno.test("IntegrationTests.test_wsgi_input (PEP 3333 allows read() without a size; a bad size is caught)", async () => {
  // validate.py asserts read() gets exactly one argument; PEP 3333 lets it have none.
  const warnings: string[] = [];
  const reads: Application = async (environ, start_response) => {
    await environ["wsgi.input"].read();
    try {
      await environ["wsgi.input"].read("all" as unknown as number);
    } catch {
      // What a bad size does is the input's business; the validator's warning is the point.
    }
    start_response("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
    return [enc("data")];
  };
  const { out } = await runAmock(validator(reads, { warn: (t) => warnings.push(t) }));
  equal(out.status, 200);
  equal(warnings.length, 1);
  match(warnings[0]!, /read\(\) takes at most one argument, an integer size \(got "all"\)/);
});

Deno.test("IntegrationTests.test_bytes_validation", async () => {
  const app: Application = (_environ, start_response) => {
    start_response("200 OK", [
      ["Content-Type", "text/plain; charset=utf-8"],
      ["Date", "Wed, 24 Dec 2008 13:29:32 GMT"],
    ]);
    return [enc("data")];
  };
  const { out, err } = await runAmock(validator(app));
  // wsgiref logs "GET / HTTP/1.0" 200 4: Deno.serve does not tell 1.0 from 1.1.
  match(err, /"GET \/ HTTP\/1\.1" 200 4 \d+\.\dms\n$/);
  equal(out.statusLine, "HTTP/1.0 200 OK");
  equal(out.headers.get("content-type"), "text/plain; charset=utf-8");
  equal(out.headers.get("date"), "Wed, 24 Dec 2008 13:29:32 GMT");
  equal(text(out.body), "data");
});

Deno.test("IntegrationTests.test_cp1252_url (a raw \\x80 is refused by Deno.serve; %80 works)", async () => {
  const app: Application = (environ, start_response) => {
    start_response("200 OK", [["Content-Type", "text/plain"], ["Date", DATE]]);
    return [latin1(environ.PATH_INFO)];
  };
  const raw = await runAmock(validator(app), "GET /\x80%80 HTTP/1.0\r\n\r\n");
  equal(raw.out.status, 400, "hyper refuses target bytes that are not UTF-8");
  const encoded = await runAmock(validator(app), "GET /%80%80 HTTP/1.0\r\n\r\n");
  equal(encoded.out.status, 200);
  equal(encoded.out.text.slice(encoded.out.text.indexOf("\r\n\r\n") + 4), "/\x80\x80");
});

Deno.test("IntegrationTests.test_interrupted_write (a slow client gets every byte)", async () => {
  const SIZE = 16 * 1024 * 1024 + 1; // SOCK_MAX_SIZE
  const app: Application = (_environ, start_response) => {
    start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
    return [new Uint8Array(SIZE)];
  };
  await withServer(app, async (server) => {
    const response = await fetch(server.url);
    const reader = response.body!.getReader();
    let received = 0;
    const first = await reader.read();
    received += first.value!.length;
    await new Promise((r) => setTimeout(r, 200)); // the server is blocked on a full socket
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.length;
    }
    equal(received, SIZE);
  });
});

/**
 * Runs `app` for one request, as the Python tests run a bare handler, over a
 * socket (the `Content-Length` a client sees is set where the bytes are sent).
 */
async function run(app: Application) {
  let result!: { status: number; headers: Map<string, string>; body: string; stderr: string };
  await withServer(app, async (server, sink) => {
    const r = await rawRequest(server.port, "GET / HTTP/1.0\r\n\r\n");
    result = { status: r.status, headers: r.headers, body: text(r.body), stderr: sink.text };
  });
  return result;
}

/** Runs `app` in memory for `url`, with the gateway alone. */
async function runInMemory(app: Application, url = "http://127.0.0.1/") {
  const response = await toFetch(app, { errors: new MemorySink() })(new Request(url));
  return await response.text();
}

Deno.test("HandlerTests.testEnviron (no os.environ; every wsgi.* key, file_wrapper included)", async () => {
  let seen: Record<string, unknown> = {};
  await run((environ, start_response) => {
    seen = environ;
    start_response("200 OK", []);
    return [];
  });
  equal(JSON.stringify(seen["wsgi.version"]), "[1,0]");
  equal(seen["wsgi.run_once"], false);
  equal(seen["wsgi.url_scheme"], "http");
  equal(seen["wsgi.multithread"], false);
  equal(seen["wsgi.multiprocess"], false);
  equal(typeof seen["wsgi.file_wrapper"], "function");
  ok(seen["wsgi.input"] && seen["wsgi.errors"]);
  equal(seen.HOME, undefined, "nothing of the process's environment (wsgiref copies it)");
  equal(seen.SCRIPT_NAME, "");
});

Deno.test("HandlerTests.testCGIEnviron", async () => {
  let keys: string[] = [];
  await run((environ, start_response) => {
    keys = Object.keys(environ);
    start_response("200 OK", []);
    return [];
  });
  for (const key of ["wsgi.url_scheme", "wsgi.input", "wsgi.errors"]) ok(keys.includes(key), key);
});

Deno.test("HandlerTests.testScheme (from the request's URL: https behind TLS)", async () => {
  const scheme: Application = (environ, start_response) => {
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return [enc(environ["wsgi.url_scheme"])];
  };
  equal(await runInMemory(scheme, "https://127.0.0.1/"), "https");
  equal(await runInMemory(scheme), "http");
});

Deno.test("HandlerTests.testContentLength", async (t) => {
  await t.step("trivial_app1: a one-chunk list gets a Content-Length", async () => {
    const { headers, body } = await run((environ, s) => {
      s("200 OK", []);
      return [latin1(environ["wsgi.url_scheme"])];
    });
    equal(headers.get("content-length"), "4");
    equal(body, "http");
  });
  await t.step("trivial_app2: write() sends at once, so no Content-Length", async () => {
    await withServer((environ, s) => {
      s("200 OK", [])(latin1(environ["wsgi.url_scheme"]));
      return [];
    }, async (server) => {
      const r = await rawRequest(server.port, "GET / HTTP/1.0\r\n\r\n");
      equal(r.headers.get("content-length"), undefined);
      equal(text(r.body), "http");
    });
  });
  await t.step("trivial_app3: the length in bytes, not characters", async () => {
    const { headers } = await run((_e, s) => {
      s("200 OK", []);
      return [enc("\u0442\u0435\u0441\u0442")];
    });
    equal(headers.get("content-length"), "8");
  });
  await t.step("trivial_app4: an app's Content-Length on a HEAD response stays", async () => {
    await withServer((_e, s) => {
      s("200 OK", [["Content-Length", "12345"]]);
      return [];
    }, async (server) => {
      const r = await rawRequest(server.port, "HEAD / HTTP/1.0\r\n\r\n");
      equal(r.headers.get("content-length"), "12345");
      equal(r.body.length, 0);
    });
  });
});

Deno.test("HandlerTests.testBasicErrorOutput", async () => {
  const ok200 = await run((_e, s) => {
    s("200 OK", []);
    return [];
  });
  equal(ok200.status, 200);
  equal(ok200.headers.get("content-length"), "0");
  equal(ok200.stderr, "");
  const failed = await run(() => {
    throw new Error("This should be caught by handler");
  });
  equal(failed.status, 500);
  match(failed.headers.get("content-type")!, /^text\/plain/);
  equal(failed.headers.get("content-length"), String(enc(failed.body).length));
  match(failed.stderr, /Error: This should be caught by handler/);
});

Deno.test("HandlerTests.testErrorAfterOutput (the written bytes, then a cut: never a 500)", async () => {
  const MSG = "Some output has been sent";
  const errorApp: Application = (_e, s) => {
    s("200 OK", [])(enc(MSG));
    throw new Error("This should be caught by handler");
  };
  await withServer(errorApp, async (server, sink) => {
    const r = await rawRequest(server.port, "GET / HTTP/1.0\r\n\r\n");
    equal(r.status, 200);
    ok(text(r.body).includes(MSG), text(r.body));
    ok(!text(r.body).includes("500"), "no 500 page mixed in");
    await new Promise((r) => setTimeout(r, 20));
    match(sink.text, /This should be caught by handler/);
  });
});

Deno.test("HandlerTests.testHeaderFormats (origin server: a Date header, Content-Length 0)", async () => {
  await withServer((_e, s) => {
    s("200 OK", []);
    return [];
  }, async (server) => {
    for (const version of ["1.0", "1.1"]) {
      const r = await rawRequest(
        server.port,
        `GET / HTTP/${version}\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      match(r.statusLine, new RegExp(`^HTTP/${version.replace(".", "\\.")} 200 OK$`));
      match(r.headers.get("date")!, /^\w{3}, [ 0123]\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
      equal(r.headers.get("content-length"), "0");
    }
  });
});

Deno.test("HandlerTests.testBytesData", async () => {
  const { headers, body } = await run((_e, s) => {
    s("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
    return [enc("data")];
  });
  equal(headers.get("content-type"), "text/plain; charset=utf-8");
  equal(headers.get("content-length"), "4");
  equal(body, "data");
});

Deno.test("HandlerTests.testCloseOnError", async () => {
  let closeCalled = false;
  const errorApp: Application = (_e, s) => {
    s("200 OK", [])(enc("Some output has been sent"));
    return {
      *[Symbol.iterator]() {
        yield enc("blah");
        throw new Error("This should be caught by handler");
      },
      close() {
        closeCalled = true;
      },
    };
  };
  await withServer(errorApp, async (server) => {
    await rawRequest(server.port, "GET / HTTP/1.0\r\n\r\n");
  });
  ok(closeCalled);
});

Deno.test("HandlerTests.testClientConnectionTerminations (a client that leaves is no error)", async () => {
  const endless: Application = (_e, s) => {
    s("200 OK", [["Content-Type", "text/plain"]]);
    return (async function* () {
      for (;;) {
        yield new Uint8Array(64 * 1024);
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
  };
  await withServer(endless, async (server, sink) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(enc("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    await conn.read(new Uint8Array(1024));
    conn.close();
    await new Promise((r) => setTimeout(r, 100));
    equal(sink.text, "");
  });
});

Deno.test("HandlerTests.testRaisesControlCharacters (a tab in the reason phrase is allowed, as RFC 9110 says)", async () => {
  const status = (app: Application) =>
    toFetch(app, { errors: new MemorySink() })(
      new Request("http://127.0.0.1/"),
    ).then(async (r) => (await r.arrayBuffer(), r.status));
  for (let code = 0; code < 0x20; code++) {
    const c0 = String.fromCharCode(code);
    const hex = `\\x${code.toString(16)}`;
    // wsgiref refuses a tab in the status too; RFC 9110's reason-phrase allows HTAB.
    equal(
      await status((_e, s) => {
        s(`200 OK${c0}`, []);
        return [];
      }),
      c0 === "\t" ? 200 : 500,
      `status with ${hex}`,
    );
    // HTAB is allowed in values, but not in names (RFC 9110 5.5).
    equal(
      await status((_e, s) => {
        s("200 OK", [["key", `val${c0}`]]);
        return [];
      }),
      c0 === "\t" ? 200 : 500,
      `value with ${hex}`,
    );
    equal(
      await status((_e, s) => {
        s("200 OK", [[`key${c0}`, "val"]]);
        return [];
      }),
      500,
      `name with ${hex}`,
    );
  }
});
