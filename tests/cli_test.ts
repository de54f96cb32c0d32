/**
 * The command line, run as users run it: `deno run -A mod.ts ...` in a child
 * process, its printed URL scraped, its output dumped when a test fails.
 */

import { equal, match, ok } from "node:assert/strict";
import { pathToFileURL } from "node:url";
import { ROOT, runDeno, spawnDeno, waitFor } from "./_helpers.ts";
import { eventually, get, helloApp, startDev } from "./_dev.ts";

Deno.test("mod.ts with no module serves examples/hello.ts, logs each request, stops on Ctrl-C", async () => {
  const child = await spawnDeno(["run", "-A", "mod.ts", "--port", "0", "--no-inspector"]);
  try {
    match(child.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    match(
      child.output(),
      /Serving HTTP on http:\/\/127\.0\.0\.1:\d+ \.\.\. \(examples\/hello\.ts\)/,
    );
    // No inspector, no history to keep (the line comes just after the one spawnDeno waited for).
    await waitFor(() => /^Edits reload/m.test(child.output()), 5000, "the banner's last line");
    match(child.output(), /^Edits reload the app\.$/m);
    const response = await fetch(`${child.url}/some/path?x=1`);
    equal(response.status, 200);
    equal(await response.text(), "<h1>Hello,web</h1>");
    const deadline = Date.now() + 5000;
    while (
      !child.output().includes('"GET /some/path?x=1 HTTP/1.1" 200 18') && Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 20));
    }
    match(
      child.output(),
      /127\.0\.0\.1:\d+ - - \[\d\d\/\w{3}\/\d{4} \d\d:\d\d:\d\d\] "GET \/some\/path\?x=1 HTTP\/1\.1" 200 18 \d+\.\dms\n/,
    );
  } finally {
    const code = await child.stop();
    equal(code, 0, child.output());
    match(child.output(), /Shut down\./);
  }
});

Deno.test("MODULE:NAME picks an export; without a name, application or else the default", async (t) => {
  const cases: [string, string][] = [
    ["tests/fixtures/apps.ts:named", "named export"],
    ["tests/fixtures/apps.ts", "default export"],
    ["examples/hello.ts:application", "<h1>Hello,web</h1>"],
  ];
  for (const [module, expected] of cases) {
    await t.step(module, async () => {
      const child = await spawnDeno([
        "run",
        "-A",
        "mod.ts",
        module,
        "--port",
        "0",
        "--no-inspector",
      ]);
      try {
        equal(await (await fetch(child.url)).text(), expected);
      } finally {
        await child.stop();
      }
    });
  }
});

