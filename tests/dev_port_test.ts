/**
 * The app's port through the real CLI: held by the supervisor from its
 * check of the port until the stop (`server/dev/port_hold.ts`), so that
 * nothing else takes it while the first app process loads, nor while a
 * crashed one is replaced; and never holding a client meanwhile (refused,
 * not left hanging). The app's module waits, at its top level, for the
 * test's go-ahead, so that these moments last as long as the test needs.
 */

import { equal, fail, match, ok } from "node:assert/strict";
import { type DevServer, get, startDev } from "./_dev.ts";
import { sleep } from "./_helpers.ts";
import { takePort } from "../server/dev/port_hold.ts";

/**
 * An app whose module, while `${sync}/wait` exists, writes the app's port
 * into `${sync}/loading-PID` and waits (20 s at most) at its top level.
 * `/exit` ends its process.
 */
function waitingApp(sync: string): string {
  return `const sync = ${JSON.stringify(sync)};
const has = (path: string) => Deno.stat(path).then(() => true, () => false);
if (await has(sync + "/wait")) {
  // The app process's configuration is its last argument (server/dev/child.ts).
  const { port } = JSON.parse(Deno.args[Deno.args.length - 1]!);
  await Deno.writeTextFile(sync + "/loading-" + Deno.pid, String(port));
  const end = Date.now() + 20_000;
  while (await has(sync + "/wait") && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
}
export const application = (environ: Record<string, unknown>, start_response: (s: string, h: [string, string][]) => void) => {
  if (environ.PATH_INFO === "/exit") Deno.exit(7);
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode("served by " + Deno.pid)];
};
`;
}

/** The port an app process waiting at its top level wrote, once one does. */
async function loadingPort(sync: string): Promise<number> {
  const end = Date.now() + 20_000;
  for (;;) {
    for (const entry of Deno.readDirSync(sync)) {
      const pid = Number(entry.name.match(/^loading-(\d+)$/)?.[1]);
      if (!pid) continue;
      const text = Deno.readTextFileSync(`${sync}/${entry.name}`);
      if (text) return Number(text);
    }
    if (Date.now() > end) throw new Error("Timed out waiting for an app process to load");
    await sleep(20);
  }
}

/** Whether binding `hostname:port` without `SO_REUSEPORT` fails with AddrInUse (else it lets it go). */
function plainBindFails(hostname: string, port: number): boolean {
  try {
    Deno.listen({ hostname, port }).close();
    return false;
  } catch (error) {
    if (error instanceof Deno.errors.AddrInUse) return true;
    throw error;
  }
}

/**
 * While no app process listens: binding the port without `SO_REUSEPORT`
 * fails (the supervisor holds it), and a client is refused at once.
 */
async function assertHeldNotListening(hostname: string, port: number): Promise<void> {
  ok(
    plainBindFails(hostname, port),
    `bound ${hostname}:${port} while the app process loaded: the supervisor did not hold it`,
  );
  let conn: Deno.Conn | undefined;
  try {
    conn = await Deno.connect({ hostname, port });
  } catch (error) {
    ok(error instanceof Deno.errors.ConnectionRefused, `ConnectionRefused, got ${error}`);
  }
  if (conn) {
    conn.close();
    fail(`Connected to ${port} before any app process listened: a connection nothing answers`);
  }
}

/** A GET of `/` on a fresh connection that the server closes after answering: its status line. */
async function statusLine(hostname: string, port: number): Promise<string> {
  const conn = await Deno.connect({ hostname, port });
  await conn.write(
    new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
  );
  const text = await new Response(conn.readable).text();
  return text.slice(0, text.indexOf("\r\n"));
}

/** `count` requests on fresh connections, each answered 200 within 5 s (none left hanging). */
async function allAnswered(hostname: string, port: number, count: number): Promise<void> {
  const answers = Array.from({ length: count }, async () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("a connection was not answered in 5 s")), 5000);
    });
    try {
      equal(await Promise.race([statusLine(hostname, port), late]), "HTTP/1.1 200 OK");
    } finally {
      clearTimeout(timer);
    }
  });
  await Promise.all(answers);
}

for (const hostname of ["127.0.0.1", "::1"]) {
  Deno.test(`CLI --host ${hostname}: the port is held from the supervisor's check until the first app process listens (a plain bind fails, a client is refused), then it serves and the stop lets it go`, async () => {
    const sync = await Deno.makeTempDir({ prefix: "wsgi-devtest-sync-" });
    await Deno.writeTextFile(`${sync}/wait`, "");
    const starting = startDev({ "app.ts": waitingApp(sync) }, ["--host", hostname]);
    let dev: DevServer | undefined;
    try {
      const port = await loadingPort(sync);
      await assertHeldNotListening(hostname, port);
      await Deno.remove(`${sync}/wait`);
      dev = await starting;
      equal(new URL(dev.url).port, String(port));
      await allAnswered(hostname, port, 20);
      dev.process.kill("SIGTERM");
      equal((await dev.ended()).code, 0, dev.output());
      ok(!plainBindFails(hostname, port), "let go at the stop");
    } finally {
      await Deno.remove(`${sync}/wait`).catch(() => {});
      await (dev ?? await starting.catch(() => undefined))?.cleanup();
      await Deno.remove(sync, { recursive: true });
    }
  });
}

Deno.test("CLI: while a crashed app process is replaced, the port stays held; the new one serves", async () => {
  const sync = await Deno.makeTempDir({ prefix: "wsgi-devtest-sync-" });
  const dev = await startDev({ "app.ts": waitingApp(sync) });
  try {
    const port = Number(new URL(dev.url).port);
    const first = (await get(dev.url)).text;
    // Frames leave an app process at once only 1 ms after the last write (see server/dev/child.ts).
    await sleep(20);
    await Deno.writeTextFile(`${sync}/wait`, "");
    await fetch(`${dev.url}/exit`).then((r) => r.body?.cancel(), () => {});
    equal(await loadingPort(sync), port);
    await assertHeldNotListening("127.0.0.1", port);
    await Deno.remove(`${sync}/wait`);
    const after = await get(dev.url);
    match(after.text, /^served by \d+$/);
    ok(after.text !== first, "by a new app process");
    await allAnswered("127.0.0.1", port, 20);
  } finally {
    await Deno.remove(`${sync}/wait`).catch(() => {});
    await dev.cleanup();
    await Deno.remove(sync, { recursive: true });
  }
});

for (const hostname of ["127.0.0.1", "::1"]) {
  Deno.test(`takePort() on ${hostname}: holds the port against plain binds, with no listener; refuses a port in use; close() lets it go`, async () => {
    const { port, hold } = takePort(hostname, 0);
    ok(hold, "held (Linux, FFI permission)");
    try {
      ok(plainBindFails(hostname, port), "a bind without SO_REUSEPORT fails");
      // Nothing listens: refused, not queued.
      await Deno.connect({ hostname, port }).then(
        (conn) => {
          conn.close();
          fail("connected to a held port that nothing listens on");
        },
        (error) => ok(error instanceof Deno.errors.ConnectionRefused, String(error)),
      );
      let error: unknown;
      try {
        takePort(hostname, port);
      } catch (e) {
        error = e;
      }
      ok(error instanceof Deno.errors.AddrInUse, `a second takePort() fails: ${error}`);
    } finally {
      hold?.close();
      hold?.close();
    }
    ok(!plainBindFails(hostname, port), "free after close()");
  });
}
