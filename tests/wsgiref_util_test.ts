/**
 * CPython's `Lib/test/test_wsgiref.py`, `UtilityTests` and `HeaderTests`,
 * carried to our API: each test is named after the Python test it ports, and
 * asserts what that test asserts.
 */

import { deepEqual, equal, notEqual, ok, throws } from "node:assert/strict";
import {
  applicationUri,
  ErrorBuffer,
  guessScheme,
  isHopByHop,
  requestUri,
  setupTestingDefaults,
  shiftPathInfo,
} from "../server/util.ts";
import { Headers } from "../server/headers.ts";
import { FileWrapper } from "../server/file_wrapper.ts";
import { Input } from "../server/input.ts";

type Env = Record<string, unknown>;

function checkShift(snIn: string, piIn: string, part: string | null, snOut: string, piOut: string) {
  const env: Env = { SCRIPT_NAME: snIn, PATH_INFO: piIn };
  setupTestingDefaults(env);
  equal(shiftPathInfo(env), part, `shift of ${JSON.stringify([snIn, piIn])}`);
  equal(env.PATH_INFO, piOut, `PATH_INFO of ${JSON.stringify([snIn, piIn])}`);
  equal(env.SCRIPT_NAME, snOut, `SCRIPT_NAME of ${JSON.stringify([snIn, piIn])}`);
}

Deno.test("shiftPathInfo(): testSimpleShifts", () => {
  checkShift("", "/", "", "/", "");
  checkShift("", "/x", "x", "/x", "");
  checkShift("/", "", null, "/", "");
  checkShift("/a", "/x/y", "x", "/a/x", "/y");
  checkShift("/a", "/x/", "x", "/a/x", "/");
});

Deno.test("shiftPathInfo(): testNormalizedShifts", () => {
  checkShift("/a/b", "/../y", "..", "/a", "/y");
  checkShift("", "/../y", "..", "", "/y");
  checkShift("/a/b", "//y", "y", "/a/b/y", "");
  checkShift("/a/b", "//y/", "y", "/a/b/y", "/");
  checkShift("/a/b", "/./y", "y", "/a/b/y", "");
  checkShift("/a/b", "/./y/", "y", "/a/b/y", "/");
  checkShift("/a/b", "///./..//y/.//", "..", "/a", "/y/");
  checkShift("/a/b", "///", "", "/a/b/", "");
  checkShift("/a/b", "/.//", "", "/a/b/", "");
  checkShift("/a/b", "/x//", "x", "/a/b/x", "/");
  checkShift("/a/b", "/.", null, "/a/b", "");
});

Deno.test("setupTestingDefaults(): testDefaults", async (t) => {
  const cases: [string, unknown][] = [
    ["SERVER_NAME", "127.0.0.1"],
    ["SERVER_PORT", "80"],
    ["SERVER_PROTOCOL", "HTTP/1.0"],
    ["HTTP_HOST", "127.0.0.1"],
    ["REQUEST_METHOD", "GET"],
    ["SCRIPT_NAME", ""],
    ["PATH_INFO", "/"],
    ["wsgi.version", [1, 0]],
    ["wsgi.run_once", false],
    ["wsgi.multithread", false],
    ["wsgi.multiprocess", false],
    ["wsgi.input", Input],
    ["wsgi.errors", ErrorBuffer],
    ["wsgi.url_scheme", "http"],
  ];
  for (const [key, value] of cases) {
    await t.step(key, () => {
      // Defaulting when absent.
      const env: Env = {};
      setupTestingDefaults(env);
      if (typeof value === "function") ok(env[key] instanceof value, `${key} is a ${value.name}`);
      else deepEqual(env[key], value);
      // An existing value stays, as it is.
      const alt = { mine: true };
      const kept: Env = { [key]: alt };
      setupTestingDefaults(kept);
      equal(kept[key], alt);
    });
  }
});

Deno.test("setupTestingDefaults(): testCrossDefaults", () => {
  const cross = (key: string, value: string, kw: Env) => {
    setupTestingDefaults(kw);
    equal(kw[key], value, `${key} from ${JSON.stringify(kw)}`);
  };
  cross("HTTP_HOST", "foo.bar", { SERVER_NAME: "foo.bar" });
  cross("wsgi.url_scheme", "https", { HTTPS: "on" });
  cross("wsgi.url_scheme", "https", { HTTPS: "1" });
  cross("wsgi.url_scheme", "https", { HTTPS: "yes" });
  cross("wsgi.url_scheme", "http", { HTTPS: "foo" });
  cross("SERVER_PORT", "80", { HTTPS: "foo" });
  cross("SERVER_PORT", "443", { HTTPS: "on" });
});

