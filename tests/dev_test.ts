/**
 * The dev loop through the real CLI, over sockets, on apps in a temporary
 * folder: reload on save with the inspector's history kept, a broken module
 * served as an error page until fixed, faults that never take the server
 * down, timeouts for async hangs and CPU spins, several workers, signals.
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { cpuSeconds, eventually, exists, get, helloApp, startDev, supervisorDir } from "./_dev.ts";
import { rawRequest, sleep } from "./_helpers.ts";
import type { ExchangeDetail, ExchangeList, ServerState } from "../inspector/protocol.ts";

const json = async <T>(url: string): Promise<T> => JSON.parse((await get(url)).text) as T;

/** How many restarts after a timeout the CLI has printed so far. */
const restarts = (dev: { output(): string }) =>
  dev.output().match(/restarted \(after a timeout\)/g)?.length ?? 0;

/**
 * Milliseconds to let the app process's records of a previous exchange go
 * out before a request that spins: one that spins within a millisecond of
 * the last write goes unrecorded (`server/dev/child.ts`), and so is cut.
 */
const RECORDS_OUT_MS = 50;

Deno.test("CLI reload: a saved edit serves at once, the history is kept, each exchange knows its generation", async () => {
  const dev = await startDev({
    "app.ts": `import { word } from "./lib.ts";
export const application = (_e: unknown, start_response: (s: string, h: [string, string][]) => void) => {
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode("app one, " + word)];
};
`,
    "lib.ts": `export const word = "lib one";\n`,
  });
  try {
    equal((await get(dev.url)).text, "app one, lib one");
    await dev.write(
      "app.ts",
      (await Deno.readTextFile(`${dev.dir}/app.ts`)).replace("app one", "app two"),
    );
    await eventually(
      async () => (await get(dev.url)).text === "app two, lib one",
      "the edit to be served",
    );
    // The new process may answer a moment before the supervisor hears it is ready and says so.
    await dev.waitFor(/reloaded \(app\.ts changed\) in \d+ ms/);
    // An imported module is watched too.
    await dev.write("lib.ts", `export const word = "lib two";\n`);
    await eventually(async () => (await get(dev.url)).text === "app two, lib two", "lib.ts's edit");
    await dev.waitFor(/reloaded \(lib\.ts changed\) in \d+ ms/);
    const list = await json<ExchangeList>(`${dev.inspector}/api/exchanges`);
    ok(list.total >= 3, `the history is kept across reloads (${list.total} exchanges)`);
    const oldest = list.exchanges.at(-1)!;
    const newest = list.exchanges[0]!;
    equal(oldest.generation, 1);
    equal(newest.generation, 3);
    const server = await json<ServerState>(`${dev.inspector}/api/server`);
    equal(server.generation, 3);
    equal(server.loadError, null);
    deepEqual(
      server.events.filter((e) => e.type === "generation").map((e) =>
        e.type === "generation" && e.reason
      ),
      ["start", "app.ts changed", "lib.ts changed"],
    );
  } finally {
    await dev.cleanup();
  }
});

Deno.test("CLI reload: a syntax error is a 500 page with file, line, column and a caret, until a fix serves 200", async () => {
  const dev = await startDev({ "app.ts": helloApp("fine") });
  try {
    equal((await get(dev.url)).status, 200);
    await dev.write(
      "app.ts",
      `export const application = (_e: unknown, start_response: (s: string, h: [string, string][]) => void) => {
  start_response("200 OK", []);
  return [1 +];
};
`,
    );
    await eventually(async () => (await get(dev.url)).status === 500, "the error page");
    const html = await get(dev.url, { headers: { accept: "text/html" } });
    equal(html.status, 500);
    match(html.headers.get("content-type")!, /text\/html/);
    match(html.text, /Cannot serve app\.ts: syntax error/);
    match(html.text, /app\.ts:3:\d+/);
    match(html.text, /return \[1 \+\];/, "the code frame shows the line");
    match(html.text, /class="caret">\s+\^/, "a caret under the column");
    const plain = await get(dev.url);
    match(plain.headers.get("content-type")!, /text\/plain/);
    match(plain.text, /app\.ts:3:\d+: SyntaxError/);
    match(plain.text, />\s+3 \|\s+return \[1 \+\];\n\s+\|\s+\^/);
    await dev.waitFor(/Cannot serve app\.ts \(syntax error\): app\.ts:3:\d+/);
    const server = await json<ServerState>(`${dev.inspector}/api/server`);
    equal(server.loadError?.line, 3);
    await dev.write("app.ts", helloApp("fixed"));
    await eventually(async () => (await get(dev.url)).text === "fixed", "the fix to be served");
    equal((await json<ServerState>(`${dev.inspector}/api/server`)).loadError, null);
  } finally {
    await dev.cleanup();
  }
});

