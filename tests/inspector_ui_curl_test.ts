/**
 * "Copy as curl" (`inspector/ui/curl.ts`) on records an attacker chose: the
 * command goes to the app's own URL whatever the recorded `Host` (or a proxy
 * in the environment) says, curl does not glob the target, and a method or
 * header that would write a second request is refused with the rule it
 * breaks; and the command sends the recorded request, none of the headers
 * curl would add of its own accord.
 * The commands are run by the real curl against a raw loopback listener
 * (standing in for the app), which shows what curl actually sends.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Pair, WireEvent } from "../inspector/protocol.ts";
import { reduce } from "../inspector/timeline.ts";
import { curlCommand } from "../inspector/ui/curl.ts";
import { noise } from "./_inspector.ts";
import { readRawRequest } from "./_helpers.ts";

const APP = "http://127.0.0.1:8000";

/** The reducer's state of a request with `body` read whole by the app. */
function recorded(
  method: string,
  target: string,
  headers: Pair[],
  body: Uint8Array = new Uint8Array(),
) {
  const events: WireEvent[] = [{
    type: "request",
    t: 0,
    data: { method, target, version: "HTTP/1.1", peer: null, headers, startedAt: 0 },
  }];
  if (body.length > 0) {
    events.push({
      type: "input",
      t: 1,
      data: {
        method: "read",
        size: null,
        bytes: { stream: "request", offset: 0, size: body.length, kept: body.length },
      },
    });
  }
  return { state: reduce(events), body };
}

Deno.test("curlCommand() sends to the app's URL; the recorded Host goes as a header", () => {
  const command = curlCommand({
    ...recorded("GET", "/x", [["Host", "127.0.0.1:18431@evil.example"], ["Accept", "*/*"]]),
    appUrl: APP,
  });
  assert.equal(
    command,
    "curl -q http://127.0.0.1:8000/ --request-target /x -H 'Host: 127.0.0.1:18431@evil.example' -H 'Accept: */*' -H User-Agent: --noproxy '*'",
  );
});

Deno.test("curlCommand() sends the target as it is: no URL globbing", () => {
  const command = curlCommand({ ...recorded("GET", "/glob/[1-3]{a,b}", []), appUrl: APP });
  assert.equal(
    command,
    "curl -q http://127.0.0.1:8000/ --request-target '/glob/[1-3]{a,b}' -H Host: -H User-Agent: -H Accept: --noproxy '*'",
  );
});

Deno.test("curlCommand() refuses a record that would smuggle a second request", async (t) => {
  const refused = (method: string, target: string, headers: Pair[]) =>
    assert.throws(
      () => curlCommand({ ...recorded(method, target, headers), appUrl: APP }),
      TypeError,
    );
  const message = (method: string, target: string, headers: Pair[]) => {
    try {
      curlCommand({ ...recorded(method, target, headers), appUrl: APP });
    } catch (error) {
      return (error as Error).message;
    }
    assert.fail("no error");
  };
  await t.step("a method that is not an HTTP token (an imported HAR's)", () => {
    const method = "GET /admin HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET";
    refused(method, "/", []);
    assert.equal(
      message(method, "/", []),
      `Cannot copy as curl: method must be an HTTP token like "POST" (got ${
        JSON.stringify(method)
      })`,
    );
  });
  await t.step("a header value with CR LF, or NUL", () => {
    assert.match(
      message("GET", "/", [["X-A", "a\r\nSet-Cookie: evil=1"]]),
      /^Cannot copy as curl: header "X-A" must hold no CR, LF or other control character/,
    );
    assert.match(message("GET", "/", [["X-A", "a\0b"]]), /header "X-A" must hold no CR, LF/);
  });
  await t.step("a header name that is not a token", () => {
    assert.match(
      message("GET", "/", [["X-A\r\nSet-Cookie", "1"]]),
      /^Cannot copy as curl: header names must be HTTP tokens/,
    );
  });
  await t.step("a target that is not origin-form (it could name a host)", () => {
    for (const target of ["//evil.example/x", "http://evil.example/x", "@evil.example/x"]) {
      assert.match(message("GET", target, []), /^Cannot copy as curl: target must be origin-form/);
    }
  });
});

