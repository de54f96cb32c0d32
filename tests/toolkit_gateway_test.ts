/**
 * The gateway's side of the toolkit: RAW_URI and REQUEST_URI, wsgi.file_wrapper
 * streamed by the gateway, the lint seam the validator reports through, and
 * `throwErrors` for the test client.
 */

import { deepEqual, equal, match, ok, rejects } from "node:assert/strict";
import type { Application, Environ } from "../mod.ts";
import { toFetch } from "../server/gateway.ts";
import { FileWrapper } from "../server/file_wrapper.ts";
import { validator } from "../server/validate.ts";
import { Client } from "../server/client.ts";
import {
  EventLog,
  MemorySink,
  rawRequest,
  request,
  text,
  waitFor,
  withServer,
} from "./_helpers.ts";
import { withInspector } from "./_inspector.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("RAW_URI and REQUEST_URI hold the target as received: %2F apart from /", async () => {
  const seen: Environ[] = [];
  const app: Application = (environ, start_response) => {
    seen.push({ ...environ });
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return [];
  };
  await withServer(app, async (server) => {
    for (const target of ["/a%2Fb?x=%20y", "/a/b", "/caf%C3%A9/%2e%2e?", "/x?q=1#frag"]) {
      equal((await request(server.port, "GET", target)).status, 200, target);
    }
  });
  deepEqual(seen.map((e) => [e.RAW_URI, e.REQUEST_URI, e.PATH_INFO]), [
    ["/a%2Fb?x=%20y", "/a%2Fb?x=%20y", "/a/b"],
    ["/a/b", "/a/b", "/a/b"],
    ["/caf%C3%A9/%2e%2e", "/caf%C3%A9/%2e%2e", "/caf\xc3\xa9/.."],
    ["/x?q=1", "/x?q=1", "/x"],
  ]);
});

/** A temporary file of `size` pseudo-random bytes; removed after `fn`. */
async function withFile(size: number, fn: (path: string, bytes: Uint8Array) => Promise<void>) {
  const path = await Deno.makeTempFile({ prefix: "wsgi-file-" });
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 7919 + 13) & 0xff;
  await Deno.writeFile(path, bytes);
  try {
    await fn(path, bytes);
  } finally {
    await Deno.remove(path);
  }
}