Deno.test("CLI reload: a throw at the top level and a missing export are error pages too; the server stays up", async () => {
  const dev = await startDev({
    "app.ts": `const config = JSON.parse("{not json");
export const application = () => [];
`,
  });
  try {
    const page = await get(dev.url);
    equal(page.status, 500);
    match(page.text, /error at import/);
    match(page.text, /SyntaxError: .*JSON/);
    match(page.text, /app\.ts:1:\d+/);
    await dev.write("app.ts", `export const handler = () => [];\n`);
    await eventually(
      async () => /exports neither "application" nor a default/.test((await get(dev.url)).text),
      "the missing export's page",
    );
    await dev.write("app.ts", helloApp("works"));
    await eventually(async () => (await get(dev.url)).text === "works", "the fixed module");
  } finally {
    await dev.cleanup();
  }
});

Deno.test("CLI: a module that does not load is an error page for this machine; --debug-any-client reaches every app process", async () => {
  /** The configuration each app process got on its command line. */
  const childConfigs = (pids: number[]) =>
    pids.flatMap((pid) => {
      try {
        const args = Deno.readTextFileSync(`/proc/${pid}/cmdline`).split("\0").filter(Boolean);
        if (!args.some((a) => a.endsWith("/server/dev/child.ts"))) return [];
        return [JSON.parse(args.at(-1)!) as { debugAnyClient?: boolean }];
      } catch {
        return []; // gone
      }
    });
  for (const args of [[], ["--debug-any-client"]]) {
    const dev = await startDev({ "app.ts": `export const application = [1 +];\n` }, args);
    try {
      const page = await get(dev.url);
      equal(page.status, 500);
      match(page.text, /app\.ts:1:\d+: SyntaxError/, "its place, to a loopback client");
      match(page.text, /\[1 \+\]/, "its code frame, to a loopback client");
      const configs = childConfigs(dev.appPids());
      ok(configs.length > 0, "the app processes are found");
      for (const config of configs) {
        equal(config.debugAnyClient, args.length > 0, JSON.stringify(args));
      }
    } finally {
      await dev.cleanup();
    }
  }
});

Deno.test("CLI: an unhandled rejection and a throw in a timer are logged and recorded; the server goes on", async () => {
  const dev = await startDev({
    "app.ts":
      `export const application = (environ: Record<string, unknown>, start_response: (s: string, h: [string, string][]) => void) => {
  if (environ.PATH_INFO === "/reject") setTimeout(() => { Promise.reject(new Error("late rejection")); }, 20);
  if (environ.PATH_INFO === "/throw") setTimeout(() => { throw new TypeError("thrown in a timer"); }, 20);
  if (environ.PATH_INFO === "/deep") { const f = (n: number): number => f(n + 1) + 1; f(0); }
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode("ok " + environ.PATH_INFO)];
};
`,
  });
  try {
    equal((await get(`${dev.url}/reject`)).text, "ok /reject");
    equal((await get(`${dev.url}/throw`)).text, "ok /throw");
    const deep = await get(`${dev.url}/deep`);
    equal(deep.status, 500, "a stack overflow is the request's 500");
    match(deep.text, /RangeError: Maximum call stack size exceeded/);
    await dev.waitFor(
      /Unhandled promise rejection in the application \(the server goes on\): Error: late rejection\n\s+at .*app\.ts:2:/,
    );
    await dev.waitFor(
      /Uncaught exception outside any request in the application \(the server goes on\): TypeError: thrown in a timer/,
    );
    equal((await get(`${dev.url}/after`)).text, "ok /after");
    const server = await json<ServerState>(`${dev.inspector}/api/server`);
    const faults = server.events.flatMap((e) => e.type === "fault" ? [e.fault] : []);
    ok(
      faults.some((f) => f.kind === "unhandledrejection" && f.message === "late rejection"),
      JSON.stringify(faults),
    );
    ok(faults.some((f) => f.kind === "error" && /thrown in a timer/.test(f.message)));
    ok(faults.every((f) => f.stack?.includes("app.ts")), "with their stacks");
    equal(server.generation, 1, "no restart was needed");
  } finally {
    await dev.cleanup();
  }
});

