/**
 * validator(): one breaking application (or server) per check of
 * wsgiref's validate.py, each with the message it gets.
 *
 * Apps run through the real gateway (`toFetch`); checks of what the server
 * hands over (the environ, `wsgi.input`'s results) call the validated app
 * directly with a broken environ, since our gateway never builds one.
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import type { Application, Environ, Header, StartResponse } from "../mod.ts";
import { validator } from "../server/validate.ts";
import { toFetch } from "../server/gateway.ts";
import { setupTestingDefaults } from "../server/util.ts";
import { LINT_KEY } from "../server/lint.ts";
import { MemorySink } from "./_helpers.ts";

const enc = (text: string) => new TextEncoder().encode(text);
const TEXT: Header[] = [["Content-Type", "text/plain"]];
const okApp: Application = (_environ, start_response) => {
  start_response("200 OK", TEXT);
  return [enc("ok")];
};
// deno-lint-ignore no-explicit-any -- the point is to break the types
type Any = any;

interface Outcome {
  warnings: string[];
  status: number;
  body: string;
}

/** Serves `app` through the gateway, validated, and answers one request. */
async function viaGateway(app: Application, strict: boolean, init?: RequestInit): Promise<Outcome> {
  const warnings: string[] = [];
  const handler = toFetch(validator(app, { strict, warn: (t) => warnings.push(t) }), {
    errors: new MemorySink(),
    debug: true, // a 500 that says what broke
  });
  const response = await handler(new Request("http://localhost/route", init));
  let body = "";
  try {
    body = await response.text();
  } catch {
    body = "<cut>";
  }
  return { warnings, status: response.status, body };
}

/** Calls the validated app directly with a testing environ changed by `change`. */
async function direct(
  change: (environ: Record<string, unknown>) => void,
  app: Application = okApp,
  args?: (environ: Environ, sr: StartResponse) => unknown[],
): Promise<{ warnings: string[]; lints: [string, string][]; error?: unknown }> {
  const warnings: string[] = [];
  const lints: [string, string][] = [];
  const environ = setupTestingDefaults({});
  environ[LINT_KEY] = (rule: string, message: string) => lints.push([rule, message]);
  change(environ);
  const sr: StartResponse = () => () => {};
  const validated = validator(app, { warn: (t) => warnings.push(t) }) as Any;
  try {
    const body = await (args ? validated(...args(environ, sr)) : validated(environ, sr));
    for await (const _ of body as AsyncIterable<Uint8Array>) { /* drain */ }
    await body?.close?.();
  } catch (error) {
    return { warnings, lints, error };
  }
  return { warnings, lints };
}

function sawRule(warnings: string[], rule: string, message: RegExp) {
  const line = warnings.find((w) => w.includes(`(rule ${rule};`));
  ok(line, `a warning for ${rule}; got:\n${warnings.join("")}`);
  match(line, message);
}

const environCases: [rule: string, change: (e: Record<string, unknown>) => void, RegExp][] = [
  ["environ.required", (e) => delete e.SERVER_NAME, /missing the required key "SERVER_NAME"/],
  [
    "environ.http_content",
    (e) => e.HTTP_CONTENT_TYPE = "text/plain",
    /should not have HTTP_CONTENT_TYPE; the header goes in CONTENT_TYPE/,
  ],
  ["environ.query_string", (e) => delete e.QUERY_STRING, /QUERY_STRING is not in the environ/],
  [
    "environ.cgi_string",
    (e) => e.SERVER_PORT = 80,
    /SERVER_PORT must be a string \(got number 80\)/,
  ],
  ["environ.version", (e) => e["wsgi.version"] = "1.0", /wsgi\.version must be a \[major, minor\]/],
  [
    "environ.url_scheme",
    (e) => e["wsgi.url_scheme"] = "ftp",
    /must be "http" or "https" \(got "ftp"\)/,
  ],
  ["environ.input", (e) => e["wsgi.input"] = {}, /wsgi\.input .* has no read method/],
  [
    "environ.errors",
    (e) => e["wsgi.errors"] = { write() {} },
    /wsgi\.errors .* has no flush method/,
  ],
  ["environ.method", (e) => e.REQUEST_METHOD = "BREW", /Unknown REQUEST_METHOD "BREW"/],
  [
    "environ.script_name",
    (e) => e.SCRIPT_NAME = "app",
    /SCRIPT_NAME must be empty or start with "\/"/,
  ],
  [
    "environ.path_info",
    (e) => e.PATH_INFO = "x",
    /PATH_INFO must be empty or start with "\/" \(got "x"\)/,
  ],
  [
    "environ.content_length",
    (e) => e.CONTENT_LENGTH = "-1",
    /CONTENT_LENGTH must be a non-negative integer \(got "-1"\)/,
  ],
  [
    "environ.path_required",
    (e) => {
      e.SCRIPT_NAME = "";
      delete e.PATH_INFO;
    },
    /One of SCRIPT_NAME or PATH_INFO is required/,
  ],
  [
    "environ.script_name_slash",
    (e) => {
      e.SCRIPT_NAME = "/";
      e.PATH_INFO = "";
    },
    /SCRIPT_NAME cannot be "\/"; it should be "", and PATH_INFO "\/"/,
  ],
];

