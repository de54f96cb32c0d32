/**
 * The command line, run as users run it: `deno run -A mod.ts ...` in a child
 * process, its printed URL scraped, its output dumped when a test fails.
 */

import { equal, match, ok } from "node:assert/strict";
import { runDeno, spawnDeno } from "./_helpers.ts";

Deno.test("mod.ts with no module serves examples/hello.ts, logs each request, stops on Ctrl-C", async () => {
  const child = await spawnDeno(["run", "-A", "mod.ts", "--port", "0", "--no-inspector"]);
  try {
    match(child.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    match(
      child.output(),
      /Serving HTTP on http:\/\/127\.0\.0\.1:\d+ \.\.\. \(examples\/hello\.ts\)/,
    );
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
      ["an unknown flag", ["--frobnicate"], /Unknown option '--frobnicate'/],
      ["two modules", ["a.ts", "b.ts"], /expected at most one MODULE/],
    ];
    for (const [name, args, message] of cases) {
      await t.step(name, async () => {
        const { code, stderr } = await runDeno([
          "run",
          "-A",
          "mod.ts",
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
      "--no-reload",
      "--timeout",
      "--workers",
    ]
  ) {
    ok(stdout.includes(flag), `--help mentions ${flag}`);
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