Deno.test("guessScheme(): testGuessScheme", () => {
  equal(guessScheme({}), "http");
  equal(guessScheme({ HTTPS: "foo" }), "http");
  equal(guessScheme({ HTTPS: "on" }), "https");
  equal(guessScheme({ HTTPS: "yes" }), "https");
  equal(guessScheme({ HTTPS: "1" }), "https");
});

Deno.test("applicationUri(): testAppURIs", () => {
  const app = (uri: string, kw: Env = {}) => {
    setupTestingDefaults(kw);
    equal(applicationUri(kw), uri, JSON.stringify(kw));
  };
  app("http://127.0.0.1/");
  app("http://127.0.0.1/spam", { SCRIPT_NAME: "/spam" });
  app("http://127.0.0.1/sp%E4m", { SCRIPT_NAME: "/sp\xe4m" });
  app("http://spam.example.com:2071/", { HTTP_HOST: "spam.example.com:2071", SERVER_PORT: "2071" });
  app("http://spam.example.com/", { SERVER_NAME: "spam.example.com" });
  app("http://127.0.0.1/", { HTTP_HOST: "127.0.0.1", SERVER_NAME: "spam.example.com" });
  app("https://127.0.0.1/", { HTTPS: "on" });
  app("http://127.0.0.1:8000/", { SERVER_PORT: "8000", HTTP_HOST: undefined });
});

Deno.test("requestUri(): testReqURIs", () => {
  const req = (uri: string, query: boolean, kw: Env = {}) => {
    setupTestingDefaults(kw);
    equal(requestUri(kw, query), uri, JSON.stringify(kw));
  };
  req("http://127.0.0.1/", true);
  req("http://127.0.0.1/spam", true, { SCRIPT_NAME: "/spam" });
  req("http://127.0.0.1/sp%E4m", true, { SCRIPT_NAME: "/sp\xe4m" });
  req("http://127.0.0.1/spammity/spam", true, { SCRIPT_NAME: "/spammity", PATH_INFO: "/spam" });
  req("http://127.0.0.1/spammity/sp%E4m", true, {
    SCRIPT_NAME: "/spammity",
    PATH_INFO: "/sp\xe4m",
  });
  req("http://127.0.0.1/spammity/spam;ham", true, {
    SCRIPT_NAME: "/spammity",
    PATH_INFO: "/spam;ham",
  });
  req("http://127.0.0.1/spammity/spam;cookie=1234,5678", true, {
    SCRIPT_NAME: "/spammity",
    PATH_INFO: "/spam;cookie=1234,5678",
  });
  req("http://127.0.0.1/spammity/spam?say=ni", true, {
    SCRIPT_NAME: "/spammity",
    PATH_INFO: "/spam",
    QUERY_STRING: "say=ni",
  });
  req("http://127.0.0.1/spammity/spam?s%E4y=ni", true, {
    SCRIPT_NAME: "/spammity",
    PATH_INFO: "/spam",
    QUERY_STRING: "s%E4y=ni",
  });
  req("http://127.0.0.1/spammity/spam", false, {
    SCRIPT_NAME: "/spammity",
    PATH_INFO: "/spam",
    QUERY_STRING: "say=ni",
  });
});