Deno.test("validator() checks what the server hands over: one broken environ per check", async (t) => {
  for (const [rule, change, message] of environCases) {
    await t.step(rule, async () => {
      const { warnings, lints } = await direct(change);
      sawRule(warnings, rule, message);
      ok(lints.some(([r, m]) => r === rule && message.test(m)), `a lint for ${rule}`);
    });
  }
  await t.step("environ.type", async () => {
    const { warnings } = await direct(() => {}, okApp, (environ, sr) => {
      const odd = Object.assign(new (class Odd {})(), environ);
      return [odd, sr];
    });
    sawRule(
      warnings,
      "environ.type",
      /The environ must be a plain object \(got an object \(Odd\)\)/,
    );
  });
  await t.step("call.arguments", async () => {
    const { warnings } = await direct(() => {}, okApp, (environ, sr) => [environ, sr, "extra"]);
    sawRule(
      warnings,
      "call.arguments",
      /takes exactly 2 arguments, \(environ, start_response\) \(got 3\)/,
    );
  });
});

Deno.test("validator() checks what wsgi.input gives (a server bug): read, readline, readlines", async (t) => {
  const reads: Application = async (environ, start_response) => {
    const input = environ["wsgi.input"];
    await input.read(1);
    await input.readline(1);
    await input.readlines();
    start_response("200 OK", TEXT);
    return [];
  };
  const brokenInput = {
    read: () => Promise.resolve("text"),
    readline: () => Promise.resolve(42),
    readlines: () => Promise.resolve(["a"]),
    [Symbol.asyncIterator]: async function* () {},
  };
  const { warnings } = await direct((e) => e["wsgi.input"] = brokenInput, reads);
  for (
    const [rule, message] of [
      [
        "input.read_result",
        /wsgi\.input\.read\(\) must give a Uint8Array \(got "text"\): a server bug/,
      ],
      ["input.readline_result", /readline\(\) must give a Uint8Array \(got number 42\)/],
      ["input.readlines_result", /readlines\(\) must give an array of Uint8Array/],
    ] as const
  ) {
    await t.step(rule, () => sawRule(warnings, rule, message));
  }
});

Deno.test("validator(): body.after_close, when a server iterates a closed body", async () => {
  const { warnings } = await direct(() => {}, okApp, (environ, sr) => [environ, sr]);
  equal(warnings.length, 0, "a good app under a good server: no warning");
  const gen: Application = (_environ, start_response) => {
    start_response("200 OK", TEXT);
    return (function* () {
      yield enc("a");
      yield enc("b");
    })();
  };
  const seen: string[] = [];
  const environ = setupTestingDefaults({});
  const body = await validator(gen, { warn: (t) => seen.push(t) })(environ, () => () => {}) as Any;
  const it = body[Symbol.asyncIterator]();
  await it.next();
  await body.close();
  await it.next();
  sawRule(seen, "body.after_close", /The body was iterated after close\(\)/);
});

