/**
 * environ parity: our environ against the ones Python's
 * `wsgiref.simple_server` and gunicorn build for the same raw request.
 *
 * The three servers run the same environ echo (`fixtures/echo_environ.py`
 * under wsgiref and gunicorn, its twin `fixtures/echo_environ.ts` under our
 * `serve()`), and every case below sends the same raw bytes to each of them
 * over a plain socket (`{port}` in a case stands for each server's own port,
 * and that port in an answer reads `{port}` again). For every environ key,
 * and for what the app read from `wsgi.input`, where wsgiref and gunicorn
 * give the same value, ours must give it too. Keys where the two disagree, or
 * that one of them lacks, are skipped: that is where the servers make their
 * own choices (`SERVER_SOFTWARE`, `SERVER_NAME` from `getfqdn()` against the
 * bound address, wsgiref's `CONTENT_TYPE: "text/plain"` default and its copy
 * of `os.environ`, gunicorn's `RAW_URI` and `gunicorn.socket`, the
 * `wsgi.input` classes). A key that neither of them has must not be in ours.
 * Where they disagree and one of them is right, the case's `expect` pins our
 * choice (raw UTF-8 in the path: wsgiref's bytes, since gunicorn 20 encodes
 * them twice; `//x`, absolute-form targets and `#`: gunicorn's `PATH_INFO`).
 *
 * Known differences, where we knowingly give another value than the one
 * wsgiref and gunicorn agree on (each case lists its own, with the reason;
 * a listed difference that stops differing fails the test, so the list stays
 * true):
 *
 * - `wsgi.file_wrapper` is a function (both offer their `FileWrapper` class;
 *   it is called the same way). `REQUEST_URI` is ours alone (Werkzeug's).
 * - Header names containing `_` are dropped (both Python servers keep them):
 *   `X_Forwarded_For` would otherwise spoof `X-Forwarded-For`, as Werkzeug
 *   and gunicorn ≥ 22 decided.
 * - Repeated headers arrive joined with `", "` (`Cookie` with `"; "`), not
 *   `","`: `Deno.serve` joins them before our code runs.
 * - `SERVER_PROTOCOL` is always `HTTP/1.1`: `Deno.serve` does not tell an
 *   HTTP/1.0 request apart.
 * - `OPTIONS *` arrives as `/*`, so `PATH_INFO` is `/*`, not `*`.
 * - A GET or HEAD request's body is not readable (`Deno.serve` gives such a
 *   `Request` no body); `CONTENT_LENGTH` is still the header's value.
 * - Requests that hyper (under `Deno.serve`) rejects with 400 before our code
 *   runs: bytes in the target that are not valid UTF-8 or are control
 *   characters, a target without a leading `/`, obs-folded header lines, a
 *   space before a header's colon, non-token bytes in a header name,
 *   `Content-Length` together with `Transfer-Encoding`, a repeated `Host`.
 *   There we answer 400 and they answer something; the case asserts our 400.
 *
 * Besides parity, it asserts what issue 3 asks independently of Python:
 * `REMOTE_PORT` is a string, header names with `_` are dropped, chunked
 * uploads set `wsgi.input_terminated`, `CONTENT_TYPE`/`CONTENT_LENGTH` are
 * absent when the request has none, every string is bytes as latin-1, the
 * process's environment never leaks in, and `wsgi.input`'s reads.
 *
 * The same cases check the inspector's record of the environ: recorded as
 * its derivation (`server/environ_rule.ts`) and as every entry, both read
 * back equal, key by key and in order (no Python needed).
 *
 * Needs `python3` and `gunicorn` (Debian: `apt-get install -y gunicorn`):
 * without them the parity test fails under `CI=true` and is skipped, loudly,
 * elsewhere.
 *
 * @module
 */

import { deepEqual, equal, fail, match, ok, rejects } from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { serve, type Server } from "../server/serve.ts";
import { toFetch } from "../server/gateway.ts";
import { Input } from "../server/input.ts";
import { application as echo, latin1 } from "./fixtures/echo_environ.ts";
import { deriveEnviron } from "../server/environ_rule.ts";
import type { EventMap, Recorder } from "../server/recorder.ts";
import { ExchangeStore } from "../inspector/store.ts";

/** Keeps what the gateway writes to `wsgi.errors` and its reports. */
class MemorySink {
  text = "";
  write(text: string): void {
    this.text += text;
  }
  flush(): void {}
}

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;
/** Lifetime of the Python servers, in seconds: they stop by themselves. */
const LIFETIME = 60;

/** A variable of this process's environment that must never reach environ. */
const CANARY = "WSGI_DENO_PARITY_CANARY";
const CANARY_VALUE = `canary-${crypto.randomUUID()}`;
Deno.env.set(CANARY, CANARY_VALUE);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
interface Echo {
  environ: Record<string, Json>;
  input: Json[];
}

// --- raw HTTP over a socket ---------------------------------------------------

const toBytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

interface Answer {
  status: number;
  head: string;
  headers: Map<string, string>;
  body: Uint8Array;
}

/** Removes chunked framing from a response body. */
function dechunk(body: Uint8Array): Uint8Array {
  const text = latin1(body);
  const out: number[] = [];
  let at = 0;
  for (;;) {
    const eol = text.indexOf("\r\n", at);
    const size = parseInt(text.slice(at, eol), 16);
    if (!(size > 0)) break;
    out.push(...body.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
  return Uint8Array.from(out);
}

/**
 * Writes `request` (latin-1) to 127.0.0.1:port and reads the answer until the
 * server closes. Interim 1xx answers are skipped. A server that resets the
 * connection after answering (wsgiref, when the body was left unread) still
 * gives its answer.
 */
async function exchange(port: number, request: string): Promise<Answer> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), 5000);
  const received: Uint8Array[] = [];
  try {
    try {
      const bytes = toBytes(request);
      for (let n = 0; n < bytes.length;) n += await conn.write(bytes.subarray(n));
    } catch {
      // The server may answer (400) and close before taking the whole request.
    }
    const buffer = new Uint8Array(65536);
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(buffer);
      } catch (error) {
        if (received.length === 0) throw error;
        break;
      }
      if (n === null) break;
      received.push(buffer.slice(0, n));
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // closed by the timer
    }
  }
  let all = new Uint8Array(received.reduce((n, r) => n + r.length, 0));
  let offset = 0;
  for (const r of received) {
    all.set(r, offset);
    offset += r.length;
  }
  for (;;) {
    const text = latin1(all);
    const end = text.indexOf("\r\n\r\n");
    if (end === -1) throw new Error(`Incomplete answer from port ${port}: ${JSON.stringify(text)}`);
    const lines = text.slice(0, end).split("\r\n");
    const status = Number(lines[0]!.split(" ")[1]);
    if (status >= 100 && status < 200) {
      all = all.subarray(end + 4);
      continue;
    }
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    let body: Uint8Array = all.subarray(end + 4);
    if (headers.get("transfer-encoding")?.toLowerCase() === "chunked") body = dechunk(body);
    return { status, head: lines[0]!, headers, body };
  }
}