/** An in-memory file, as Python's `StringIO` in `checkFW`. */
class MemoryFile {
  #bytes: Uint8Array;
  #at = 0;
  closed = false;
  constructor(text: string) {
    this.#bytes = new TextEncoder().encode(text);
  }
  read(p: Uint8Array): Promise<number | null> {
    if (this.closed) return Promise.reject(new Error("read of a closed file"));
    const n = Math.min(p.length, this.#bytes.length - this.#at);
    if (n === 0) return Promise.resolve(null);
    p.set(this.#bytes.subarray(this.#at, this.#at + n));
    this.#at += n;
    return Promise.resolve(n);
  }
  close() {
    this.closed = true;
  }
}

Deno.test("FileWrapper: testFileWrapper", async () => {
  const text = (chunks: Uint8Array[]) => chunks.map((c) => new TextDecoder().decode(c));
  // compare_generic_iter: the blocks, then the end.
  const items: Uint8Array[] = [];
  for await (const block of new FileWrapper(new MemoryFile("xyz".repeat(50)), 120)) {
    items.push(block);
  }
  deepEqual(text(items), ["xyz".repeat(40), "xyz".repeat(10)]);
  // Iterating does not close the file; close() does.
  const file = new MemoryFile("xyz".repeat(50));
  const it = new FileWrapper(file, 120);
  for await (const _ of it) { /* drain */ }
  equal(file.closed, false);
  it.close();
  equal(file.closed, true);
});

Deno.test("isHopByHop(): testHopByHop", () => {
  for (
    const hop
      of "Connection Keep-Alive Proxy-Authenticate Proxy-Authorization TE Trailers Transfer-Encoding Upgrade"
        .split(" ")
  ) {
    for (
      const alt of [hop, hop[0] + hop.slice(1).toLowerCase(), hop.toUpperCase(), hop.toLowerCase()]
    ) {
      ok(isHopByHop(alt), alt);
    }
  }
  for (const hop of "Accept Cache-Control Date Pragma Trailer Via Warning".split(" ")) {
    for (const alt of [hop, hop.toUpperCase(), hop.toLowerCase()]) ok(!isHopByHop(alt), alt);
  }
});

Deno.test("Headers: testMappingInterface", () => {
  const test: [string, string][] = [["x", "y"]];
  equal(new Headers().length, 0);
  equal(new Headers([]).length, 0);
  equal(new Headers([...test]).length, 1);
  deepEqual(new Headers([...test]).keys(), ["x"]);
  deepEqual(new Headers([...test]).values(), ["y"]);
  deepEqual(new Headers([...test]).items(), test);
  notEqual(new Headers(test).items(), test, "items() is a copy");

  const h = new Headers();
  h.delete("foo"); // no error
  h.set("Foo", "bar");
  for (const name of ["foo", "Foo", "FOO"]) {
    ok(h.has(name));
    ok(h.get(name));
    ok(h.getAll(name).length > 0);
  }
  ok(!h.has("bar"));
  equal(h.get("bar"), undefined);
  deepEqual(h.getAll("bar"), []);

  equal(h.get("foo"), "bar");
  h.set("foo", "baz");
  equal(h.get("FOO"), "baz");
  deepEqual(h.getAll("foo"), ["baz"]);
  equal(h.get("foo", "whee"), "baz");
  equal(h.get("zoo", "whee"), "whee");
  equal(h.setdefault("foo", "whee"), "baz");
  equal(h.setdefault("zoo", "whee"), "whee");
  equal(h.get("foo"), "baz");
  equal(h.get("zoo"), "whee");
});

Deno.test("Headers: testRequireList", () => {
  throws(() => new Headers("foo" as unknown as [string, string][]), TypeError);
});

Deno.test("Headers: testExtras", () => {
  const h = new Headers();
  equal(h.toString(), "\r\n");
  h.addHeader("foo", "bar", { baz: "spam" });
  equal(h.get("foo"), 'bar; baz="spam"');
  equal(h.toString(), 'foo: bar; baz="spam"\r\n\r\n');
  h.addHeader("Foo", "bar", { cheese: null });
  deepEqual(h.getAll("foo"), ['bar; baz="spam"', "bar; cheese"]);
  equal(h.toString(), 'foo: bar; baz="spam"\r\nFoo: bar; cheese\r\n\r\n');
});

Deno.test("Headers: testRaisesControlCharacters", () => {
  for (let code = 0; code < 0x20; code++) {
    const c0 = String.fromCharCode(code);
    const headers = new Headers();
    throws(() => headers.set(`key${c0}`, "val"), RangeError);
    if (c0 === "\t") headers.set("key", `val${c0}`); // HTAB is allowed in values
    else throws(() => headers.set("key", `val${c0}`), RangeError);
    throws(() => headers.addHeader(`key${c0}`, "val", { param: "param" }), RangeError);
    if (c0 !== "\t") {
      throws(() => headers.addHeader("key", `val${c0}`, { param: "param" }), RangeError);
      throws(() => headers.addHeader("key", "val", { param: `param${c0}` }), RangeError);
    }
  }
});

Deno.test("Headers keeps the list it was given, so start_response sees later changes", () => {
  const list: [string, string][] = [];
  const h = new Headers(list);
  h.set("Content-Type", "text/plain");
  h.addHeader("Content-Disposition", "attachment", { file_name: "a b.txt" });
  deepEqual(list, [
    ["Content-Type", "text/plain"],
    ["Content-Disposition", 'attachment; file-name="a b.txt"'],
  ]);
  deepEqual([...h], list);
});