Deno.test("CLI --timeout 1: an async hang is answered 504 and recorded as timed out", async () => {
  const dev = await startDev({
    "app.ts":
      `export const application = async (environ: Record<string, unknown>, start_response: (s: string, h: [string, string][]) => void) => {
  if (environ.PATH_INFO === "/hang") await new Promise(() => {});
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode("ok")];
};
`,
  }, ["--timeout", "1"]);
  try {
    const t0 = Date.now();
    const hung = await get(`${dev.url}/hang`);
    equal(hung.status, 504);
    ok(Date.now() - t0 >= 900, "not before the timeout");
    equal((await get(dev.url)).text, "ok");
    const list = await json<ExchangeList>(`${dev.inspector}/api/exchanges?q=hang`);
    const x = list.exchanges[0]!;
    equal(x.status, 504);
    const detail = await json<ExchangeDetail>(`${dev.inspector}/api/exchanges/${x.id}`);
    ok(detail.events.some((e) => e.type === "error" && e.data.name === "TimeoutError"));
  } finally {
    await dev.cleanup();
  }
});

Deno.test("CLI --timeout 1: a CPU spin is answered 504 and recorded as timed out, the inspector answers meanwhile, the next request is served, nothing keeps spinning", async () => {
  const dev = await startDev({
    "app.ts":
      `export const application = (environ: Record<string, unknown>, start_response: (s: string, h: [string, string][]) => void) => {
  if (environ.PATH_INFO === "/spin") while (true) { /* a CPU-bound loop */ }
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode("ok " + Deno.pid)];
};
`,
  }, ["--timeout", "1"]);
  try {
    const first = await get(dev.url);
    const spinningPid = Number(first.text.split(" ")[1]);
    await sleep(RECORDS_OUT_MS);
    const restarted = restarts(dev);
    const t0 = Date.now();
    const spin = fetch(`${dev.url}/spin`).then(
      async (r) => ({ status: r.status, text: await r.text(), headers: r.headers, at: Date.now() }),
      (error: Error) => ({
        status: 0,
        text: error.message,
        headers: new Headers(),
        at: Date.now(),
      }),
    );
    await sleep(200);
    // The inspector lives in the supervisor: it answers while the app process spins.
    const latencies: number[] = [];
    while (Date.now() - t0 < 900) {
      const s = performance.now();
      equal((await get(`${dev.inspector}/api/exchanges`)).status, 200);
      latencies.push(performance.now() - s);
      await sleep(20);
    }
    latencies.sort((a, b) => a - b);
    const p99 = latencies[Math.floor(latencies.length * 0.99)]!;
    ok(p99 < 500, `the inspector answered during the spin (p99 ${p99.toFixed(1)} ms)`);
    const answer = await spin;
    equal(answer.status, 504, `a 504, not a cut (got ${answer.status} ${answer.text})`);
    ok(answer.at - t0 >= 900, "not before the timeout");
    match(
      answer.text,
      /^504 Gateway Timeout\n\nThe application did not answer within 1 s; its process was restarted\.\n$/,
    );
    equal(answer.headers.get("connection"), "close");
    console.log(`the 504 reached the client ${answer.at - t0} ms after the request`);
    // Once restarted (a request in between gets a 503 and retry-after: see the next test).
    await eventually(() => restarts(dev) > restarted, "the restart");
    const next = await get(dev.url);
    equal(next.status, 200, `${next.text}\n${dev.output()}`);
    ok(next.text !== first.text, "served by a new app process");
    await dev.waitFor(/did not answer for \d+\.\d s \(a CPU-bound loop\?\); it is restarted/);
    // The spinning process is gone, and nothing of the tree burns CPU.
    await eventually(
      () => cpuSeconds(spinningPid) === 0,
      "the spinning process to be killed",
      5000,
    );
    const pids = dev.appPids();
    const before = pids.map(cpuSeconds);
    await sleep(1000);
    const burnt = pids.map(cpuSeconds).reduce((sum, c, i) => sum + c - before[i]!, 0);
    ok(burnt < 0.3, `the app processes used ${burnt.toFixed(2)} s of CPU in 1 s`);
    // Recorded as an async hang's 504 is: a TimeoutError, then the 504 sent.
    const list = await json<ExchangeList>(`${dev.inspector}/api/exchanges?q=spin`);
    const x = list.exchanges[0]!;
    equal(x.status, 504);
    equal(x.statusLine, "504 Gateway Timeout");
    const detail = await json<ExchangeDetail>(`${dev.inspector}/api/exchanges/${x.id}`);
    const types = detail.events.map((e) => e.type);
    deepEqual(types.slice(-6), [
      "error",
      "start_response",
      "chunk",
      "close",
      "headers_sent",
      "end",
    ]);
    const error = detail.events.find((e) => e.type === "error")!;
    equal(error.data.name, "TimeoutError");
    match(String(error.data.message), /did not answer within 1 s \(timeout\)/);
    ok(!dev.output().includes("Cannot answer the clients"), dev.output());
  } finally {
    await dev.cleanup();
  }
});