Deno.test("wsgi.file_wrapper: the gateway streams the file itself, records its chunks, closes it once", async () => {
  await withFile(300_000, async (path, bytes) => {
    const wrappers: FileWrapper[] = [];
    const app: Application = async (environ, start_response) => {
      const file = await Deno.open(path);
      start_response("200 OK", [
        ["Content-Type", "application/octet-stream"],
        ["Content-Length", String(bytes.length)],
      ]);
      const wrapper = environ["wsgi.file_wrapper"]!(file, 8192);
      // The gateway must not iterate it: a wrapper whose iteration throws still works.
      (wrapper as unknown as Record<symbol, unknown>)[Symbol.asyncIterator] = () => {
        throw new Error("iterated by the gateway");
      };
      wrappers.push(wrapper);
      return wrapper;
    };
    const log = new EventLog();
    await withServer(app, async (server) => {
      const response = await fetch(server.url);
      equal(response.headers.get("content-length"), "300000");
      deepEqual(new Uint8Array(await response.arrayBuffer()), bytes);
      await waitFor(() => log.types().includes("end"), 5000, "the end event");
      const chunks = log.of("chunk");
      equal(chunks.reduce((n, c) => n + c.bytes.length, 0), 300_000);
      equal(log.of("close").length, 1);
      ok(wrappers[0]!.closed);
      // HEAD: headers only, and the file is closed.
      const head = await request(server.port, "HEAD", "/");
      equal(head.headers.get("content-length"), "300000");
      equal(head.body.length, 0);
      ok(wrappers[1]!.closed);
      // A client that leaves mid-file: the file is closed, the exchange aborted.
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      await conn.write(enc("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
      await conn.read(new Uint8Array(1024));
      conn.close();
      await waitFor(
        () => wrappers[2]?.closed === true,
        5000,
        "the file closed after the client left",
      );
    }, { recorder: log });
  });
});

Deno.test("wsgi.file_wrapper: a Range of a file, and any gateway can iterate it", async () => {
  await withFile(1000, async (path, bytes) => {
    const app: Application = async (_environ, start_response) => {
      start_response("206 Partial Content", [["Content-Type", "application/octet-stream"]]);
      return new FileWrapper(await Deno.open(path), { offset: 100, length: 50, blksize: 16 });
    };
    await withServer(app, async (server) => {
      const response = await fetch(server.url);
      deepEqual(new Uint8Array(await response.arrayBuffer()), bytes.subarray(100, 150));
    });
    // A gateway that knows nothing of file wrappers iterates it, block by block.
    const blocks: number[] = [];
    const wrapper = new FileWrapper(await Deno.open(path), { offset: 990, blksize: 4 });
    for await (const block of wrapper) blocks.push(block.length);
    wrapper.close();
    deepEqual(blocks, [4, 4, 2]);
  });
});

Deno.test("the validator's violations reach the recorder and the inspector as lint events, once per rule", async () => {
  const broken: Application = (_environ, start_response) => {
    start_response("200 OK", [["X-Tab", "a\tb"], ["X-Tab2", "c\td"]]); // headers.value twice, no Content-Type
    return [enc("hi")];
  };
  const log = new EventLog();
  const sink = new MemorySink();
  const app = validator(broken, { warn: (t) => sink.write(t) });
  const response = await toFetch(app, { recorder: log })(new Request("http://localhost/lint"));
  equal(await response.text(), "hi");
  deepEqual(log.of("lint").map((l) => l.rule), ["headers.value", "content_type.missing"]);
  match(log.of("lint")[1]!.message, /No Content-Type header in a 200 response/);
  // Unrecorded: no seam in the environ, nothing built.
  let keys: string[] = [];
  await (await toFetch((environ, start_response) => {
    keys = Object.keys(environ);
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return [];
  })(new Request("http://localhost/"))).arrayBuffer();
  ok(!keys.includes("wsgi_deno.lint"), "no lint seam without a recorder");
  // Through the inspector's API.
  await withInspector(app, async ({ app: server, origin }) => {
    await (await fetch(`${server.url}/lint`)).text();
    const list = await (await fetch(`${origin}/api/exchanges`)).json();
    const detail = await (await fetch(`${origin}/api/exchanges/${list.exchanges[0].id}`)).json();
    const lints = detail.events.filter((e: { type: string }) => e.type === "lint");
    deepEqual(lints.map((e: { data: { rule: string } }) => e.data.rule), [
      "headers.value",
      "content_type.missing",
    ]);
  });
});

Deno.test("throwErrors: the application's own error fails the request, its stack intact", async () => {
  class AppError extends Error {}
  const early: Application = () => {
    throw new AppError("early failure");
  };
  const late: Application = (_environ, start_response) => {
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return (async function* () {
      yield enc("half");
      throw new AppError("late failure");
    })();
  };
  const broken: Application = () => [enc("no start_response")];
  const client = (app: Application) => new Client(app, { throwErrors: true });
  await rejects(() => client(early).get("/"), (error: unknown) => {
    ok(error instanceof AppError);
    match((error as Error).stack!, /toolkit_gateway_test\.ts/);
    return true;
  });
  await rejects(() => client(late).get("/"), AppError);
  await rejects(() => client(broken).get("/"), /without calling start_response\(\)/);
  // Off (the default): a 500 page, as a browser would see.
  equal((await new Client(early).get("/")).status, 500);
});

Deno.test("a raw request for a file wrapper body over HTTP/1.1 keep-alive ends cleanly", async () => {
  await withFile(10, async (path) => {
    const app: Application = async (environ, start_response) => {
      start_response("200 OK", [["Content-Type", "text/plain"], ["Content-Length", "10"]]);
      return environ["wsgi.file_wrapper"]!(await Deno.open(path));
    };
    await withServer(app, async (server) => {
      const r = await rawRequest(
        server.port,
        "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      );
      equal(r.status, 200);
      equal((text(r.body).match(/HTTP\/1\.1 200/g) ?? []).length, 1, "a second response followed");
    });
  });
});

Deno.test("write() sends the headers and its data before an async app returns (PEP 3333)", async () => {
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  let returned = false;
  const app: Application = async (_environ, start_response) => {
    const write = start_response("200 OK", [["Content-Type", "text/plain"]]);
    write(enc("first;"));
    await gate;
    write(enc("second;"));
    returned = true;
    return [enc("body;")];
  };
  const log = new EventLog();
  await withServer(app, async (server) => {
    // Resolves with the headers while the app still waits (bounded: a gateway
    // that holds write() output until the app returns never answers).
    let response: Response;
    try {
      response = await fetch(server.url, { signal: AbortSignal.timeout(3000) });
    } catch (error) {
      release();
      throw error;
    }
    equal(response.status, 200);
    const reader = response.body!.getReader();
    equal(text((await reader.read()).value!), "first;");
    equal(returned, false, "the client had the data while the app still ran");
    release();
    let rest = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += text(value);
    }
    equal(rest, "second;body;");
    await waitFor(() => log.types().includes("end"), 5000, "the end event");
  }, { recorder: log });
  const types = log.types().filter((t) => t !== "environ" && t !== "request" && t !== "call");
  deepEqual(types, ["start_response", "write", "headers_sent", "write", "chunk", "close", "end"]);
});

Deno.test("write(): an error after it cuts the connection (no 500 page mixed in); exc_info after it rethrows", async () => {
  let rethrown: unknown;
  const app: Application = async (environ, start_response) => {
    const write = start_response("200 OK", [["Content-Type", "text/plain"]]);
    write(enc("partial output;"));
    await new Promise((r) => setTimeout(r, 5));
    try {
      throw new Error("failed after write");
    } catch (error) {
      if (environ.PATH_INFO === "/exc_info") {
        try {
          start_response("500 Internal Server Error", [["Content-Type", "text/plain"]], error);
        } catch (again) {
          rethrown = again;
        }
      }
      throw error;
    }
  };
  await withServer(app, async (server, sink) => {
    for (const path of ["/", "/exc_info"]) {
      const response = await fetch(`${server.url}${path}`);
      equal(response.status, 200);
      const reader = response.body!.getReader();
      equal(text((await reader.read()).value!), "partial output;");
      await rejects(() => reader.read(), "the connection is cut");
    }
    await waitFor(() => sink.text.includes("failed after write"), 5000, "the error report");
    ok(!sink.text.includes("500 Internal"), sink.text);
  });
  ok(rethrown instanceof Error && rethrown.message === "failed after write", "exc_info rethrown");
});

Deno.test("write(): a client that leaves while the app still runs; close() is called when the body comes", async () => {
  let closed = 0;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const app: Application = async (_environ, start_response) => {
    start_response("200 OK", [["Content-Type", "text/plain"]])(enc("x"));
    await gate;
    return Object.assign([enc("late")], { close: () => void closed++ });
  };
  const log = new EventLog();
  await withServer(app, async (server) => {
    const response = await fetch(server.url);
    await response.body!.cancel();
    await waitFor(() => log.types().includes("abort"), 5000, "the abort");
    release();
    await waitFor(() => closed === 1, 5000, "close() once");
  }, { recorder: log });
  equal(closed, 1);
});

Deno.test("write(): a client that leaves while the body after it waits in an await gets close() at once", async () => {
  let closed = 0;
  let release!: () => void;
  const stuck = new Promise<void>((resolve) => (release = resolve));
  const app: Application = (_environ, start_response) => {
    start_response("200 OK", [["Content-Type", "text/plain"]])(enc("written;"));
    return {
      async *[Symbol.asyncIterator]() {
        await stuck; // the next() that is pending when the client leaves
        yield enc("late");
      },
      close: () => void closed++,
    };
  };
  await withServer(app, async (server) => {
    const response = await fetch(server.url);
    const reader = response.body!.getReader();
    equal(text((await reader.read()).value!), "written;");
    await reader.cancel();
    await waitFor(() => closed === 1, 5000, "close() while next() is pending");
    release();
    await new Promise((r) => setTimeout(r, 20));
    equal(closed, 1, "once");
  });
});