Deno.test("CLI mistakes (and, with --no-reload, a module that cannot be served) are one clear line on stderr and exit code 2", async (t) => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const busy = (listener.addr as Deno.NetAddr).port;
  try {
    const cases: [string, string[], RegExp][] = [
      [
        "a missing module",
        ["nope/missing.ts"],
        /Cannot load module "nope\/missing\.ts": no such file/,
      ],
      [
        "a missing export",
        ["tests/fixtures/apps.ts:absent"],
        /has no export named "absent"/,
      ],
      [
        "an export that is not a function",
        ["tests/fixtures/apps.ts:notAFunction"],
        /Export "notAFunction" of "tests\/fixtures\/apps\.ts" is not a function \(got number\)/,
      ],
      [
        "a module that throws on import",
        ["tests/fixtures/broken_module.ts"],
        /Cannot load module "tests\/fixtures\/broken_module\.ts": .*this module fails at import time/,
      ],
      [
        "a port in use",
        ["--port", String(busy)],
        new RegExp(`127\\.0\\.0\\.1:${busy}: the port is in use`),
      ],
      [
        "a bad port",
        ["--port", "http"],
        /--port must be an integer from 0 to 65535 \(got "http"\)/,
      ],
      [
        "a bad --reload-grace",
        ["--reload-grace", "soon"],
        /--reload-grace must be a number from 0 to 3600 \(got "soon"\)/,
      ],
      ["an unknown flag", ["--frobnicate"], /Unknown flag "--frobnicate"; see --help$/m],
      [
        "a negative --timeout",
        ["--timeout", "-1"],
        /--timeout must be an integer from 0 to 86400 \(got "-1"\); see --help$/m,
      ],
      [
        "a negative --max-exchanges",
        ["--max-exchanges", "-1"],
        /--max-exchanges must be an integer from 1 to 10000000 \(got "-1"\); see --help$/m,
      ],
      [
        "a flag where a value belongs",
        ["--host", "--port", "0"],
        /--host needs a value: --host H \(got the flag "--port"; .*\); see --help$/m,
      ],
      ["a value for a flag that takes none", ["--quiet=yes"], /--quiet takes no value/],
      [
        "a directory as MODULE",
        ["examples"],
        /Cannot load module "examples": it is a directory; name the app's file, like "examples\/\w+\.ts"$/m,
      ],
      [
        "a host that is not a host name",
        ["--host", "bad host", "--port", "0"],
        /Cannot serve the app on bad host:0: "bad host" is not an address this machine can listen on \(.*\); give --host an address like 127\.0\.0\.1/,
      ],
      ["two modules", ["a.ts", "b.ts"], /expected at most one MODULE/],
    ];
    for (const [name, args, message] of cases) {
      await t.step(name, async () => {
        const { code, stderr } = await runDeno([
          "run",
          "-A",
          "mod.ts",
          // Not the default 8000, which a server of the developer's may hold (a later --port wins).
          "--port",
          "0",
          ...args,
          "--no-inspector",
          "--no-reload",
        ]);
        equal(code, 2, stderr);
        match(stderr, message);
        equal(stderr.trim().split("\n").length, 1, `one line, no stack trace:\n${stderr}`);
        match(stderr, /^error: /);
      });
    }
  } finally {
    listener.close();
  }
});

Deno.test("with reload and the inspector on, a directory or a Python file as MODULE, a host the machine cannot listen on, a port in hex or one port for the app and the inspector is one line and exit code 2", async (t) => {
  // A port free a moment ago: the CLI must refuse it before it binds it.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const free = String((probe.addr as Deno.NetAddr).port);
  probe.close();
  const cases: [string, string[], RegExp][] = [
    [
      "a directory",
      ["tests/fixtures/", "--port", "0", "--inspector-port", "0"],
      /^error: Cannot load module "tests\/fixtures\/": it is a directory; name the app's file, like "tests\/fixtures\/\w+\.ts"$/m,
    ],
    [
      "a Python file",
      ["tests/fixtures/echo_environ.py", "--port", "0", "--inspector-port", "0"],
      /^error: Cannot load module "tests\/fixtures\/echo_environ\.py": it is a Python file; this server runs WSGI applications written in TypeScript or JavaScript .*; serve a Python one with a Python server/m,
    ],
    [
      "an inspector host that is not a host name",
      ["--inspector-host", "http://localhost", "--port", "0", "--inspector-port", "0"],
      /^error: Cannot serve the inspector on http:\/\/localhost:0: "http:\/\/localhost" is not an address this machine can listen on \(.*\); give --inspector-host an address like 127\.0\.0\.1/m,
    ],
    [
      // Number("0x10") is 16: it served on port 16.
      "a port that is not decimal digits",
      ["--port", "0x10", "--inspector-port", "0"],
      /^error: --port must be an integer from 0 to 65535 \(got "0x10"\); see --help$/m,
    ],
    [
      // It said the inspector's port was in use: by the app.
      "one port for the app and the inspector",
      ["--port", free, "--inspector-port", free],
      new RegExp(
        `^error: --port and --inspector-port are both ${free}: the app and the inspector need a port each; pick another for one of them; see --help$`,
        "m",
      ),
    ],
  ];
  for (const [name, args, message] of cases) {
    await t.step(name, async () => {
      // Killed after 30 s: a regression would serve instead of exiting.
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "mod.ts", ...args],
        cwd: ROOT,
        stdin: "null",
        env: { NO_COLOR: "1" },
        signal: AbortSignal.timeout(30_000),
      }).output();
      const stderr = new TextDecoder().decode(out.stderr);
      equal(out.code, 2, stderr + new TextDecoder().decode(out.stdout));
      match(stderr, message);
      equal(stderr.trim().split("\n").length, 1, `one line, no stack trace:\n${stderr}`);
    });
  }
});