/** One app per check that the application itself can break. */
const appCases: [rule: string, app: Application, RegExp, init?: RequestInit][] = [
  [
    "start_response.arguments",
    (_e, sr) => {
      (sr as Any)("200 OK");
      return [];
    },
    /start_response\(\) takes 2 or 3 arguments, \(status, headers, exc_info\?\) \(got 1\)/,
  ],
  [
    "status.type",
    (_e, sr) => {
      sr(200 as Any, TEXT);
      return [];
    },
    /The status must be a string like "200 OK" \(got number 200\)/,
  ],
  [
    "status.code",
    (_e, sr) => {
      sr("20X OK", TEXT);
      return [];
    },
    /The status must start with a 3-digit code \(got "20X OK"\)/,
  ],
  [
    "status.range",
    (_e, sr) => {
      sr("099 Too Low", TEXT);
      return [];
    },
    /Status code 099 is invalid; use 100-599/,
  ],
  [
    "status.format",
    (_e, sr) => {
      sr("200", TEXT);
      return [];
    },
    /The status "200" should be a 3-digit code, a single space and a reason phrase/,
  ],
  [
    "headers.type",
    (_e, sr) => {
      sr("200 OK", { "Content-Type": "text/plain" } as Any);
      return [];
    },
    /The headers must be an array of \[name, value\] pairs \(got an object \(Object\)\)/,
  ],
  [
    "headers.pair",
    (_e, sr) => {
      sr("200 OK", [...TEXT, ["X-One"] as Any]);
      return [];
    },
    /Each header must be a \[name, value\] pair \(got an array of 1\)/,
  ],
  [
    "headers.string",
    (_e, sr) => {
      sr("200 OK", [...TEXT, ["X-Count", 1 as Any]]);
      return [];
    },
    /Header names and values must be strings \(got \["X-Count", number 1\]\)/,
  ],
  [
    "headers.status",
    (_e, sr) => {
      sr("200 OK", [...TEXT, ["Status", "404"]]);
      return [];
    },
    /The Status header cannot be used/,
  ],
  [
    "headers.name_chars",
    (_e, sr) => {
      sr("200 OK", [...TEXT, ["X:Y", "1"]]);
      return [];
    },
    /Header names may not contain ":" or a newline \(got "X:Y"\)/,
  ],
  [
    "headers.name",
    (_e, sr) => {
      sr("200 OK", [...TEXT, ["1X", "1"]]);
      return [];
    },
    /Bad header name "1X": a letter, then letters, digits, "-" or "_"/,
  ],
  [
    "headers.name_end",
    (_e, sr) => {
      sr("200 OK", [...TEXT, ["X-", "1"]]);
      return [];
    },
    /Header names may not end in "-" or "_" \(got "X-"\)/,
  ],
  [
    "headers.value",
    (_e, sr) => {
      sr("200 OK", [...TEXT, ["X-Tab", "a\tb"]]);
      return [enc("ok")];
    },
    /Bad value of header "X-Tab": "a\\tb" holds the control character "\\t"/,
  ],
  [
    "content_type.missing",
    (_e, sr) => {
      sr("200 OK", []);
      return [enc("ok")];
    },
    /No Content-Type header in a 200 response; add one/,
  ],
  [
    "content_type.forbidden",
    (_e, sr) => {
      sr("204 No Content", TEXT);
      return [];
    },
    /A Content-Type header was given in a 204 response, which must not have content/,
  ],
  [
    "exc_info.type",
    (_e, sr) => {
      sr("200 OK", TEXT, "it broke");
      return [];
    },
    /exc_info must be the caught Error, or absent \(got "it broke"\)/,
  ],
  [
    "write.type",
    (_e, sr) => {
      sr("200 OK", TEXT)("text" as Any);
      return [];
    },
    /write\(\) takes a Uint8Array \(got "text"\)/,
  ],
  [
    "input.read_arguments",
    async (e, sr) => {
      await e["wsgi.input"].read("10" as Any);
      sr("200 OK", TEXT);
      return [];
    },
    /wsgi\.input\.read\(\) takes at most one argument, an integer size \(got "10"\)/,
    { method: "POST", body: "0123456789" },
  ],
  [
    "input.readline_arguments",
    async (e, sr) => {
      await (e["wsgi.input"].readline as Any)(1, 2);
      sr("200 OK", TEXT);
      return [];
    },
    /readline\(\) takes at most one argument, an integer size \(got number 1, number 2\)/,
    { method: "POST", body: "a\nb" },
  ],
  [
    "input.readlines_arguments",
    async (e, sr) => {
      await e["wsgi.input"].readlines("x" as Any);
      sr("200 OK", TEXT);
      return [];
    },
    /readlines\(\) takes at most one argument, an integer size \(got "x"\)/,
    { method: "POST", body: "a\nb" },
  ],
  [
    "input.close",
    (e, sr) => {
      (e["wsgi.input"] as Any).close();
      sr("200 OK", TEXT);
      return [];
    },
    /wsgi\.input\.close\(\) must not be called/,
  ],
  [
    "errors.write_type",
    (e, sr) => {
      e["wsgi.errors"].write(42 as Any);
      sr("200 OK", TEXT);
      return [];
    },
    /wsgi\.errors\.write\(\) takes a string \(got number 42\)/,
  ],
  [
    "errors.writelines_type",
    (e, sr) => {
      e["wsgi.errors"].writelines([1 as Any]);
      sr("200 OK", TEXT);
      return [];
    },
    /wsgi\.errors\.writelines\(\) takes strings \(got number 1\)/,
  ],
  [
    "errors.close",
    (e, sr) => {
      (e["wsgi.errors"] as Any).close();
      sr("200 OK", TEXT);
      return [];
    },
    /wsgi\.errors\.close\(\) must not be called/,
  ],
  [
    "body.missing",
    (_e, sr) => {
      sr("200 OK", TEXT);
      return undefined as Any;
    },
    /must return an iterable of chunks, if only \[\] \(got undefined\)/,
  ],
  [
    "body.string",
    (_e, sr) => {
      sr("200 OK", TEXT);
      return "text" as Any;
    },
    /returned a string or bytes as its body; return \[bytes\]/,
  ],
  [
    "body.chunk_type",
    (_e, sr) => {
      sr("200 OK", TEXT);
      return ["text" as Any];
    },
    /The body yielded "text", not a Uint8Array; encode text with new TextEncoder\(\)\.encode\(text\)/,
  ],
  [
    "body.before_start",
    (_e, sr) =>
      (function* () {
        yield enc("early");
        sr("200 OK", TEXT);
      })(),
    /The body produced a chunk before start_response\(\) was called/,
  ],
];