/** The echo's JSON from an answer (from `X-Echo` for HEAD). */
function echoOf(answer: Answer): Echo {
  const header = answer.headers.get("x-echo");
  const bytes = header === undefined ? answer.body : toBytes(atob(header));
  return JSON.parse(new TextDecoder().decode(bytes));
}

/** Writes the server's own port as `{port}`, so answers from different servers compare. */
function normalise(echo: Echo, port: number): Echo {
  const p = String(port);
  const environ: Record<string, Json> = {};
  for (const [key, value] of Object.entries(echo.environ)) {
    environ[key] = typeof value !== "string"
      ? value
      : value === p
      ? "{port}"
      : value.replaceAll(`:${p}`, ":{port}");
  }
  return { environ, input: echo.input };
}

// --- the servers ----------------------------------------------------------------

interface Child {
  name: string;
  port: number;
  stop(): Promise<string>;
}

/** Whether a command runs (false when it is not installed). */
async function runs(command: string, args: string[]): Promise<boolean> {
  try {
    const out = await new Deno.Command(command, { args, stdout: "null", stderr: "null" })
      .output();
    return out.success;
  } catch {
    return false;
  }
}

/** What this machine lacks to run the Python servers. */
async function missingTools(): Promise<string[]> {
  const missing: string[] = [];
  if (!await runs("python3", ["-c", "import wsgiref.simple_server"])) missing.push("python3");
  if (!await runs("gunicorn", ["--version"])) missing.push("gunicorn");
  if (!await runs("timeout", ["--version"])) missing.push("timeout (coreutils)");
  return missing;
}

