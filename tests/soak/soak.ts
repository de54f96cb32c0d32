/**
 * The soak: `deno task soak [--minutes N | --seconds N]` (3 minutes by
 * default; not part of the tests or CI).
 *
 * Starts the CLI as users run it (`deno run -A mod.ts tests/soak/app.ts`,
 * inspector on, request log on) in a child process, then drives it from this
 * process with mixed load for the given time: normal requests, erroring ones,
 * streams, clients that leave mid-stream (some while the body is stuck in an
 * await), uploads read in full, in part or not at all, a few slow senders
 * (some cut halfway), and malformed requests. At the end it waits for the
 * stuck bodies to settle and prints:
 *
 * - requests sent, by kind, and answers that were not the expected ones;
 * - crashes: the server's exit, `Uncaught` errors in its output;
 * - `close()` calls missing or doubled, counted by the app (`/stats`);
 * - the server's resident memory (RSS) at the start, its peak, and the end.
 *
 * Exit code 0 when nothing unexpected happened, 1 otherwise.
 *
 * @module
 */

import { parseArgs } from "node:util";

const ROOT = new URL("../../", import.meta.url).pathname;
const { values } = parseArgs({
  args: Deno.args,
  options: { minutes: { type: "string" }, seconds: { type: "string" } },
});
const seconds = values.seconds !== undefined
  ? Number(values.seconds)
  : Number(values.minutes ?? 3) * 60;

const encoder = new TextEncoder();
const latin1 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const MiB = 1024 * 1024;

// The server.
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", "mod.ts", "tests/soak/app.ts", "--port", "0", "--inspector-port", "0"],
  cwd: ROOT,
  stdin: "null",
  stdout: "piped",
  stderr: "piped",
  env: { NO_COLOR: "1" },
}).spawn();
let exited: Deno.CommandStatus | undefined;
const started = Date.now();
let exitedAfter = 0;
child.status.then((status) => {
  exited = status;
  exitedAfter = (Date.now() - started) / 1000;
});
let output = "";
let logLines = 0;
let uncaught = 0;
let errorLines = 0;
/** Keeps the last 64 KiB of the server's output, and counts what matters in all of it. */
async function watch(stream: ReadableStream<Uint8Array>): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) {
      if (line.includes('" ') && line.includes(" - - [")) logLines++;
      if (line.includes("Uncaught")) uncaught++;
      if (line.startsWith("Error in ")) errorLines++;
    }
    output = (output + lines.join("\n") + "\n").slice(-65536);
  }
}
const watching = Promise.all([watch(child.stdout), watch(child.stderr)]);
const deadline = Date.now() + 20_000;
while (!/Serving HTTP on (\S+)/.test(output)) {
  if (exited || Date.now() > deadline) {
    console.error(`The server did not start:\n${output}`);
    Deno.exit(1);
  }
  await sleep(50);
}
const base = output.match(/Serving HTTP on (\S+)/)![1]!;
const port = Number(new URL(base).port);

/** The server's resident memory, from /proc. */
function rss(): number {
  try {
    const status = Deno.readTextFileSync(`/proc/${child.pid}/status`);
    return Number(status.match(/VmRSS:\s+(\d+) kB/)?.[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}
/** The server's open file descriptors (sockets included), from /proc. */
function fds(): number {
  try {
    return [...Deno.readDirSync(`/proc/${child.pid}/fd`)].length;
  } catch {
    return 0;
  }
}
let fdsPeak = 0;
const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

// The load.
const sent: Record<string, number> = {};
const unexpected: Record<string, number> = {};
const examples: string[] = [];
function count(kind: string, ok: boolean, detail = ""): void {
  sent[kind] = (sent[kind] ?? 0) + 1;
  if (!ok) {
    unexpected[kind] = (unexpected[kind] ?? 0) + 1;
    if (examples.length < 10) examples.push(`${kind}: ${detail}`);
  }
}
let running = true;
const end = Date.now() + seconds * 1000;

async function loop(kind: string, once: () => Promise<[boolean, string?]>): Promise<void> {
  while (running && Date.now() < end && !exited) {
    let result: [boolean, string?];
    try {
      result = await once();
    } catch (error) {
      result = [false, String(error)];
    }
    count(kind, result[0], result[1]);
  }
}

async function get(path: string): Promise<Response> {
  return await fetch(`${base}${path}`);
}

/** Sends raw bytes, reads until the server closes (or `cut` ms pass, then closes); the answer. */
async function raw(bytes: Uint8Array[], gap = 0, cut?: number): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    for (const part of bytes) {
      await conn.write(part);
      if (gap) await sleep(gap);
    }
    let answer = "";
    const buffer = new Uint8Array(16 * 1024);
    const stop = cut === undefined ? undefined : Date.now() + cut;
    for (;;) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const n = await Promise.race([
        conn.read(buffer).catch(() => null),
        new Promise<"late">((resolve) =>
          timer = setTimeout(
            () => resolve("late"),
            stop === undefined ? 10_000 : Math.max(0, stop - Date.now()),
          )
        ),
      ]);
      clearTimeout(timer);
      if (n === null || n === "late") return answer;
      answer += String.fromCharCode(...buffer.subarray(0, n));
    }
  } finally {
    conn.close();
  }
}

/** Opens a stream, reads its first bytes, and leaves. */
async function leave(path: string): Promise<[boolean, string?]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(encoder.encode(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
    const buffer = new Uint8Array(4096);
    const n = await conn.read(buffer);
    const head = n === null ? "" : new TextDecoder().decode(buffer.subarray(0, n));
    return [head.startsWith("HTTP/1.1 200"), head.slice(0, 80)];
  } finally {
    conn.close();
  }
}