const WARN_ONLY = new Set(["status.format"]);

Deno.test("validator() warns once per rule and route for each broken app, and answers as without it", async (t) => {
  for (const [rule, app, message, init] of appCases) {
    await t.step(rule, async () => {
      const { warnings } = await viaGateway(app, false, init);
      sawRule(warnings, rule, message);
      match(warnings.find((w) => w.includes(rule))!, /; GET \/route\)|; POST \/route\)/);
    });
  }
});

Deno.test("validator({ strict: true }) makes each violation a 500 that names the rule", async (t) => {
  for (const [rule, app, message, init] of appCases) {
    if (WARN_ONLY.has(rule)) continue;
    await t.step(rule, async () => {
      const { status, body } = await viaGateway(app, true, init);
      equal(status, 500, body);
      match(body, new RegExp(`\\(rule: ${rule.replace(".", "\\.")}\\)`));
      match(body, message);
    });
  }
});

Deno.test("validator() without strict changes nothing: the response goes on", async () => {
  const tab: Application = (_e, sr) => {
    sr("200 OK", [["X-Tab", "a\tb"]]); // two violations: a tab, no Content-Type
    return [enc("fine")];
  };
  const plain = await toFetch(tab)(new Request("http://localhost/"));
  const validated = await viaGateway(tab, false);
  equal(validated.status, plain.status);
  equal(validated.body, await plain.text());
  equal(validated.warnings.length, 2);
});

Deno.test("validator() strict: a violation the app caught still gives the 500", async () => {
  const swallow: Application = (_e, sr) => {
    try {
      sr("200 OK", [["Status", "200"], ...TEXT]);
    } catch { /* ignored */ }
    sr("200 OK", TEXT);
    return [enc("looks fine")];
  };
  const { status, body } = await viaGateway(swallow, true);
  equal(status, 500);
  match(body, /\(rule: headers\.status\)/);
});

Deno.test("validator() warns once per rule and route, escaping control characters", async () => {
  const warnings: string[] = [];
  const handler = toFetch(
    validator((_e, sr) => {
      sr("200 OK", []);
      return [];
    }, { warn: (t) => warnings.push(t) }),
  );
  for (const path of ["/a", "/a", "/b", "/x%1b%5b2J%0aFAKE"]) {
    await (await handler(new Request(`http://localhost${path}`))).arrayBuffer();
  }
  equal(warnings.length, 3, warnings.join(""));
  deepEqual(warnings.map((w) => w.slice(w.lastIndexOf(";") + 2)), [
    "GET /a)\n",
    "GET /b)\n",
    "GET /x\\x1b[2J\\x0aFAKE)\n",
  ]);
});

Deno.test("validator() keeps a plain array body as it is (the gateway's fast path)", () => {
  const body = [enc("x")];
  const environ = setupTestingDefaults({});
  const result = validator((_e, sr) => {
    sr("200 OK", TEXT);
    return body;
  })(environ, () => () => {});
  equal(result, body);
});