Deno.test("CLI --timeout 1 --workers 1: requests the spinning process never read get a 503 with retry-after: 1, unrecorded; the spin's own a 504", async () => {
  const dev = await startDev({
    "app.ts":
      `export const application = (environ: Record<string, unknown>, start_response: (s: string, h: [string, string][]) => void) => {
  if (environ.PATH_INFO === "/spin") while (true) { /* a CPU-bound loop */ }
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode("ok")];
};
`,
  }, ["--timeout", "1", "--workers", "1"]);
  try {
    const port = Number(new URL(dev.url).port);
    // A kept-alive connection that the app process served once, idle when the spin begins.
    const kept = await Deno.connect({ hostname: "127.0.0.1", port });
    await kept.write(new TextEncoder().encode("GET /first HTTP/1.1\r\nHost: x\r\n\r\n"));
    const reader = kept.readable.pipeThrough(new TextDecoderStream()).getReader();
    let keptText = "";
    while (!keptText.endsWith("\r\n\r\nok")) keptText += (await reader.read()).value ?? "";
    await sleep(RECORDS_OUT_MS);
    const restarted = restarts(dev);
    const spin = rawRequest(port, "GET /spin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
      .catch((error: Error) => ({ status: `${error.name}: ${error.message}` }));
    await eventually(
      async () => (await json<ExchangeList>(`${dev.inspector}/api/exchanges?q=spin`)).total === 1,
      "the spin to begin",
    ).catch((error: Error) => {
      throw new Error(`${error.message}; the CLI printed:\n${dev.output()}`);
    });
    // Behind the spin: a new connection (queued on the listener, never accepted), and a second
    // request on the kept-alive one (never read).
    const queued = rawRequest(
      port,
      "POST /queued HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi",
    ).catch((error: Error) => error);
    await kept.write(new TextEncoder().encode("GET /kept HTTP/1.1\r\nHost: x\r\n\r\n"));
    const keptRest = (async () => {
      let rest = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return rest;
        rest += value;
      }
    })().catch((error: Error) => `${error.name}: ${error.message}`);
    equal((await spin).status, 504);
    const q = await queued;
    if (q instanceof Error) {
      throw new Error(`The queued request got no answer: ${q.name}: ${q.message}`);
    }
    equal(q.statusLine, "HTTP/1.1 503 Service Unavailable");
    equal(q.headers.get("retry-after"), "1");
    equal(q.headers.get("connection"), "close");
    match(new TextDecoder().decode(q.body), /did not see this request; try again/);
    const k = await keptRest;
    match(k, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
    match(k, /\r\nretry-after: 1\r\n/);
    // The app never saw them: nothing recorded; the spin is.
    for (const q of ["queued", "kept"]) {
      equal((await json<ExchangeList>(`${dev.inspector}/api/exchanges?q=${q}`)).total, 0, q);
    }
    equal(
      (await json<ExchangeList>(`${dev.inspector}/api/exchanges?q=spin`)).exchanges[0]?.status,
      504,
    );
    await eventually(() => restarts(dev) > restarted, "the restart");
    equal((await get(dev.url)).text, "ok");
  } finally {
    await dev.cleanup();
  }
});

Deno.test("CLI --timeout 1 --workers 2: once one worker is stuck, new connections go to its sibling while the next generation starts", async () => {
  const dev = await startDev({
    "app.ts": `// The next generation starts slowly once the file "slow" exists.
let slow = false;
try {
  Deno.statSync(new URL("./slow", import.meta.url));
  slow = true;
} catch { /* the first generation */ }
if (slow) await new Promise((resolve) => setTimeout(resolve, 3000));
export const application = (environ: Record<string, unknown>, start_response: (s: string, h: [string, string][]) => void) => {
  if (environ.PATH_INFO === "/spin") while (true) { /* a CPU-bound loop */ }
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode("ok")];
};
`,
  }, ["--timeout", "1", "--workers", "2"]);
  try {
    const port = Number(new URL(dev.url).port);
    await dev.write("slow", "");
    await sleep(RECORDS_OUT_MS);
    const spin = await rawRequest(
      port,
      "GET /spin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    equal(spin.status, 504);
    // The next generation takes 3 s to load: meanwhile the sibling answers every new connection.
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) {
      statuses.push(
        (await rawRequest(port, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).status,
      );
    }
    deepEqual(statuses, Array(8).fill(200), `${statuses}\n${dev.output()}`);
  } finally {
    await dev.cleanup();
  }
});

Deno.test("CLI --timeout 1 without the FFI permission: a CPU spin is cut as before, recorded as timed out, and the log says why once", async () => {
  const dev = await startDev(
    {
      "app.ts":
        `export const application = (environ: Record<string, unknown>, start_response: (s: string, h: [string, string][]) => void) => {
  if (environ.PATH_INFO === "/spin") while (true) { /* a CPU-bound loop */ }
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode("ok")];
};
`,
    },
    ["--timeout", "1"],
    "app.ts",
    ["--deny-ffi"],
  );
  try {
    for (let i = 0; i < 2; i++) {
      const port = Number(new URL(dev.url).port);
      const cut = await rawRequest(
        port,
        "GET /spin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
      )
        .then((r) => `answered ${r.status}`, (error: Error) => error.name);
      ok(cut === "answered NaN" || cut === "ConnectionReset", `cut (got ${cut})`);
      await dev.waitFor(new RegExp(`(restarted \\(after a timeout\\)[^]*){${i + 1}}`));
      equal((await get(dev.url)).text, "ok");
    }
    const said = dev.output().match(
      /Cannot answer the clients of a stuck app process: .*needs the FFI permission \(--allow-ffi\); their connections are cut\n/g,
    );
    equal(said?.length, 1, dev.output());
    const x = (await json<ExchangeList>(`${dev.inspector}/api/exchanges?q=spin`)).exchanges[0]!;
    const detail = await json<ExchangeDetail>(`${dev.inspector}/api/exchanges/${x.id}`);
    ok(
      detail.events.some((e) =>
        e.type === "abort" && /timed out.*the connection was cut/.test(String(e.data.reason))
      ),
      JSON.stringify(detail.events.map((e) => e.type)),
    );
  } finally {
    await dev.cleanup();
  }
});

Deno.test("CLI --workers 2: two app processes share the port, wsgi.multiprocess is true, one inspector records all", async () => {
  const dev = await startDev({
    "app.ts":
      `export const application = (environ: Record<string, unknown>, start_response: (s: string, h: [string, string][]) => void) => {
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode(Deno.pid + " " + environ["wsgi.multiprocess"])];
};
`,
  }, ["--workers", "2"]);
  try {
    const port = Number(new URL(dev.url).port);
    const seen = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(
        new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
      );
      const text = await new Response(conn.readable).text();
      const [pid, multiprocess] = text.split("\r\n\r\n")[1]!.split(" ");
      equal(multiprocess, "true");
      seen.add(pid!);
    }
    equal(seen.size, 2, `both workers served (${[...seen]})`);
    await eventually(
      async () => (await json<ExchangeList>(`${dev.inspector}/api/exchanges`)).total === 40,
      "all 40 exchanges recorded",
    );
    // A save reloads both workers: none of the old processes answers any more.
    await dev.write(
      "app.ts",
      (await Deno.readTextFile(`${dev.dir}/app.ts`)).replace('" "', '" v2 "'),
    );
    await dev.waitFor(/reloaded \(app\.ts changed\)/);
    const after = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(
        new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
      );
      const text = await new Response(conn.readable).text();
      const [pid, v2] = text.split("\r\n\r\n")[1]!.split(" ");
      equal(v2, "v2");
      ok(!seen.has(pid!), `served by a new worker, not ${pid}`);
      after.add(pid!);
    }
    equal(after.size, 2, "both new workers serve");
  } finally {
    await dev.cleanup();
  }
});