const uploadBody = new Uint8Array(MiB).fill(0x61);
const HOSTILE = [
  "GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
  "GET /x%00%1b[2J HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
  "GARBAGE\r\n\r\n",
  "POST /upload?mode=full HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n",
  "GET http://evil.example/hello HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
];

const rssStart = rss();
let rssPeak = rssStart;
const sampler = setInterval(() => {
  rssPeak = Math.max(rssPeak, rss());
  fdsPeak = Math.max(fdsPeak, fds());
}, 2000);
console.log(
  `soak: ${seconds} s of mixed load on ${base} (server pid ${child.pid}), RSS at start ${
    mib(rssStart)
  }`,
);

let n = 0;
await Promise.all([
  ...Array.from({ length: 3 }, () =>
    loop("normal", async () => {
      const r = await get("/hello");
      const body = await r.text();
      return [r.status === 200 && body === "hello", `${r.status} ${body.slice(0, 40)}`];
    })),
  loop("error", async () => {
    const r = await get("/error");
    await r.body?.cancel();
    return [r.status === 500, `${r.status}`];
  }),
  loop("error mid-stream", async () => {
    const r = await get("/late-error");
    try {
      await r.text();
      return [false, "the cut response ended cleanly"];
    } catch {
      return [r.status === 200];
    }
  }),
  loop("stream", async () => {
    const r = await get("/stream?n=10");
    const body = await r.text();
    return [r.status === 200 && body.endsWith("chunk 9\n"), `${r.status} ${body.length}`];
  }),
  loop("disconnect", () => {
    const paths = ["/forever", "/stuck", "/stuck-gen"];
    return leave(paths[n++ % paths.length]!);
  }),
  loop("upload", async () => {
    const modes = ["full", "part", "none"];
    const mode = modes[n % 3]!;
    const size = [1024, 64 * 1024, MiB][n++ % 3]!;
    const r = await fetch(`${base}/upload?mode=${mode}`, {
      method: "POST",
      body: uploadBody.subarray(0, size),
    });
    const body = await r.text();
    const expected = mode === "full" ? size : mode === "part" ? Math.min(1000, size) : 0;
    return [
      r.status === 200 && body === `read ${expected}`,
      `${mode} ${size}: ${r.status} ${body}`,
    ];
  }),
  ...Array.from({ length: 2 }, (_, worker) =>
    loop("slow sender", async () => {
      const request = latin1("GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
      const parts = Array.from({ length: 8 }, (_, i) => request.subarray(i * 8, (i + 1) * 8))
        .filter((p) => p.length > 0);
      if ((n + worker) % 2 === 0) {
        // Cut halfway: send half the head slowly, then leave.
        await raw(parts.slice(0, 3), 50, 0);
        return [true];
      }
      const answer = await raw(parts, 50);
      return [answer.startsWith("HTTP/1.1 200"), answer.slice(0, 40)];
    })),
  loop("hostile", async () => {
    const answer = await raw([latin1(HOSTILE[n++ % HOSTILE.length]!)]);
    const status = Number(answer.slice(9, 12));
    // Refused (4xx), cut (no answer), or served: anything but a 5xx.
    return [answer === "" || (status >= 200 && status < 500), answer.slice(0, 40)];
  }),
]);
running = false;

// Let the stuck bodies settle (1.5 s waits), then read the app's counts.
await sleep(3000);
let stats: { bodies: number; closedOnce: number; doubled: number; open: number; rss: number } | {
  error: string;
};
try {
  stats = await (await get("/stats")).json();
} catch (error) {
  stats = { error: String(error) };
}
const rssEnd = rss();
clearInterval(sampler);
rssPeak = Math.max(rssPeak, rssEnd);

// Read before the server is stopped below: an exit now is a crash.
const crashed = exited;
const total = Object.values(sent).reduce((a, b) => a + b, 0);
const bad = Object.values(unexpected).reduce((a, b) => a + b, 0);
console.log(
  `requests: ${total} (${
    Object.entries(sent).map(([k, v]) => `${k} ${v}`).join(", ")
  }), ${bad} unexpected answers${bad ? ` (${JSON.stringify(unexpected)})` : ""}`,
);
for (const example of examples) console.log(`  e.g. ${example}`);
console.log(
  `crashes: ${crashed ? 1 : 0} (server ${
    crashed ? `exited with code ${crashed.code} after ${exitedAfter} s` : "still running"
  }; "Uncaught" in its output: ${uncaught}); log lines: ${logLines}; "Error in" lines: ${errorLines}`,
);
if (crashed) console.log(`the server's last output:\n${output.slice(-3000)}`);
if ("error" in stats) console.log(`close(): cannot read /stats: ${stats.error}`);
else {
  console.log(
    `close(): ${stats.bodies} bodies with close(), ${stats.closedOnce} closed once, ${stats.open} missing, ${stats.doubled} doubled`,
  );
}
console.log(
  `RSS: start ${mib(rssStart)}, peak ${mib(rssPeak)}, end ${
    mib(rssEnd)
  }; open files: peak ${fdsPeak}, end ${fds()}`,
);

try {
  child.kill("SIGINT");
} catch {
  // already gone
}
const force = setTimeout(() => {
  try {
    child.kill("SIGKILL");
  } catch {
    // already gone
  }
}, 5000);
await child.status;
clearTimeout(force);
await watching;
const failed = bad > 0 || crashed !== undefined || uncaught > 0 || "error" in stats ||
  stats.open !== 0 || stats.doubled !== 0;
Deno.exit(failed ? 1 : 0);