Deno.test("run without -A, the CLI says which permissions it lacks and to run it with -A; --help needs none", async (t) => {
  const run = async (args: string[]) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", ...args],
      cwd: ROOT,
      stdin: "null",
      env: { NO_COLOR: "1" },
      signal: AbortSignal.timeout(30_000),
    }).output();
    const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
  };
  await t.step("no permission at all", async () => {
    const { code, stderr } = await run(["mod.ts", "--port", "0", "--inspector-port", "0"]);
    equal(code, 2, stderr);
    match(
      stderr,
      /^error: The CLI needs these permissions .*: run it as deno run -A mod\.ts \[MODULE\] \(not granted: --allow-read, --allow-write, --allow-net, --allow-env, --allow-run, --allow-sys\)$/m,
    );
    equal(stderr.trim().split("\n").length, 1, `one line, no stack trace:\n${stderr}`);
  });
  await t.step("some permissions", async () => {
    const { code, stderr } = await run([
      "--allow-net",
      "--allow-read",
      "mod.ts",
      "--port",
      "0",
      "--inspector-port",
      "0",
    ]);
    equal(code, 2, stderr);
    match(
      stderr,
      /\(not granted: --allow-write, --allow-env, --allow-run, --allow-sys\)$/m,
    );
  });
  await t.step("--help", async () => {
    const { code, stdout, stderr } = await run(["mod.ts", "--help"]);
    equal(code, 0, stderr);
    match(stdout, /^Usage: deno run -A mod\.ts/);
  });
});

Deno.test("--help documents every flag", async () => {
  const { code, stdout } = await runDeno(["run", "-A", "mod.ts", "--help"]);
  equal(code, 0);
  for (
    const flag of [
      "MODULE[:NAME]",
      "--host",
      "--port",
      "--inspector-host",
      "--inspector-port",
      "--no-inspector",
      "--max-exchanges",
      "--max-body-bytes",
      "--no-validate",
      "--strict",
      "--static",
      "--script-name",
      "--no-reload",
      "--reload-grace",
      "--timeout",
      "--workers",
      "--debug-any-client",
    ]
  ) {
    ok(stdout.includes(flag), `--help mentions ${flag}`);
  }
  // Loopback interfaces are exempt from the token (inspector/guard.ts: needsToken).
  match(stdout, /--inspector-host H .*beyond\s+loopback \(127\.0\.0\.0\/8, ::1, localhost\) needs/);
});