Deno.test("curlCommand() refuses a body not captured whole, and a HEAD with a body", () => {
  const body = new TextEncoder().encode("0123456789");
  const cut = recorded("POST", "/up", [["host", "x"]], body);
  // The app read 10 bytes of a 25-byte body, and only those were kept.
  cut.state.input.size = 25;
  assert.throws(
    () => curlCommand({ ...cut, appUrl: APP }),
    /Cannot copy as curl: the request body was captured only up to 10 of 25 bytes; raise --max-body-bytes/,
  );
  // A drain that stopped at the cap: the size is not known, only that there was more.
  const drained = recorded("POST", "/up", [["host", "x"]], body);
  drained.state.input.restComplete = false;
  assert.throws(
    () => curlCommand({ ...drained, appUrl: APP }),
    /captured only up to 10 of 10\+ bytes/,
  );
  assert.throws(
    () => curlCommand({ ...recorded("HEAD", "/", [["host", "x"]], body), appUrl: APP }),
    /Cannot copy as curl: curl cannot send a HEAD request with a body/,
  );
  assert.match(curlCommand({ ...recorded("HEAD", "/", [["host", "x"]]), appUrl: APP }), / --head /);
});

Deno.test("curlCommand() keeps quoting a body and headers for the shell", () => {
  const body = new TextEncoder().encode(`it's $HOME \`id\` "x"\n`);
  const command = curlCommand({
    ...recorded("POST", "/a?b=1&c", [["X-Q", "'; rm -rf / #"], ["X-Empty", ""]], body),
    appUrl: `${APP}/`,
  });
  assert.equal(
    command,
    "curl -q -X POST http://127.0.0.1:8000/ --request-target '/a?b=1&c' -H 'X-Q: '\\''; rm -rf / #' -H 'X-Empty;' -H Host: -H User-Agent: -H Accept: -H Content-Type: -H Expect: --noproxy '*' --data-raw 'it'\\''s $HOME `id` \"x\"\n'",
  );
});

/** Whether curl is installed (the last tests run it). */
/** Why curl cannot be run here (spawning throws at once when it is not installed), or nothing. */
async function whyNoCurl(): Promise<string | undefined> {
  try {
    await new Deno.Command("curl", { args: ["--version"], stdout: "null" }).output();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
const curlMissing = await whyNoCurl();
/** Under CI=true the curl runs are never skipped (`.ci/run` installs curl): a missing one fails. */
const skipCurl = curlMissing !== undefined && Deno.env.get("CI") !== "true";
if (skipCurl) {
  console.warn(`\n!!! SKIPPING the curl run of curlCommand(): curl is missing (${curlMissing})\n`);
}

/** A request as the listener got it: the request line, header pairs, body bytes. */
interface Received {
  line: string;
  headers: Pair[];
  body: Uint8Array;
}

/** Reads one HTTP/1.1 request off `conn` ({@linkcode readRawRequest}) and splits it. */
async function readRequest(conn: Deno.Conn): Promise<Received> {
  const bytes = await readRawRequest(conn);
  const at = new TextDecoder("latin1").decode(bytes).indexOf("\r\n\r\n");
  if (at === -1) throw new Error("The connection closed before a request head");
  const [line = "", ...fields] = new TextDecoder("latin1").decode(bytes.subarray(0, at))
    .split("\r\n");
  const headers = fields.map((field): Pair => {
    const colon = field.indexOf(":");
    return [field.slice(0, colon), field.slice(colon + 1).trim()];
  });
  return { line, headers, body: bytes.slice(at + 4) };
}

/** A raw loopback listener: it reads each request it gets, keeps it, and answers 200. */
function rawListener() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received: Received[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      try {
        received.push(await readRequest(conn));
        await conn.write(new TextEncoder().encode("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"));
      } finally {
        conn.close();
      }
    }
  })();
  return {
    url: `http://127.0.0.1:${listener.addr.port}`,
    received,
    async close() {
      listener.close();
      await serving.catch(() => {});
    },
  };
}

/**
 * Runs `command` with the system's curl (and `env` added to the environment)
 * against a raw loopback listener that stands for the app, and answers every
 * request it got. The command is read by `sh -c` from stdin (`eval
 * "$(cat)"`), as a shell reads a pasted line: one argument to `sh -c` is
 * capped (128 KiB on Linux), a large body's command is not.
 */
