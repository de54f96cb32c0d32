/** Every file in examples/ is run here, as a user would run it. */

import { equal, match, ok } from "node:assert/strict";
import { rawRequest, spawnDeno, text, waitFor, withServer } from "./_helpers.ts";
import { application as environApp } from "../examples/environ.ts";
import { application as formApp } from "../examples/form.ts";
import { application as streamApp } from "../examples/stream.ts";
import { application as failApp } from "../examples/fail.ts";

Deno.test("examples/environ.ts shows every environ key in a table", async () => {
  await withServer(environApp, async (server) => {
    const response = await fetch(`${server.url}/some/path?q=1`, { headers: { "X-Custom": "yes" } });
    equal(response.status, 200);
    const html = await response.text();
    match(html, /<h1>Hello world!<\/h1>/);
    for (
      const [key, value] of [
        ["PATH_INFO", "/some/path"],
        ["QUERY_STRING", "q=1"],
        ["REQUEST_METHOD", "GET"],
        ["HTTP_X_CUSTOM", "yes"],
        ["wsgi.version", "[1, 0]"],
        ["wsgi.url_scheme", "http"],
      ]
    ) {
      ok(
        html.includes(`<tr><th>${key}</th><td><code>${value}</code></td></tr>`),
        `${key} = ${value}`,
      );
    }
    match(html, /<th>wsgi\.input<\/th><td><code>&lt;wsgi\.input/);
  });
});

Deno.test("examples/form.ts shows a form and greets what was posted through wsgi.input", async () => {
  await withServer(formApp, async (server) => {
    const page = await (await fetch(server.url)).text();
    match(page, /<form method="post">/);
    const posted = await fetch(server.url, {
      method: "POST",
      body: new URLSearchParams({ name: "Ada <Lovelace>" }),
    });
    match(await posted.text(), /Hello, <b>Ada &lt;Lovelace&gt;<\/b>!/);
  });
});

Deno.test("examples/stream.ts streams lines and finalizes its generator, also when cut short", async () => {
  await withServer(streamApp, async (server, sink) => {
    const response = await fetch(`${server.url}/?n=3&delay=1`);
    equal(await response.text(), "line 1 of 3\nline 2 of 3\nline 3 of 3\n");
    match(sink.text, /stream: generator finalized/);
    sink.text = "";
    const long = await fetch(`${server.url}/?n=1000&delay=5`);
    const reader = long.body!.getReader();
    equal(text((await reader.read()).value!), "line 1 of 1000\n");
    await reader.cancel();
    await waitFor(() => sink.text.includes("generator finalized"), 5000, "the generator's finally");
  });
});

Deno.test("examples/fail.ts: a 500 that names the error; a late failure cuts the response", async () => {
  await withServer(failApp, async (server, sink) => {
    const early = await fetch(server.url);
    equal(early.status, 500);
    match(await early.text(), /Error: Something went wrong in the application/);
    match(sink.text, /Error in application \(GET \/\): Error: Something went wrong/);
    const late = await fetch(`${server.url}/late`);
    equal(late.status, 200);
    let cut = false;
    try {
      await late.text();
    } catch {
      cut = true;
    }
    ok(cut, "the client sees an error, not a short page");
    // And it keeps serving.
    equal((await fetch(server.url)).status, 500);
  }, { debug: true });
});

Deno.test("examples/server.ts: make_server() and serve_forever(), like the tutorial's server.py", async () => {
  const child = await spawnDeno(
    ["run", "-A", "examples/server.ts", "0", "127.0.0.1"],
    /Serving HTTP on port (\d+)\.\.\./,
  );
  try {
    const response = await fetch(`http://127.0.0.1:${child.url}/`);
    equal(await response.text(), "<h1>Hello,web</h1>");
  } finally {
    equal(await child.stop(), 0, child.output());
  }
});

Deno.test("examples/parallel.ts runs under deno serve --parallel", async () => {
  const served = await spawnDeno(
    ["serve", "-A", "--parallel", "--host", "127.0.0.1", "--port", "0", "examples/parallel.ts"],
    // The whole line: with one core Deno names no threads.
    /Listening on (http:\/\/\S+?)\/?( with \d+ threads)?\r?\n/,
  );
  try {
    // One worker per core Deno may use (what `taskset` or a container allows).
    const cores = navigator.hardwareConcurrency;
    if (cores > 1) {
      match(served.output(), new RegExp(`with ${cores} threads`), `one worker per core (${cores})`);
    }
    const port = Number(new URL(served.url).port);
    for (let i = 0; i < 4; i++) {
      const r = await rawRequest(
        port,
        `GET /${i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      );
      equal(r.status, 200);
      equal(text(r.body), "<h1>Hello,web</h1>");
    }
    await waitFor(() => served.output().includes('"GET /3 HTTP/1.1" 200 18'), 5000, "the log line");
  } finally {
    // `deno serve --parallel` sometimes misses a SIGINT that comes right after
    // start (a race in Deno, seen in 2.9.6); stop() then kills it after 2 s.
    await served.stop(2000);
  }
});