Deno.test("CLI: the app process sees the real peer address and the bound port", async () => {
  const dev = await startDev({
    "app.ts":
      `export const application = (environ: Record<string, unknown>, start_response: (s: string, h: [string, string][]) => void) => {
  start_response("200 OK", [["Content-Type", "application/json"]]);
  return [new TextEncoder().encode(JSON.stringify([environ.REMOTE_ADDR, environ.REMOTE_PORT, environ.SERVER_PORT]))];
};
`,
  });
  try {
    const port = Number(new URL(dev.url).port);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const local = conn.localAddr as Deno.NetAddr;
    await conn.write(
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: elsewhere:1\r\nConnection: close\r\n\r\n"),
    );
    const text = await new Response(conn.readable).text();
    deepEqual(JSON.parse(text.split("\r\n\r\n")[1]!), [
      "127.0.0.1",
      String(local.port),
      String(port),
    ]);
  } finally {
    await dev.cleanup();
  }
});

Deno.test("CLI: a runtime error is a debug page with the app's frames and source, the rest folded, a link to the exchange", async () => {
  const dev = await startDev({
    "app.ts": `function loadUser(id: string): never {
  throw new Error("no user " + id);
}

export const application = (_environ: Record<string, unknown>, _start_response: unknown) => {
  return loadUser("42");
};
`,
  });
  try {
    const html = await get(dev.url, { headers: { accept: "text/html" } });
    equal(html.status, 500);
    match(html.text, /Error: no user 42/);
    match(html.text, /loadUser — app\.ts:2:9/);
    match(html.text, /throw new Error\(&#34;no user &#34; \+ id\);/);
    match(html.text, /frames? of the server and Deno/);
    const link = html.text.match(/href="([^"]+#ref=([\d.]+))"/);
    ok(link, "a link to the exchange in the inspector");
    const plain = await get(dev.url);
    match(plain.text, /Error: no user 42\n/);
    match(plain.text, /at loadUser \(app\.ts:2:9\)\n/);
    match(plain.text, />\s+2 \|\s+throw new Error/);
    const list = await json<ExchangeList>(`${dev.inspector}/api/exchanges`);
    ok(list.exchanges.some((x) => x.ref === link![2]), "the ref names a recorded exchange");
  } finally {
    await dev.cleanup();
  }
});

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  Deno.test(`CLI: ${signal} stops the supervisor and every app process within 2 s, even a spinning one, and leaves no temporary folder`, async () => {
    const dev = await startDev({
      "app.ts":
        `export const application = (environ: Record<string, unknown>, start_response: (s: string, h: [string, string][]) => void) => {
  if (environ.PATH_INFO === "/spin") while (true) { /* busy */ }
  start_response("200 OK", []);
  return [];
};
`,
    }, ["--timeout", "0"]);
    try {
      equal((await get(dev.url)).status, 200);
      fetch(`${dev.url}/spin`).then((r) => r.body?.cancel(), () => {});
      await sleep(300);
      ok(dev.appPids().length > 0);
      const folder = supervisorDir(dev.appPids());
      ok(folder.startsWith(`${dev.tmp}/wsgi-dev-`), `${folder} is made in the CLI's TMPDIR`);
      const t0 = Date.now();
      dev.process.kill(signal);
      const status = await dev.ended();
      const took = Date.now() - t0;
      ok(took < 2000, `stopped in ${took} ms`);
      equal(status.code, 0);
      await eventually(() => dev.appPids().length === 0, "every app process to be gone", 500);
      match(dev.output(), /Shut down\./);
      ok(!exists(folder), `${folder} was removed by the CLI`);
      deepEqual([...Deno.readDirSync(dev.tmp)].map((e) => e.name), [], "nothing left in TMPDIR");
    } finally {
      await dev.cleanup();
    }
  });
}

Deno.test("CLI reload: a request in flight finishes on the old generation while new ones get the new code", async () => {
  const app = (word: string) =>
    `export const application = async (environ: Record<string, unknown>, start_response: (s: string, h: [string, string][]) => void) => {
  if (environ.PATH_INFO === "/slow") await new Promise((r) => setTimeout(r, 1500));
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode(${JSON.stringify(word)})];
};
`;
  const dev = await startDev({ "app.ts": app("old") });
  try {
    const slow = get(`${dev.url}/slow`);
    await sleep(200);
    await dev.write("app.ts", app("new"));
    await eventually(async () => (await get(dev.url)).text === "new", "the new generation");
    const answer = await slow;
    equal(answer.status, 200);
    equal(answer.text, "old", "finished by the generation that began it");
    // Its last events reach the inspector a few milliseconds after the client has the answer.
    await eventually(async () => {
      const list = await json<ExchangeList>(`${dev.inspector}/api/exchanges?q=slow`);
      return list.exchanges[0]?.state === "complete" && list.exchanges[0].generation === 1;
    }, "the slow exchange recorded complete, on generation 1");
  } finally {
    await dev.cleanup();
  }
});

Deno.test("CLI reload --reload-grace 0.5: a request still running on the old generation after the grace period is cut, and recorded so", async () => {
  const app = (word: string) =>
    `export const application = async (environ: Record<string, unknown>, start_response: (s: string, h: [string, string][]) => void) => {
  if (environ.PATH_INFO === "/stuck") await new Promise((r) => setTimeout(r, 60_000));
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode(${JSON.stringify(word)})];
};
`;
  const dev = await startDev({ "app.ts": app("old") }, ["--reload-grace", "0.5"]);
  const stuckList = async () =>
    (await json<ExchangeList>(`${dev.inspector}/api/exchanges?q=stuck`)).exchanges[0];
  try {
    const stuck = fetch(`${dev.url}/stuck`).then(
      async (r) => `answered ${r.status}: ${await r.text()}`,
      (error: Error) => `cut: ${error.message}`,
    );
    await eventually(async () => (await stuckList())?.state === "pending", "the stuck request");
    await dev.write("app.ts", app("new"));
    await eventually(async () => (await get(dev.url)).text === "new", "the new generation");
    const served = Date.now();
    match(await stuck, /^cut: /);
    const cutAfter = Date.now() - served;
    ok(cutAfter < 4500, `cut ${cutAfter} ms after the new code served (the default grace is 5 s)`);
    await eventually(
      async () => ((await stuckList())?.state ?? "pending") !== "pending",
      "the stuck exchange ended in the record",
    );
    const x = (await stuckList())!;
    equal(x.generation, 1);
    const detail = await json<ExchangeDetail>(`${dev.inspector}/api/exchanges/${x.id}`);
    const abort = detail.events.find((e) => e.type === "abort");
    match(
      String(abort?.data.reason),
      /^cut: the app was reloaded and this exchange was still running 0\.5 s later$/,
      JSON.stringify(detail.events.map((e) => e.type)),
    );
    await dev.waitFor(/reloaded \(app\.ts changed\)/);
  } finally {
    await dev.cleanup();
  }
});

Deno.test("CLI: an app process that exits (Deno.exit in a request) is replaced within a second", async () => {
  const dev = await startDev({
    "app.ts":
      `export const application = (environ: Record<string, unknown>, start_response: (s: string, h: [string, string][]) => void) => {
  if (environ.PATH_INFO === "/exit") Deno.exit(7);
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode("alive " + Deno.pid)];
};
`,
  });
  try {
    const before = (await get(dev.url)).text;
    // Frames leave an app process at once only 1 ms after the last write (see server/dev/child.ts).
    await sleep(20);
    const cut = await fetch(`${dev.url}/exit`).then(
      (r) => r.text(),
      (e: Error) => `cut: ${e.message}`,
    );
    match(cut, /^cut: /);
    const t0 = Date.now();
    const after = await get(dev.url, {}, 5000);
    ok(Date.now() - t0 < 1500, `served again after ${Date.now() - t0} ms`);
    match(after.text, /^alive /);
    ok(after.text !== before, "by a new app process");
    await dev.waitFor(/The app process \(pid \d+\) exited with code 7; restarting it/);
    const server = await json<ServerState>(`${dev.inspector}/api/server`);
    ok(server.events.some((e) => e.type === "fault" && e.fault.kind === "exit"));
    const list = await json<ExchangeList>(`${dev.inspector}/api/exchanges?q=exit`);
    equal(list.exchanges[0]!.state !== "pending", true, "the cut exchange is ended in the record");
  } finally {
    await dev.cleanup();
  }
});