/** A free loopback port (for gunicorn, which cannot report the one it got for port 0). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** Polls until `port` accepts a connection; fails if `status` settles first. */
async function waitForPort(
  port: number,
  exited: Promise<unknown>,
  what: string,
): Promise<void> {
  let gone = false;
  exited.then(() => gone = true);
  const end = Date.now() + 10_000;
  for (;;) {
    if (gone) throw new Error(`${what} exited before listening`);
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      if (Date.now() > end) throw new Error(`${what} did not listen on ${port} within 10 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Starts a child server; `findPort` reads or knows its port. Dumps its stderr on failure. */
async function startChild(
  name: string,
  command: Deno.Command,
  findPort: (stdout: ReadableStreamDefaultReader<Uint8Array>) => Promise<number>,
  signal: Deno.Signal,
): Promise<Child> {
  const child = command.spawn();
  const stdout = child.stdout.getReader();
  const stderr = new Response(child.stderr).text();
  let drained: Promise<unknown> = Promise.resolve();
  const stop = async () => {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
    await child.status;
    await drained;
    return await stderr;
  };
  try {
    const port = await findPort(stdout);
    drained = (async () => {
      while (!(await stdout.read()).done);
    })();
    await waitForPort(port, child.status, name);
    // Listening is not serving: gunicorn listens before its worker has loaded the app.
    const answer = await exchange(port, http("GET /ready HTTP/1.1"));
    if (answer.status !== 200) throw new Error(`first request answered ${answer.head}`);
    return { name, port, stop };
  } catch (error) {
    drained = stdout.cancel();
    const text = await stop();
    throw new Error(`Cannot start ${name}: ${(error as Error).message}\n--- stderr ---\n${text}`);
  }
}

function startWsgiref(): Promise<Child> {
  const command = new Deno.Command("python3", {
    args: [`${FIXTURES}echo_environ.py`, String(LIFETIME)],
    cwd: FIXTURES,
    env: { PYTHONDONTWRITEBYTECODE: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  return startChild("wsgiref", command, async (stdout) => {
    let text = "";
    while (!text.includes("\n")) {
      const { done, value } = await stdout.read();
      if (done) throw new Error(`no port printed (stdout: ${JSON.stringify(text)})`);
      text += new TextDecoder().decode(value);
    }
    return Number(text.trim().split("\n")[0]);
  }, "SIGTERM");
}

/** Starts gunicorn, again if the free port we picked was taken meanwhile. */
async function startGunicorn(): Promise<Child> {
  for (let attempt = 1;; attempt++) {
    try {
      return await startGunicornOnce();
    } catch (error) {
      if (attempt === 3 || !String((error as Error).message).includes("in use")) throw error;
    }
  }
}

function startGunicornOnce(): Promise<Child> {
  const port = freePort();
  const env = Deno.env.toObject();
  // gunicorn takes SCRIPT_NAME and extra arguments from its environment.
  delete env.SCRIPT_NAME;
  delete env.GUNICORN_CMD_ARGS;
  env.PYTHONDONTWRITEBYTECODE = "1"; // no __pycache__ in tests/fixtures
  const command = new Deno.Command("timeout", {
    // `timeout` stops it after LIFETIME s, and passes our SIGINT (quick shutdown) on.
    args: [
      "--kill-after=5",
      String(LIFETIME),
      "gunicorn",
      "--workers=1",
      "--worker-class=sync",
      `--bind=127.0.0.1:${port}`,
      "--log-level=warning",
      "--graceful-timeout=1",
      `--chdir=${FIXTURES}`,
      "echo_environ:application",
    ],
    cwd: FIXTURES,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  return startChild("gunicorn", command, () => Promise.resolve(port), "SIGINT");
}

// --- the cases --------------------------------------------------------------------

/** One raw request and what we know about our answer to it. */
interface Case {
  name: string;
  /** The raw request, latin-1; `{port}` is each server's own port. */
  request: string;
  /** Why hyper answers 400 before our code runs (we answer 400, they answer something). */
  rejected?: string;
  /** Keys (and `input`) where we knowingly differ from what both agree on, with the reason. */
  differs?: Record<string, string>;
  /** Values ours must have (`null`: absent), whatever the Python servers say (where they disagree). */
  expect?: Record<string, Json>;
}

/** Differences in every case: keys both Python servers give that we knowingly do not. */
const ALWAYS_DIFFERS: Record<string, string> = {
  "wsgi.file_wrapper": "a function here, a class in Python; called the same way",
  REQUEST_URI: "the target as received, as Werkzeug sets it; wsgiref and gunicorn have none",
};

const DUPLICATES = 'Deno.serve joins repeated headers with ", " before our code runs';
const UNDERSCORE = "header names with _ are dropped: they would spoof the - names";
const HTTP10 = "Deno.serve does not tell HTTP/1.0 apart from 1.1";
const GET_BODY = "Deno.serve gives a GET or HEAD Request no body";

/** `METHOD target HTTP/1.1` with the given header lines, `Connection: close`, and a body. */
function http(line: string, headers: string[] = ["Host: example.com"], body = ""): string {
  const head = [line, ...headers, "Connection: close"].join("\r\n");
  return `${head}\r\n\r\n${body}`;
}
const get = (target: string, ...headers: string[]) =>
  http(`GET ${target} HTTP/1.1`, ["Host: example.com", ...headers]);
const post = (body: string, ...headers: string[]) =>
  http(
    "POST /submit HTTP/1.1",
    ["Host: example.com", ...headers, `Content-Length: ${body.length}`],
    body,
  );
const chunked = (chunks: string, ...headers: string[]) =>
  http(
    "POST /upload HTTP/1.1",
    ["Host: example.com", ...headers, "Transfer-Encoding: chunked"],
    chunks,
  );

const ALL_BYTES = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join("");
const LINES = "first line\nsecond\n\nfourth, no newline";

const CASES: Case[] = [
  // Paths
  { name: "path: root", request: get("/") },
  { name: "path: plain", request: get("/hello/world") },
  { name: "path: %20 decodes to a space", request: get("/a%20b") },
  { name: "path: %2F decodes to a slash", request: get("/a%2Fb%2f") },
  { name: "path: percent-encoded UTF-8 stays bytes", request: get("/caf%C3%A9/%E2%82%AC") },
  { name: "path: %FF and %fe are single bytes", request: get("/%FF%fe") },
  { name: "path: %00", request: get("/a%00b") },
  { name: "path: invalid %zz and a lone % stay", request: get("/a%zz/%/b%4/%%41") },
  { name: "path: encoded percent", request: get("/100%25/%2541") },
  { name: "path: dot segments stay", request: get("/a/../b/./c/..") },
  {
    // wsgiref (3.11.7+) collapses the leading "//"; gunicorn keeps it, as we do.
    name: "path: double slashes stay",
    request: get("//double//x/"),
    expect: { PATH_INFO: "//double//x/" },
  },
  { name: "path: sub-delims and specials", request: get("/a;b=c,d!$&'()*+@:~-._") },
  {
    // gunicorn 20.1 encodes these bytes twice ("/caf\xc3\x83\xc2\xa9"); wsgiref is right.
    name: "path: raw UTF-8 bytes",
    request: get("/caf\xc3\xa9"),
    expect: { PATH_INFO: "/caf\xc3\xa9" },
  },
  {
    name: "path: raw 4-byte UTF-8",
    request: get("/\xf0\x9f\x98\x80?e=\xf0\x9f\x98\x80"),
    expect: { PATH_INFO: "/\xf0\x9f\x98\x80", QUERY_STRING: "e=\xf0\x9f\x98\x80" },
  },
  {
    // wsgiref keeps "#section" in PATH_INFO; gunicorn drops it, as we do.
    name: "path: fragment",
    request: get("/page#section"),
    expect: { PATH_INFO: "/page", QUERY_STRING: "" },
  },
  {
    name: "path: raw invalid UTF-8 byte",
    request: get("/\xff\xfe"),
    rejected: "hyper rejects target bytes that are not valid UTF-8",
  },
  {
    name: "path: raw DEL byte",
    request: get("/a\x7fb"),
    rejected: "hyper rejects control bytes in the target",
  },
  {
    name: "path: no leading slash",
    request: get("?x=1"),
    rejected: "hyper rejects a target without a leading /",
  },
  {
    name: "path: OPTIONS *",
    request: http("OPTIONS * HTTP/1.1"),
    differs: { PATH_INFO: "Deno.serve hands OPTIONS * over as /*" },
  },
  {
    // wsgiref puts the whole URL in PATH_INFO; gunicorn takes its path, as we do.
    name: "path: absolute-form target",
    request: get("http://example.com/abs/x?y=1"),
    expect: { PATH_INFO: "/abs/x", QUERY_STRING: "y=1" },
  },
  {
    name: "path: absolute-form target for another host",
    request: get("http://other.example:8080/abs%20olute?q"),
  },
  {
    name: "path: Host header with a slash",
    request: http("GET /p?q=1 HTTP/1.1", ["Host: a/b"]),
    expect: { PATH_INFO: "/p", QUERY_STRING: "q=1", HTTP_HOST: "a/b" },
  },

  // Queries
  { name: "query: none", request: get("/p") },
  { name: "query: empty after a trailing ?", request: get("/p?") },
  { name: "query: only ?", request: get("/?") },
  { name: "query: plain", request: get("/p?a=1&b=2") },
  { name: "query: stays encoded", request: get("/p?q=a%20b%26c%3Dd%2F") },
  { name: "query: + and = stay", request: get("/p?a+b==c&&d=+") },
  { name: "query: percent-encoded UTF-8 stays encoded", request: get("/p?q=%C3%A9%E2%82%AC") },
  { name: "query: raw UTF-8 bytes", request: get("/p?q=caf\xc3\xa9") },
  { name: "query: a second ?", request: get("/p?a=1?b=2") },
  { name: "query: slashes and specials", request: get('/p?next=/a/b&x=|{}`^"') },
  { name: "query: invalid percent escapes stay", request: get("/p?%zz=%") },

  // Bodies
  { name: "body: Content-Length text", request: post("name=Ada&lang=en") },
  { name: "body: Content-Length, every byte value", request: post(ALL_BYTES) },
  { name: "body: Content-Length 0", request: post("") },
  { name: "body: POST with neither length nor chunking", request: http("POST /p HTTP/1.1") },
  {
    name: "body: Content-Length with leading zeros",
    request: http("POST /p HTTP/1.1", ["Host: example.com", "Content-Length: 005"], "hello"),
  },
  {
    // gunicorn rejects a repeated Content-Length; wsgiref takes the first; Deno joins them.
    name: "body: repeated equal Content-Length",
    request: http("POST /p HTTP/1.1", [
      "Host: example.com",
      "Content-Length: 3",
      "Content-Length: 3",
    ], "abc"),
    expect: { CONTENT_LENGTH: "3", input: ["abc"] },
  },
  {
    name: "body: more bytes than Content-Length",
    request: http("POST /p HTTP/1.1", ["Host: example.com", "Content-Length: 3"], "abcdef"),
    expect: { input: ["abc"] },
  },
  {
    name: "body: chunked, several chunks, an extension and a trailer",
    request: chunked("3;ext=1\r\nabc\r\n5\r\nde\nfg\r\n0\r\nX-Trailer: t\r\n\r\n"),
  },
  { name: "body: chunked, empty", request: chunked("0\r\n\r\n") },
  {
    name: "body: chunked, binary",
    request: chunked(`100\r\n${ALL_BYTES}\r\n0\r\n\r\n`, "Content-Type: application/octet-stream"),
  },
  {
    name: "body: Content-Length and Transfer-Encoding together",
    request: http("POST /p HTTP/1.1", [
      "Host: example.com",
      "Content-Length: 3",
      "Transfer-Encoding: chunked",
    ], "3\r\nabc\r\n0\r\n\r\n"),
    rejected: "hyper rejects Content-Length with Transfer-Encoding (request smuggling)",
  },
  {
    name: "body: Expect 100-continue",
    request: post("expected", "Expect: 100-continue"),
  },
  {
    name: "body: PUT with a body",
    request: http("PUT /r/1 HTTP/1.1", ["Host: example.com", "Content-Length: 4"], "put!"),
  },
  {
    name: "body: PATCH with a body",
    request: http(
      "PATCH /r/1 HTTP/1.1",
      ["Host: example.com", "Content-Type: application/json", "Content-Length: 2"],
      "{}",
    ),
  },
  {
    name: "body: DELETE with a body",
    request: http("DELETE /r/1 HTTP/1.1", ["Host: example.com", "Content-Length: 3"], "del"),
  },
  {
    name: "body: GET with a body",
    request: http("GET /p HTTP/1.1", ["Host: example.com", "Content-Length: 3"], "get"),
    differs: {
      input: GET_BODY,
      CONTENT_LENGTH: `${GET_BODY}, so the environ says there is none (it agrees with wsgi.input)`,
    },
    expect: { CONTENT_LENGTH: null },
  },
  {
    name: "input: read(n) in steps, then to the end",
    request: post(LINES, "X-Echo-Reads: read:3,read:0,read:4,read,read"),
  },
  {
    name: "input: readline(), readline(n), then readlines()",
    request: post(LINES, "X-Echo-Reads: readline,readline:3,readline:100,readlines,readline"),
  },
  { name: "input: iteration", request: post(LINES, "X-Echo-Reads: read:2,iter") },
  {
    name: "input: chunked, read(n) and readline()",
    request: chunked(
      "4\r\nfirs\r\n8\r\nt\nsecond\r\n0\r\n\r\n",
      "X-Echo-Reads: read:2,readline,read",
    ),
  },

  // Headers
  { name: "header: mixed case name", request: get("/", "x-MiXeD-CaSe: Value") },
  { name: "header: token characters in the name", request: get("/", "X-A1!#$%&'*+.^`|~: v") },
  { name: "header: latin-1 byte in a value", request: get("/", "X-Latin: caf\xe9") },
  { name: "header: UTF-8 bytes in a value", request: get("/", "X-Utf8: caf\xc3\xa9 \xe2\x82\xac") },
  { name: "header: very long value", request: get("/", `X-Long: ${"x".repeat(8000)}`) },
  { name: "header: empty value", request: get("/", "X-Empty:") },
  { name: "header: inner whitespace and tabs", request: get("/", "X-Space: a  b\tc") },
  { name: "header: no space after the colon", request: get("/", "X-Tight:tight") },
  {
    name: "header: many headers",
    request: get("/", ...Array.from({ length: 40 }, (_, i) => `X-H${i}: ${i}`)),
  },
  {
    name: "header: underscore in the name",
    request: get("/", "X_Custom: spoof"),
    differs: { HTTP_X_CUSTOM: UNDERSCORE },
  },
  {
    name: "header: underscore spoofing a real header",
    request: get("/", "X-Forwarded-For: 10.0.0.1", "X_Forwarded_For: 6.6.6.6"),
    differs: { HTTP_X_FORWARDED_FOR: UNDERSCORE },
  },
  {
    // gunicorn 20.1 takes SCRIPT_NAME from this header; wsgiref ignores it; we drop it.
    name: "header: underscore spoofing SCRIPT_NAME",
    request: get("/app/x", "Script_Name: /app"),
    expect: { SCRIPT_NAME: "", PATH_INFO: "/app/x", HTTP_SCRIPT_NAME: null },
  },
  { name: "header: underscore spoofing Content_Length", request: get("/", "Content_Length: 5") },
  { name: "header: named like a CGI variable", request: get("/", "Remote-Addr: 10.1.1.1") },
  {
    name: "header: repeated",
    request: get("/", "X-Dup: a", "X-Dup: b"),
    differs: { HTTP_X_DUP: DUPLICATES },
  },
  {
    name: "header: repeated Cookie",
    request: get("/", "Cookie: a=1", "Cookie: b=2"),
    differs: { HTTP_COOKIE: 'Deno.serve joins repeated Cookie headers with "; "' },
  },
  {
    name: "header: repeated Accept",
    request: get("/", "Accept: text/html", "Accept: */*"),
    differs: { HTTP_ACCEPT: DUPLICATES },
  },
  {
    name: "header: repeated Host",
    request: http("GET / HTTP/1.1", ["Host: a.example", "Host: b.example"]),
    rejected: "hyper rejects a repeated Host",
  },
  {
    name: "header: obs-fold continuation line",
    request: get("/", "X-Folded: a", " b"),
    rejected: "hyper rejects obs-folded header lines",
  },
  {
    name: "header: space before the colon",
    request: get("/", "X-Bad : v"),
    rejected: "hyper rejects whitespace between a header name and its colon",
  },
  {
    name: "header: non-token byte in the name",
    request: get("/", "X-\xe9: v"),
    rejected: "hyper rejects header names that are not tokens",
  },
  {
    name: "header: Content-Type with parameters",
    request: post("x", "Content-Type: text/plain; charset=utf-8"),
  },
  { name: "header: Content-Type without a body", request: get("/", "Content-Type: text/csv") },
  { name: "header: empty Content-Type", request: get("/", "Content-Type:") },
  {
    name: "header: lower-case content-length",
    request: http("POST /p HTTP/1.1", ["Host: example.com", "content-length: 2"], "ok"),
  },
  { name: "header: Host with a port", request: http("GET / HTTP/1.1", ["Host: example.com:8080"]) },
  {
    name: "header: Host is our own address",
    request: http("GET / HTTP/1.1", ["Host: 127.0.0.1:{port}"]),
  },
  { name: "header: IPv6 Host", request: http("GET / HTTP/1.1", ["Host: [::1]:8080"]) },
  {
    name: "header: IPv6 Host without a port",
    request: http("GET / HTTP/1.1", ["Host: [2001:db8::1]"]),
  },
  { name: "header: empty Host", request: http("GET / HTTP/1.1", ["Host:"]) },
  { name: "header: no Host, HTTP/1.1", request: http("GET /nohost HTTP/1.1", []) },
  {
    name: "header: no Host, HTTP/1.0",
    request: http("GET /old?x=1 HTTP/1.0", []),
    differs: { SERVER_PROTOCOL: HTTP10 },
  },
  {
    name: "header: HTTP/1.0 with a Host",
    request: http("GET / HTTP/1.0", ["Host: example.com"]),
    differs: { SERVER_PROTOCOL: HTTP10 },
  },
  {
    // gunicorn trusts it from 127.0.0.1 (forwarded_allow_ips); wsgiref and we do not.
    name: "header: X-Forwarded-Proto",
    request: get("/", "X-Forwarded-Proto: https"),
    expect: { "wsgi.url_scheme": "http", HTTP_X_FORWARDED_PROTO: "https" },
  },

  // Methods
  ...["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PURGE", "M-SEARCH"].map((m) => ({
    name: `method: ${m}`,
    request: http(`${m} /m HTTP/1.1`),
  })),
  { name: "method: HEAD", request: http("HEAD /m?x HTTP/1.1") },
  {
    // Methods are case-sensitive: wsgiref keeps "get", gunicorn upper-cases it.
    name: "method: lower-case get",
    request: http("get /m HTTP/1.1"),
    expect: { REQUEST_METHOD: "get" },
  },
];

// --- the comparison ---------------------------------------------------------------

const show = (value: unknown) => value === undefined ? "(absent)" : JSON.stringify(value);

/** The checks every environ of ours must pass, whatever the Python servers say. */
function checkOurs(request: string, environ: Record<string, Json>): void {
  const head = request.slice(0, request.indexOf("\r\n\r\n")).toLowerCase();
  match(String(environ.REMOTE_PORT), /^\d+$/, "REMOTE_PORT must be a string of digits");
  equal(typeof environ.REMOTE_PORT, "string", "REMOTE_PORT must be a string");
  if (!head.includes("\r\ncontent-type:")) {
    equal(environ.CONTENT_TYPE, undefined, "CONTENT_TYPE must be absent when the request has none");
  }
  if (!head.includes("\r\ncontent-length:")) {
    equal(
      environ.CONTENT_LENGTH,
      undefined,
      "CONTENT_LENGTH must be absent when the request has none",
    );
  }
  if (head.includes("\r\ntransfer-encoding: chunked")) {
    equal(environ["wsgi.input_terminated"], true, "a chunked upload sets wsgi.input_terminated");
  }
  for (const [key, value] of Object.entries(environ)) {
    ok(!key.startsWith("HTTP_") || !/_[a-z]/.test(key), `${key} is not upper case`);
    ok(key !== "HTTP_CONTENT_TYPE" && key !== "HTTP_CONTENT_LENGTH", `${key} must not exist`);
    ok(key !== CANARY, "the process's environment leaked into environ");
    if (typeof value === "string") {
      ok(!value.includes(CANARY_VALUE), `the process's environment leaked into ${key}`);
      ok(/^[\0-\xff]*$/.test(value), `${key} is not bytes as latin-1: ${show(value)}`);
    }
  }
}

/**
 * Compares our echo with wsgiref's and gunicorn's: every key (and the input)
 * where they agree must be ours too, unless the case lists it as a known
 * difference; a key neither has must not be ours.
 */
function compare(c: Case, wsgiref: Echo, gunicorn: Echo, ours: Echo): string[] {
  const problems: string[] = [];
  const differs = { ...ALWAYS_DIFFERS, ...c.differs };
  const w: Record<string, Json> = { ...wsgiref.environ, input: wsgiref.input };
  const g: Record<string, Json> = { ...gunicorn.environ, input: gunicorn.input };
  const o: Record<string, Json> = { ...ours.environ, input: ours.input };
  for (const key of Object.keys(w)) {
    if (!(key in g) || !isDeepStrictEqual(w[key], g[key])) continue;
    const same = isDeepStrictEqual(o[key], w[key]);
    if (key in differs) {
      if (same) problems.push(`${key}: listed as a known difference, but ours agrees now`);
    } else if (!same) {
      problems.push(`${key}: ours ${show(o[key])}, wsgiref and gunicorn ${show(w[key])}`);
    }
  }
  for (const key of Object.keys(o)) {
    if (!(key in w) && !(key in g) && !(key in differs)) {
      problems.push(`${key}: only ours has it (${show(o[key])})`);
    }
  }
  for (const key of Object.keys(differs)) {
    if (!(key in w && key in g && isDeepStrictEqual(w[key], g[key])) && key in o) {
      // Still a difference as long as we differ from whichever of them has it.
      if (isDeepStrictEqual(o[key], w[key] ?? g[key])) {
        problems.push(`${key}: listed as a known difference, but ours agrees now`);
      }
    }
  }
  return problems;
}

async function send(port: number, request: string): Promise<Answer> {
  return await exchange(port, request.replaceAll("{port}", String(port)));
}

/** `PARITY_DEBUG=<part of a case name>` prints the three echoes of the matching cases. */
const debug = Deno.env.get("PARITY_DEBUG");
const missing = await missingTools();
const inCI = Deno.env.get("CI") === "true";
if (missing.length > 0 && !inCI) {
  console.warn(
    `\n!!! environ parity test SKIPPED: ${missing.join(", ")} not found.` +
      "\n!!! Install them (Debian: apt-get install -y gunicorn) to compare environ with wsgiref and gunicorn.\n",
  );
}

Deno.test({
  name: "buildEnviron() matches wsgiref.simple_server and gunicorn wherever they agree",
  ignore: missing.length > 0 && !inCI,
  async fn(t) {
    if (missing.length > 0) {
      fail(
        `Cannot compare environ: ${
          missing.join(", ")
        } not found (CI installs: apt-get install -y gunicorn)`,
      );
    }
    const children: Child[] = [];
    const sink = new MemorySink();
    let server: Server | undefined;
    let failed = true; // until every step passed: then the servers' stderr is not shown
    try {
      const started = await Promise.allSettled([startWsgiref(), startGunicorn()]);
      for (const s of started) if (s.status === "fulfilled") children.push(s.value);
      for (const s of started) if (s.status === "rejected") throw s.reason;
      const [wsgiref, gunicorn] = children as [Child, Child];
      server = serve(echo, { port: 0, log: false, errors: sink });
      const ours = server.port;
      let allPassed = true;
      for (const c of CASES) {
        const passed = await t.step(c.name, async () => {
          const [w, g, o] = await Promise.all([
            send(wsgiref.port, c.request),
            send(gunicorn.port, c.request),
            send(ours, c.request),
          ]);
          if (c.rejected !== undefined) {
            equal(o.status, 400, `hyper should reject this (${c.rejected}); we answered ${o.head}`);
            return;
          }
          equal(o.status, 200, `we answered ${o.head}: ${latin1(o.body)}\n${sink.text}`);
          const mine = normalise(echoOf(o), ours);
          if (debug !== undefined && c.name.includes(debug)) {
            console.log(`--- ${c.name}`);
            for (const [name, a] of [["wsgiref", w], ["gunicorn", g]] as const) {
              console.log(name, a.head, a.status === 200 ? JSON.stringify(echoOf(a)) : "");
            }
            console.log("ours", JSON.stringify(mine));
          }
          checkOurs(c.request, mine.environ);
          for (const [key, value] of Object.entries(c.expect ?? {})) {
            const actual = key === "input" ? mine.input : mine.environ[key] ?? null;
            deepEqual(actual, value, `${key} should be ${value === null ? "absent" : show(value)}`);
          }
          if (w.status !== 200 || g.status !== 200) {
            // They disagree on whether the request is valid: nothing to compare.
            ok(w.status !== g.status, `wsgiref and gunicorn both answered ${w.head}`);
            return;
          }
          const problems = compare(
            c,
            normalise(echoOf(w), wsgiref.port),
            normalise(echoOf(g), gunicorn.port),
            mine,
          );
          if (problems.length > 0) fail(`${c.name}:\n  ${problems.join("\n  ")}`);
        });
        allPassed &&= passed;
      }
      failed = !allPassed;
    } finally {
      await server?.shutdown();
      for (const child of children) {
        const stderr = await child.stop();
        if (failed && stderr.trim()) console.error(`--- ${child.name} stderr ---\n${stderr}`);
      }
    }
  },
});

// --- what issue 3 asks, without Python ---------------------------------------------

/** Serves the echo on a free port and sends it one raw request. */
async function ourEcho(request: string): Promise<Echo> {
  const server = serve(echo, { port: 0, log: false, errors: new MemorySink() });
  try {
    const answer = await send(server.port, request);
    equal(answer.status, 200, latin1(answer.body));
    return normalise(echoOf(answer), server.port);
  } finally {
    await server.shutdown();
  }
}

Deno.test("buildEnviron() gives REMOTE_PORT as a string and drops header names with _", async () => {
  const { environ } = await ourEcho(get("/", "X_Forwarded_For: 6.6.6.6", "X-Real: 1"));
  equal(typeof environ.REMOTE_PORT, "string");
  match(environ.REMOTE_PORT as string, /^\d+$/);
  equal(environ.REMOTE_ADDR, "127.0.0.1");
  equal(environ.HTTP_X_FORWARDED_FOR, undefined);
  equal(environ.HTTP_X_REAL, "1");
});

Deno.test("buildEnviron() leaves CONTENT_TYPE and CONTENT_LENGTH out when the request has none", async () => {
  const { environ } = await ourEcho(get("/"));
  ok(!("CONTENT_TYPE" in environ));
  ok(!("CONTENT_LENGTH" in environ));
  ok(!("wsgi.input_terminated" in environ));
});

Deno.test("buildEnviron() sets wsgi.input_terminated for a chunked upload", async () => {
  const { environ, input } = await ourEcho(chunked("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  equal(environ["wsgi.input_terminated"], true);
  ok(!("CONTENT_LENGTH" in environ));
  equal(environ.HTTP_TRANSFER_ENCODING, "chunked");
  deepEqual(input, ["abcde"]);
});

Deno.test("buildEnviron() never copies the process's environment", async () => {
  equal(Deno.env.get(CANARY), CANARY_VALUE);
  const { environ } = await ourEcho(get("/", `X-Canary-Name: ${CANARY}`));
  ok(!(CANARY in environ));
  for (const [key, value] of Object.entries(environ)) {
    ok(typeof value !== "string" || !value.includes(CANARY_VALUE), `${key} leaked the environment`);
  }
  ok(!("PATH" in environ) && !("HOME" in environ));
});

Deno.test("buildEnviron() gives SERVER_NAME and SERVER_PORT of the bound address under serve()", async () => {
  const { environ } = await ourEcho(http("GET / HTTP/1.1", ["Host: example.com:8080"]));
  equal(environ.SERVER_NAME, "127.0.0.1");
  equal(environ.SERVER_PORT, "{port}");
  equal(environ.HTTP_HOST, "example.com:8080");
});

Deno.test("buildEnviron() carries raw non-ASCII bytes of the target as latin-1", async (t) => {
  // [name, raw request, PATH_INFO, QUERY_STRING, RAW_URI (and REQUEST_URI)]: the
  // target's bytes as sent, whether the URL is all ASCII (one test of it
  // serves the three) or not, in the path, the query or only the Host.
  const cases: [string, string, string, string, string][] = [
    [
      "raw UTF-8 in path and query",
      get("/caf\xc3\xa9%C3%A9?q=\xe2\x82\xac"),
      "/caf\xc3\xa9\xc3\xa9",
      "q=\xe2\x82\xac",
      "/caf\xc3\xa9%C3%A9?q=\xe2\x82\xac",
    ],
    [
      "raw UTF-8 in the path only",
      get("/\xe2\x82\xac/x?a=1"),
      "/\xe2\x82\xac/x",
      "a=1",
      "/\xe2\x82\xac/x?a=1",
    ],
    [
      "raw UTF-8 in the query only",
      get("/a%20b?q=\xc3\xa9&r"),
      "/a b",
      "q=\xc3\xa9&r",
      "/a%20b?q=\xc3\xa9&r",
    ],
    [
      "percent-encoded, all ASCII",
      get("/caf%C3%A9?q=%E2%82%AC"),
      "/caf\xc3\xa9",
      "q=%E2%82%AC",
      "/caf%C3%A9?q=%E2%82%AC",
    ],
    [
      "ASCII target, UTF-8 bytes in the Host",
      http("GET /a%2Fb?x=%41 HTTP/1.1", ["Host: caf\xc3\xa9.example"]),
      "/a/b",
      "x=%41",
      "/a%2Fb?x=%41",
    ],
    [
      "raw UTF-8 in the path, a Host with a slash",
      http("GET /\xc3\xa9?q=\xc3\xa9 HTTP/1.1", ["Host: a/b"]),
      "/\xc3\xa9",
      "q=\xc3\xa9",
      "/\xc3\xa9?q=\xc3\xa9",
    ],
  ];
  for (const [name, request, pathInfo, query, raw] of cases) {
    await t.step(name, async () => {
      const { environ } = await ourEcho(request);
      equal(environ.PATH_INFO, pathInfo);
      equal(environ.QUERY_STRING, query);
      equal(environ.RAW_URI, raw);
      equal(environ.REQUEST_URI, raw);
    });
  }
});

Deno.test("toFetch(): a target given as sent (HandlerInfo.target) gives the environ the same bytes over a socket give", async (t) => {
  // What new Request() would change (non-ASCII percent-encoded, dot segments
  // resolved) reaches the app as the client sent it, as through Deno.serve.
  const cases: [string, string, string, string][] = [
    [
      "raw UTF-8 in path and query",
      "/caf\u00e9%C3%A9?q=\u20ac",
      "/caf\xc3\xa9\xc3\xa9",
      "q=\xe2\x82\xac",
    ],
    ["dot segments", "/a/../b/./c?x", "/a/../b/./c", "x"],
  ];
  for (const [name, target, pathInfo, query] of cases) {
    await t.step(name, async () => {
      let environ: Record<string, unknown> = {};
      const handler = toFetch((env, start_response) => {
        environ = env;
        start_response("204 No Content", []);
        return [];
      }, { log: false });
      await handler(new Request(`http://127.0.0.1:8000${target}`), { target });
      equal(environ.PATH_INFO, pathInfo);
      equal(environ.QUERY_STRING, query);
      const raw = new TextEncoder().encode(target);
      equal(environ.RAW_URI, String.fromCharCode(...raw), "the target's UTF-8 bytes, as latin-1");
      const overSocket = await ourEcho(get(String.fromCharCode(...raw)));
      equal(overSocket.environ.RAW_URI, environ.RAW_URI, "as Deno.serve gives it");
      equal(overSocket.environ.PATH_INFO, pathInfo);
    });
  }
  await t.step("a target that no client could send is refused, naming the rule", async () => {
    const handler = toFetch(() => [], { log: false });
    for (const target of ["a", "/a b", "/a\r\nX: 1"]) {
      await rejects(
        handler(new Request("http://127.0.0.1/"), { target }),
        /A request target must start with "\/" and hold no space or control character/,
      );
    }
  });
});

Deno.test("wsgi.input reads like a Python file over a socket", async (t) => {
  const cases: [string, string, Json[]][] = [
    ["read() reads the whole body", "read", [LINES]],
    ["read(n) reads n bytes, then the rest", "read:5,read:0,read:100,read", [
      "first",
      "",
      LINES.slice(5),
      "",
    ]],
    ["readline() stops after \\n", "readline,readline,readline,readline,readline", [
      "first line\n",
      "second\n",
      "\n",
      "fourth, no newline",
      "",
    ]],
    ["readline(n) stops after n bytes", "readline:3,readline:100,readline:0", [
      "fir",
      "st line\n",
      "",
    ]],
    ["readlines() reads every line", "readline:2,readlines,readlines", [
      "fi",
      ["rst line\n", "second\n", "\n", "fourth, no newline"],
      [],
    ]],
    ["async iteration yields lines", "iter", [[
      "first line\n",
      "second\n",
      "\n",
      "fourth, no newline",
    ]]],
  ];
  for (const [name, script, expected] of cases) {
    await t.step(`${name} (Content-Length)`, async () => {
      const { input } = await ourEcho(post(LINES, `X-Echo-Reads: ${script}`));
      deepEqual(input, expected);
    });
    await t.step(`${name} (chunked)`, async () => {
      const chunks = ["first l", "ine\nsec", "ond\n\nfourth, no newline"]
        .map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join("") + "0\r\n\r\n";
      const { input } = await ourEcho(chunked(chunks, `X-Echo-Reads: ${script}`));
      deepEqual(input, expected);
    });
  }
});

Deno.test("wsgi.input never reads past CONTENT_LENGTH", async (t) => {
  const body = () =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(toBytes("abc\nde"));
        controller.enqueue(toBytes("f\nghij"));
        controller.close();
      },
    });
  await t.step("read()", async () => {
    const input = new Input({ body: body() }, 5);
    equal(latin1(await input.read()), "abc\nd");
    equal(latin1(await input.read()), "");
  });
  await t.step("read(n) larger than what remains", async () => {
    const input = new Input({ body: body() }, 5);
    equal(latin1(await input.read(3)), "abc");
    equal(latin1(await input.read(100)), "\nd");
    equal((await input.read(1)).length, 0);
  });
  await t.step("readline() and readlines()", async () => {
    const input = new Input({ body: body() }, 8);
    equal(latin1(await input.readline()), "abc\n");
    deepEqual((await input.readlines()).map(latin1), ["def\n"]);
    equal((await input.readline()).length, 0);
  });
  await t.step("readlines(hint) stops after hint bytes", async () => {
    const input = new Input({ body: body() }, 100);
    deepEqual((await input.readlines(2)).map(latin1), ["abc\n"]);
    deepEqual((await input.readlines()).map(latin1), ["def\n", "ghij"]);
  });
  await t.step("async iteration", async () => {
    const lines: string[] = [];
    for await (const line of new Input({ body: body() }, 9)) lines.push(latin1(line));
    deepEqual(lines, ["abc\n", "def\n", "g"]);
  });
  await t.step("through the gateway, with a body longer than Content-Length", async () => {
    const response = await toFetch(echo)(
      new Request("http://example.com/", {
        method: "POST",
        body: body(),
        headers: { "content-length": "5", "x-echo-reads": "read,read" },
      }),
    );
    const { environ, input } = await response.json() as Echo;
    equal(environ.CONTENT_LENGTH, "5");
    deepEqual(input, ["abc\nd", ""]);
  });
});

// --- the inspector's record of the environ -------------------------------------------

/**
 * Records every exchange twice: into `derived`, as the gateway offers it (an
 * untouched environ as its derivation), and into `whole`, with the
 * derivation held back (every entry written).
 */
function twoStores(): { derived: ExchangeStore; whole: ExchangeStore; recorder: Recorder } {
  const derived = new ExchangeStore();
  const whole = new ExchangeStore();
  const recorder: Recorder = {
    begin(request, time) {
      const a = derived.begin(request, time);
      const b = whole.begin(request, time);
      return {
        get restWanted() {
          return Math.max(a.restWanted, b.restWanted);
        },
        record(type, data, at) {
          a.record(type, data, at);
          const environ = (data as EventMap["environ"]).environ;
          b.record(type, type === "environ" ? { environ } as typeof data : data, at);
        },
      };
    },
  };
  return { derived, whole, recorder };
}

/** The environ event of kept exchange `seq`, as the API gives it. */
function recordedEnviron(store: ExchangeStore, seq: number): Record<string, unknown> {
  const event = store.detailOf(seq)?.events.find((e) => e.type === "environ");
  if (event?.type !== "environ") throw new Error(`exchange ${seq} has no environ event`);
  return event.data.environ;
}

Deno.test("the inspector's derived environ reads back as the whole environ, for every case", async (t) => {
  const { derived, whole, recorder } = twoStores();
  const server = serve(echo, { port: 0, log: false, errors: new MemorySink(), recorder });
  try {
    let seq = 0;
    for (const c of CASES) {
      await t.step(c.name, async () => {
        const answer = await send(server.port, c.request);
        if (c.rejected !== undefined) return; // hyper refused it: nothing reached the gateway
        equal(answer.status, 200);
        seq++;
        const wanted = recordedEnviron(whole, seq);
        const got = recordedEnviron(derived, seq);
        deepEqual(got, wanted);
        deepEqual(Object.keys(got), Object.keys(wanted), "the same keys, in the same order");
      });
    }
    ok(seq > 40, `only ${seq} cases reached the gateway`);
    // The derived store took the gateway's rule, so it wrote its environs as derivations.
    equal(derived.environRule, deriveEnviron);
  } finally {
    await server.shutdown();
  }
  await t.step("in memory: no peer, SERVER_NAME from the Host header, https", async () => {
    const pair = twoStores();
    const fetch = toFetch(echo, { log: false, errors: new MemorySink(), recorder: pair.recorder });
    const requests = [
      new Request("https://example.com:8443/a%20b?x=1", { headers: { "x-a": "1" } }),
      new Request("http://[::1]/", { method: "POST", body: "hi" }),
      new Request("http://example.com/caf%C3%A9", { method: "DELETE" }),
    ];
    for (const request of requests) await (await fetch(request)).body?.cancel();
    for (let seq = 1; seq <= requests.length; seq++) {
      const wanted = recordedEnviron(pair.whole, seq);
      deepEqual(recordedEnviron(pair.derived, seq), wanted);
      deepEqual(Object.keys(recordedEnviron(pair.derived, seq)), Object.keys(wanted));
    }
    // A body over the limit: refused, wsgi.input left with nothing to give.
    const strict = twoStores();
    const refusing = toFetch(echo, {
      log: false,
      errors: new MemorySink(),
      recorder: strict.recorder,
      maxRequestBody: 2,
    });
    const refused = await refusing(
      new Request("http://x/", {
        method: "POST",
        body: "hello",
        headers: { "content-length": "5" },
      }),
    );
    equal(refused.status, 413);
    await refused.body?.cancel();
    deepEqual(recordedEnviron(strict.derived, 1), recordedEnviron(strict.whole, 1));
    equal(recordedEnviron(strict.derived, 1)["wsgi.input"], "<wsgi.input: 0 bytes left>");
    equal(recordedEnviron(pair.derived, 1).SERVER_PORT, "8443");
    equal(recordedEnviron(pair.derived, 1)["wsgi.url_scheme"], "https");
    equal(recordedEnviron(pair.derived, 1).REMOTE_ADDR, undefined);
  });
});