Deno.test("the validator is on by default: one warning per rule and route; --strict makes it a 500; --no-validate turns it off", async () => {
  const module = "tests/fixtures/apps.ts:noContentType";
  const child = await spawnDeno(["run", "-A", "mod.ts", module, "--port", "0", "--no-inspector"]);
  try {
    for (let i = 0; i < 2; i++) equal(await (await fetch(`${child.url}/a`)).text(), "|/a");
    await (await fetch(`${child.url}/b`)).text();
    const deadline = Date.now() + 5000;
    while (!child.output().includes("GET /b)") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const warnings = child.output().match(/Validator: No Content-Type header .*\n/g) ?? [];
    equal(warnings.length, 2, child.output());
    match(warnings[0]!, /\(rule content_type\.missing; GET \/a\)/);
  } finally {
    await child.stop();
  }
  const strict = await spawnDeno([
    "run",
    "-A",
    "mod.ts",
    module,
    "--port",
    "0",
    "--no-inspector",
    "--strict",
  ]);
  try {
    const response = await fetch(`${strict.url}/a`);
    equal(response.status, 500);
    match(
      await response.text(),
      /No Content-Type header in a 200 response[^]*\(rule: content_type\.missing\)/,
    );
  } finally {
    await strict.stop();
  }
  const off = await spawnDeno([
    "run",
    "-A",
    "mod.ts",
    module,
    "--port",
    "0",
    "--no-inspector",
    "--no-validate",
  ]);
  try {
    equal(await (await fetch(`${off.url}/a`)).text(), "|/a");
    await new Promise((r) => setTimeout(r, 100));
    ok(!off.output().includes("Validator:"), off.output());
  } finally {
    await off.stop();
  }
});

Deno.test("--static serves a directory under a prefix, --script-name mounts the app", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wsgi-cli-static-" });
  await Deno.writeTextFile(`${dir}/hello.txt`, "static hello");
  const child = await spawnDeno([
    "run",
    "-A",
    "mod.ts",
    "tests/fixtures/apps.ts:noContentType",
    "--port",
    "0",
    "--no-inspector",
    "--no-validate",
    "--static",
    `/files=${dir}`,
    "--script-name",
    "/app",
  ]);
  try {
    await waitFor(
      () => child.output().includes("Static files: /files from "),
      5000,
      "the static line",
    );
    const file = await fetch(`${child.url}/files/hello.txt`);
    equal(file.headers.get("content-type"), "text/plain; charset=utf-8");
    equal(await file.text(), "static hello");
    equal(await (await fetch(`${child.url}/app/x/y`)).text(), "/app|/x/y");
    const missing = await fetch(`${child.url}/files/missing.txt`);
    equal(missing.status, 404, "a file the directory lacks goes to the app: outside /app, a 404");
    await missing.body?.cancel();
    equal((await fetch(`${child.url}/elsewhere`)).status, 404);
  } finally {
    await child.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a module that exports a fetch handler runs under the CLI: { fetch }, or a function named fetch", async (t) => {
  for (
    const [module, expected] of [
      ["tests/fixtures/fetch_handlers.ts", "default fetch /p"],
      ["tests/fixtures/fetch_handlers.ts:fetch", "function fetch GET"],
    ]
  ) {
    await t.step(module!, async () => {
      const child = await spawnDeno([
        "run",
        "-A",
        "mod.ts",
        module!,
        "--port",
        "0",
        "--inspector-port",
        "0",
      ]);
      try {
        equal(await (await fetch(`${child.url}/p`)).text(), expected);
        // Recorded like any WSGI exchange.
        await waitFor(() => /Inspector on /.test(child.output()), 5000, "the inspector's URL");
        const inspector = child.output().match(/Inspector on (http:\/\/\S+?)\/?\s/)![1];
        const list = await (await fetch(`${inspector}/api/exchanges`)).json();
        equal(list.exchanges[0].target, "/p");
      } finally {
        await child.stop();
      }
    });
  }
});

Deno.test("toolkit flag mistakes are one clear line and exit code 2", async (t) => {
  const cases: [string, string[], RegExp][] = [
    [
      "--static without =",
      ["--static", "public"],
      /--static must be \/PREFIX=DIR, like \/static=public/,
    ],
    [
      "--static, no such directory",
      ["--static", "/s=nope/nothing"],
      /--static \/s=nope\/nothing: Cannot serve static files from "nope\/nothing": no such directory/,
    ],
    [
      "--script-name without /",
      ["--script-name", "app"],
      /--script-name must be a path like \/app \(got "app"\)/,
    ],
    [
      "--strict without the validator",
      ["--strict", "--no-validate"],
      /--strict needs the validator/,
    ],
  ];
  for (const [name, args, message] of cases) {
    await t.step(name, async () => {
      const { code, stderr } = await runDeno(["run", "-A", "mod.ts", ...args, "--no-inspector"]);
      equal(code, 2, stderr);
      match(stderr, message);
      equal(stderr.trim().split("\n").length, 1, stderr);
    });
  }
});

Deno.test("under the CLI, the validator's findings are lint events in the inspector", async () => {
  const child = await spawnDeno([
    "run",
    "-A",
    "mod.ts",
    "tests/fixtures/apps.ts:noContentType",
    "--port",
    "0",
    "--inspector-port",
    "0",
  ]);
  try {
    await (await fetch(`${child.url}/lint`)).text();
    await waitFor(() => /Inspector on /.test(child.output()), 5000, "the inspector's URL");
    const origin = new URL(child.output().match(/Inspector on (\S+)/)![1]!).origin;
    // Under the dev loop the app process's events reach the inspector a moment after the answer.
    let detail: { events: { type: string; data: { rule?: string } }[] } = { events: [] };
    for (let tries = 0; !detail.events.some((e) => e.type === "end"); tries++) {
      if (tries > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      if (tries > 250) throw new Error("Timed out waiting for the exchange's end event");
      const list = await (await fetch(`${origin}/api/exchanges`)).json();
      if (list.exchanges.length === 0) continue;
      detail = await (await fetch(`${origin}/api/exchanges/${list.exchanges[0].id}`)).json();
    }
    const lints = detail.events.filter((e: { type: string }) => e.type === "lint");
    equal(lints.length, 1, JSON.stringify(detail.events.map((e: { type: string }) => e.type)));
    equal(lints[0]!.data.rule, "content_type.missing");
  } finally {
    await child.stop();
  }
});

Deno.test("an app that imports runtime values from mod.ts is served by the CLI (no import cycle deadlock)", async () => {
  const child = await spawnDeno([
    "run",
    "-A",
    "mod.ts",
    "tests/fixtures/imports_mod.ts",
    "--port",
    "0",
    "--no-inspector",
  ]);
  try {
    equal(await (await fetch(child.url)).text(), "inner function");
  } finally {
    equal(await child.stop(), 0, child.output());
  }
});

Deno.test("a MODULE path with #, % or a space in its name is served and reloaded; a file: URL given as one still works", async (t) => {
  for (const name of ["my app#1.ts", "p%41.ts"]) {
    await t.step(name, async () => {
      const dev = await startDev({ [name]: helloApp("first") }, [], name);
      try {
        equal((await get(dev.url)).text, "first");
        await dev.write(name, helloApp("second"));
        await dev.waitFor(/reloaded \(/);
        await eventually(async () => (await get(dev.url)).text === "second", "the edit served");
      } finally {
        await dev.cleanup();
      }
    });
  }
  await t.step("file:///…/p%2541.ts", async () => {
    const dir = await Deno.makeTempDir({ prefix: "wsgi-devtest-" });
    try {
      await Deno.writeTextFile(`${dir}/p%41.ts`, helloApp("by URL"));
      const url = `${pathToFileURL(dir).href}/p%2541.ts`;
      const dev = await startDev({}, [], url);
      try {
        equal((await get(dev.url)).text, "by URL");
      } finally {
        await dev.cleanup();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});

Deno.test("MODULE:NAME naming an export the module lacks: the page says the name is on the command line and lists the exports", async () => {
  const dev = await startDev({ "app.ts": helloApp("hi") }, [], "app.ts:nope");
  try {
    const page = await get(dev.url);
    equal(page.status, 500);
    match(
      page.text,
      /no export named "nope", the NAME given on the command line \(app\.ts:nope\); its exports that can be served: "application"/,
    );
    match(page.text, /run it again with one the module has \(app\.ts:application\)/);
    ok(!/Fix the file and save/.test(page.text), page.text);
    const html = await get(dev.url, { headers: { Accept: "text/html" } });
    match(html.text, /<footer>The export&#39;s name is on the command line/);
  } finally {
    await dev.cleanup();
  }
});