async function runCurl(
  make: (appUrl: string) => string,
  env: Record<string, string> = {},
): Promise<Received[]> {
  const app = rawListener();
  try {
    const child = new Deno.Command("sh", {
      args: ["-c", 'eval "$(cat)"'],
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(
      new TextEncoder().encode(
        `${make(app.url)} --silent --show-error --max-time 20 --output /dev/null`,
      ),
    );
    await writer.close();
    const run = await child.output();
    assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
    return app.received;
  } finally {
    await app.close();
  }
}

/** Header pairs with names lower-cased (names are case-insensitive; values are not), sorted. */
const headerSet = (headers: Pair[]) =>
  headers.map(([name, value]) => `${name.toLowerCase()}: ${value}`).sort();

Deno.test({
  name: "curlCommand()'s command, run by curl, reaches the app's address with one request",
  ignore: skipCurl,
  async fn() {
    const received = await runCurl((appUrl) =>
      curlCommand({
        ...recorded("GET", "/glob/[1-3]{a,b}/../x", [["Host", "127.0.0.1:18431@evil.example"]]),
        appUrl,
      })
    );
    assert.equal(received.length, 1, "one request, not one per glob");
    const { line, headers } = received[0]!;
    assert.equal(line, "GET /glob/[1-3]{a,b}/../x HTTP/1.1", "the target as recorded");
    assert.deepEqual(headerSet(headers), ["host: 127.0.0.1:18431@evil.example"]);
  },
});

Deno.test({
  name:
    "curlCommand()'s command, run by curl, goes to the app's address past a proxy in the environment",
  ignore: skipCurl,
  async fn() {
    // A proxy would get the recorded request (cookies and all), and send it on to its own loopback.
    const proxy = rawListener();
    try {
      const headers: Pair[] = [["cookie", "session=secret"], ["host", "127.0.0.1:8000"]];
      const received = await runCurl(
        (appUrl) => curlCommand({ ...recorded("GET", "/x", headers), appUrl }),
        {
          http_proxy: proxy.url,
          ALL_PROXY: proxy.url,
          all_proxy: proxy.url,
          NO_PROXY: "",
          no_proxy: "",
        },
      );
      assert.deepEqual(proxy.received, [], "nothing to the proxy");
      assert.equal(received.length, 1, "one request to the app");
      assert.equal(received[0]!.line, "GET /x HTTP/1.1");
      assert.deepEqual(headerSet(received[0]!.headers), headerSet(headers));
    } finally {
      await proxy.close();
    }
  },
});

Deno.test({
  name: "curlCommand()'s command, run by curl, reads no ~/.curlrc (it could add headers)",
  ignore: skipCurl,
  async fn() {
    const home = await Deno.makeTempDir({ prefix: "wsgi-curlrc-" });
    try {
      await Deno.writeTextFile(
        `${home}/.curlrc`,
        'header = "X-From-Curlrc: 1"\nuser-agent = "from-curlrc"\n',
      );
      const headers: Pair[] = [["host", "127.0.0.1:8000"]];
      const received = await runCurl(
        (appUrl) => curlCommand({ ...recorded("GET", "/rc", headers), appUrl }),
        { HOME: home, CURL_HOME: home },
      );
      assert.equal(received.length, 1, "one request");
      assert.deepEqual(headerSet(received[0]!.headers), headerSet(headers));
    } finally {
      await Deno.remove(home, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "curlCommand()'s command, run by curl, sends the recorded headers and body and nothing curl adds",
  ignore: skipCurl,
  async fn(t) {
    /** Runs the command of a record; checks the request line, the exact header set, the body. */
    const sends = async (
      method: string,
      target: string,
      headers: Pair[],
      body: Uint8Array,
      framing: Pair[],
    ) => {
      const received = await runCurl((appUrl) =>
        curlCommand({ ...recorded(method, target, headers, body), appUrl })
      );
      assert.equal(received.length, 1, "one request");
      const got = received[0]!;
      assert.equal(got.line, `${method} ${target} HTTP/1.1`);
      assert.deepEqual(headerSet(got.headers), headerSet([...headers, ...framing]));
      assert.deepEqual(got.body, body, "the body, byte for byte");
    };
    const none = new Uint8Array(0);
    await t.step("a request with no User-Agent or Accept gets none", async () => {
      await sends("GET", "/plain?q=1", [["host", "127.0.0.1:8000"], ["x-a", "1"]], none, []);
    });
    await t.step("a request's own User-Agent and Accept go as recorded", async () => {
      await sends(
        "GET",
        "/",
        [
          ["accept", "text/html"],
          ["host", "127.0.0.1:8000"],
          ["user-agent", "Mozilla/5.0 (X11; Linux x86_64) Test/1.0"],
        ],
        none,
        [],
      );
    });
    await t.step("a header with an empty value goes empty, not dropped", async () => {
      await sends(
        "GET",
        "/",
        [
          ["host", "127.0.0.1:8000"],
          ["user-agent", ""],
          ["x-empty", ""],
        ],
        none,
        [],
      );
    });
    await t.step("the recorded Connection and Keep-Alive go as recorded", async () => {
      await sends(
        "GET",
        "/",
        [
          ["connection", "keep-alive"],
          ["host", "127.0.0.1:8000"],
          ["keep-alive", "timeout=5"],
        ],
        none,
        [],
      );
    });
    await t.step("a body-less POST's Content-Length: 0 goes as recorded", async () => {
      await sends(
        "POST",
        "/empty",
        [["content-length", "0"], ["host", "127.0.0.1:8000"]],
        none,
        [],
      );
    });
    await t.step("a record with no Host (an imported HAR's) gets none", async () => {
      await sends("DELETE", "/item/1", [["x-a", "1"]], none, []);
    });
    await t.step("a text body with no Content-Type gets no form Content-Type", async () => {
      const body = new TextEncoder().encode("a=1&b=it's");
      await sends("POST", "/form", [["host", "127.0.0.1:8000"]], body, [
        ["content-length", String(body.length)],
      ]);
    });
    await t.step("a body's own Content-Type goes as recorded", async () => {
      const body = new TextEncoder().encode('{"name":"cup"}');
      await sends(
        "PUT",
        "/items",
        [
          ["content-type", "application/json"],
          ["host", "127.0.0.1:8000"],
        ],
        body,
        [["content-length", String(body.length)]],
      );
    });
    await t.step("a body past curl's Expect: 100-continue threshold gets no Expect", async () => {
      // curl 7.88 sends Expect past 1 MiB (older curls past 1 KiB).
      const body = noise(1024 * 1024 + 300_000, 7);
      await sends("POST", "/upload", [["host", "127.0.0.1:8000"]], body, [
        ["content-length", String(body.length)],
      ]);
    });
    await t.step(
      "a text body past one argument's cap (128 KiB on Linux) arrives whole",
      async () => {
        const body = new TextEncoder().encode(`{"text":"${"it's é ".repeat(200_000)}"}`);
        await sends(
          "POST",
          "/notes",
          [
            ["content-type", "application/json"],
            ["host", "127.0.0.1:8000"],
          ],
          body,
          [["content-length", String(body.length)]],
        );
      },
    );
    await t.step("a UTF-8 body with a NUL byte arrives byte for byte", async () => {
      const body = new TextEncoder().encode("a\0b");
      await sends("POST", "/nul", [["host", "127.0.0.1:8000"]], body, [
        ["content-length", String(body.length)],
      ]);
    });
  },
});

/** Text as the listener reads it: its bytes (`encode`d) decoded as it decodes them. */
const onWire = (bytes: Uint8Array) => new TextDecoder("latin1").decode(bytes);
/** A latin-1 string's bytes (a header value's characters are its bytes). */
const latin1Bytes = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

/** Bodies that try to break out of the shell word, or of the paste, they are in. */
const HOSTILE_BODIES = [
  "' ; touch pwned ; '$(touch pwned)`touch pwned`\"$(touch pwned)\"\\'\n!!",
  // Bracketed paste ends at ESC [201~: what follows is typed, a Ctrl-U erases the line, a CR runs.
  "x\x1b[201~\x15touch pwned\r",
  // Without bracketed paste, a DEL erases the quote before it; # comments out the closing one.
  "\x7f; touch pwned; #",
  // Every C0 control but NUL, DEL, and C1 controls.
  Array.from({ length: 31 }, (_, i) => String.fromCharCode(i + 1)).join("") + "\x7f\x85\x9b",
  "--output=pwned",
  "@pwned",
  "caf\u00e9 \u202e\u2028\u2029\ud83d\ude00",
];

Deno.test("curlCommand()'s command holds no control character but a body's LF", () => {
  // A pasted control character is a key to the terminal or readline, not text.
  // deno-lint-ignore no-control-regex -- finding control characters is the point
  const keys = /[\x00-\x09\x0b-\x1f\x7f-\x9f]/;
  for (const text of HOSTILE_BODIES) {
    const command = curlCommand({
      ...recorded("POST", "/x", [["host", "a"]], new TextEncoder().encode(text)),
      appUrl: APP,
    });
    assert.doesNotMatch(command, keys, JSON.stringify(text));
  }
  const command = curlCommand({
    ...recorded("GET", "/caf\u00e9", [["x-a", "a\tb\xe9\xff\x80"]]),
    appUrl: APP,
  });
  assert.doesNotMatch(command, keys);
  assert.match(command, / -H 'x-a: a'"\$\(printf '\\011'\)"b"\$\(printf '\\351'\)"/);
});

Deno.test({
  name: "curlCommand()'s command, run by curl, sends hostile input as recorded and runs nothing",
  ignore: skipCurl,
  async fn(t) {
    const cwd = await Deno.makeTempDir({ prefix: "wsgi-curl-hostile-" });
    /** Runs the command of a record in `cwd`; answers what the app got. */
    const run = async (method: string, target: string, headers: Pair[], body: Uint8Array) => {
      const received = await runCurl(
        (appUrl) =>
          `cd ${cwd} && ${curlCommand({ ...recorded(method, target, headers, body), appUrl })}`,
      );
      assert.deepEqual([...Deno.readDirSync(cwd)], [], "the command ran nothing of the record");
      assert.equal(received.length, 1, "one request");
      return received[0]!;
    };
    try {
      await t.step("bodies that try to leave their quote", async () => {
        for (const text of HOSTILE_BODIES) {
          const body = new TextEncoder().encode(text);
          const got = await run("POST", "/b", [["host", "a"]], body);
          assert.deepEqual(got.body, body, JSON.stringify(text));
        }
      });
      await t.step("a target with shell syntax and non-ASCII text goes as it is", async () => {
        const target =
          "/$(touch${IFS}pwned)/`touch${IFS}pwned`/'q'/caf\u00e9/../%2e%2e/[1-2]{a,b}?x=;y|z&w=\u00e9";
        const got = await run("GET", target, [["host", "a"]], new Uint8Array());
        assert.equal(got.line, `GET ${onWire(new TextEncoder().encode(target))} HTTP/1.1`);
      });
      await t.step("a method curl could read as an option is the method", async () => {
        for (const method of ["--output", "-o", "-"]) {
          const got = await run(method, "/m", [["host", "a"]], new Uint8Array());
          assert.equal(got.line, `${method} /m HTTP/1.1`);
        }
      });
      await t.step(
        "header values: shell syntax, TAB, and latin-1 bytes, byte for byte",
        async () => {
          const headers: Pair[] = [
            ["host", "a"],
            ["x-shell", "'$(touch pwned)`touch pwned`\"; touch pwned #"],
            ["x-at", "@pwned"],
            ["x-dash", "-o pwned"],
            // Deno.serve reads a header's bytes as latin-1: raw UTF-8 "é" is "\xc3\xa9".
            ["x-bytes", "a\tb caf\xc3\xa9 \xe9\xa0\xff"],
          ];
          const got = await run("GET", "/h", headers, new Uint8Array());
          assert.deepEqual(
            headerSet(got.headers),
            headerSet(headers.map(([name, value]) => [name, onWire(latin1Bytes(value))])),
          );
        },
      );
    } finally {
      await Deno.remove(cwd, { recursive: true });
    }
  },
});

/**
 * Pastes `command` into an interactive bash on a pseudo-terminal, as a
 * terminal does (with bracketed paste, `ESC [200~ … ESC [201~`, when
 * readline's `enable-bracketed-paste` is on, else as typed keys), presses
 * Enter, then types `exit`: the bash ends once the pasted line has run, or
 * is killed after 30 s (a pasted line left open). Run in `cwd`.
 */
const PASTE = String.raw`
import os, pty, select, sys, time
command, bracketed = sys.stdin.buffer.read(), sys.argv[1] == "on"
pid, fd = pty.fork()
if pid == 0:
    os.execvp("bash", ["bash", "--noprofile", "--rcfile", "bashrc", "-i"])
seen, until = b"", time.time() + 15
def pump(stop):
    global seen
    while not stop() and time.time() < until:
        if select.select([fd], [], [], 0.1)[0]:
            try:
                seen += os.read(fd, 65536)
            except OSError:
                return True  # the terminal closed: bash is exiting
    return False
pump(lambda: b"READY>" in seen)
keys = (b"\x1b[200~" + command + b"\x1b[201~" if bracketed else command) + b"\r" + b"exit 0\r"
while keys:
    keys = keys[os.write(fd, keys):]
done = []
def ended():
    if not done and os.waitpid(pid, os.WNOHANG)[0] == pid:
        done.append(pid)
    return done
if pump(ended) and not done:
    os.waitpid(pid, 0)
    done.append(pid)
if not done:
    os.kill(pid, 9)
    sys.exit("the pasted line did not finish: " + repr(seen[-300:]))
`;

/** Why bash on a pseudo-terminal (through python3) cannot be run here, or nothing. */
async function whyNoPty(): Promise<string | undefined> {
  try {
    for (const tool of ["bash", "python3"]) {
      await new Deno.Command(tool, { args: ["--version"], stdout: "null" }).output();
    }
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}
const ptyMissing = curlMissing ?? await whyNoPty();
const skipPaste = ptyMissing !== undefined && Deno.env.get("CI") !== "true";
if (skipPaste) {
  console.warn(`\n!!! SKIPPING the paste of curlCommand() into bash (${ptyMissing})\n`);
}

Deno.test({
  name: "curlCommand()'s command, pasted into bash, sends the recorded bytes and runs nothing else",
  ignore: skipPaste,
  async fn(t) {
    const cwd = await Deno.makeTempDir({ prefix: "wsgi-curl-paste-" });
    try {
      await Deno.writeTextFile(`${cwd}/bashrc`, "PS1='READY> '\n");
      await Deno.writeTextFile(`${cwd}/inputrc-on`, "set enable-bracketed-paste on\n");
      await Deno.writeTextFile(`${cwd}/inputrc-off`, "set enable-bracketed-paste off\n");
      const paste = async (mode: "on" | "off", make: (appUrl: string) => string) => {
        const app = rawListener();
        try {
          const child = new Deno.Command("python3", {
            args: ["-c", PASTE, mode],
            cwd,
            clearEnv: true,
            env: {
              PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
              HOME: cwd,
              TERM: "xterm",
              LANG: "C.UTF-8",
              HISTFILE: "/dev/null",
              INPUTRC: `${cwd}/inputrc-${mode}`,
            },
            stdin: "piped",
            stdout: "null",
            stderr: "piped",
          }).spawn();
          const writer = child.stdin.getWriter();
          await writer.write(
            new TextEncoder().encode(`${make(app.url)} --silent --output /dev/null`),
          );
          await writer.close();
          const run = await child.output();
          assert.equal(run.code, 0, new TextDecoder().decode(run.stderr));
          return app.received;
        } finally {
          await app.close();
        }
      };
      const outside = () =>
        [...Deno.readDirSync(cwd)].map((entry) => entry.name).filter((name) =>
          !name.startsWith("inputrc-") && name !== "bashrc"
        );
      for (const mode of ["on", "off"] as const) {
        await t.step(`bodies (bracketed paste ${mode})`, async () => {
          for (const text of HOSTILE_BODIES) {
            const body = new TextEncoder().encode(text);
            const received = await paste(
              mode,
              (appUrl) => curlCommand({ ...recorded("POST", "/p", [["host", "a"]], body), appUrl }),
            );
            assert.deepEqual(outside(), [], `ran nothing of ${JSON.stringify(text)}`);
            assert.equal(received.length, 1, "one request");
            assert.deepEqual(received[0]!.body, body, JSON.stringify(text));
          }
        });
        await t.step(
          `a header with a TAB and latin-1 bytes (bracketed paste ${mode})`,
          async () => {
            const headers: Pair[] = [["host", "a"], ["x-bytes", "a\tb\t\tc caf\xc3\xa9 \xe9"]];
            const received = await paste(
              mode,
              (appUrl) => curlCommand({ ...recorded("GET", "/caf\u00e9", headers), appUrl }),
            );
            assert.equal(received.length, 1, "one request");
            assert.equal(
              received[0]!.line,
              `GET ${onWire(new TextEncoder().encode("/caf\u00e9"))} HTTP/1.1`,
            );
            assert.deepEqual(
              headerSet(received[0]!.headers),
              headerSet(headers.map(([name, value]) => [name, onWire(latin1Bytes(value))])),
            );
          },
        );
      }
    } finally {
      await Deno.remove(cwd, { recursive: true });
    }
  },
});
