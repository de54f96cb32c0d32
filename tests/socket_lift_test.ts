/**
 * `server/dev/socket_lift.ts` (and `proc_sockets.ts`) against a real child process: a `Deno.serve`
 * that spins in a request, stopped with SIGSTOP, whose client is answered
 * by this process through the lifted socket, over IPv4 and IPv6; a
 * connection it never accepted, answered from its listener; failures that
 * come back as reasons.
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { answerConnection, liftUnsupported, StoppedProcess } from "../server/dev/socket_lift.ts";
import {
  addressBytes,
  parseProcAddress,
  processSockets,
  TCP_LISTEN,
} from "../server/dev/proc_sockets.ts";
import { sleep } from "./_helpers.ts";

const encoder = new TextEncoder();
const ANSWER = encoder.encode(
  "HTTP/1.1 504 Gateway Timeout\r\ncontent-type: text/plain\r\ncontent-length: 6\r\nconnection: close\r\n\r\nlifted",
);

/** A child serving on `hostname`, whose `/spin` never returns; resolves once it listens. */
async function spinner(hostname: string) {
  const code = `
Deno.serve({ hostname: ${
    JSON.stringify(hostname)
  }, port: 0, onListen: ({ port }) => console.log(port) }, (request) => {
  if (new URL(request.url).pathname === "/spin") { console.log("spinning"); while (true) { /* spin */ } }
  return new Response("ok");
});`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(encoder.encode(code));
  await w.close();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  const line = async (): Promise<string> => {
    for (;;) {
      const i = buffered.indexOf("\n");
      if (i >= 0) {
        const l = buffered.slice(0, i);
        buffered = buffered.slice(i + 1);
        return l;
      }
      const { value, done } = await lines.read();
      if (done) throw new Error("the child exited");
      buffered += value;
    }
  };
  const port = Number(await line());
  return {
    child,
    port,
    line,
    /** Connects from `hostname`, sends `/spin`, and stops the child once it spins; the client's connection. */
    async spinStopped(): Promise<Deno.TcpConn> {
      const conn = await Deno.connect({ hostname, port });
      await conn.write(encoder.encode("GET /spin HTTP/1.1\r\nHost: x\r\n\r\n"));
      equal(await line(), "spinning");
      Deno.kill(child.pid, "SIGSTOP");
      return conn;
    },
    async stop() {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await child.status;
      await lines.cancel().catch(() => {});
    },
  };
}

async function readAll(conn: Deno.Conn): Promise<string> {
  return await new Response(conn.readable).text();
}

function ipv6Loopback(): boolean {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
}

Deno.test("socket_lift: addresses of /proc/net/tcp and of peers compare as 16 bytes", () => {
  // 127.0.0.1:8000 as a little-endian machine prints it.
  const v4 = parseProcAddress("0100007F:1F40");
  equal(v4.port, 8000);
  deepEqual(v4.address, addressBytes("127.0.0.1"));
  deepEqual(addressBytes("::ffff:127.0.0.1"), addressBytes("127.0.0.1"));
  // ::1 is four words, each in the machine's order.
  deepEqual(parseProcAddress("00000000000000000000000001000000:0050").address, addressBytes("::1"));
  deepEqual(
    addressBytes("fe80::1:2"),
    Uint8Array.from([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2]),
  );
  equal(addressBytes("not an address"), undefined);
  equal(addressBytes("1::2::3"), undefined);
});

Deno.test("socket_lift: the client of a stopped, spinning Deno.serve child gets the answer (IPv4)", async () => {
  const unsupported = liftUnsupported();
  if (unsupported) throw new Error(`socket_lift cannot run here: ${unsupported}`);
  const s = await spinner("127.0.0.1");
  try {
    const conn = await s.spinStopped();
    const peer = { hostname: "127.0.0.1", port: (conn.localAddr as Deno.NetAddr).port };
    equal(answerConnection(s.child.pid, s.port, peer, ANSWER), undefined);
    Deno.kill(s.child.pid, "SIGKILL");
    const text = await readAll(conn);
    match(text, /^HTTP\/1\.1 504 Gateway Timeout\r\n/);
    ok(text.endsWith("\r\n\r\nlifted"), text);
    await sleep(300); // the lifted socket's linger
  } finally {
    await s.stop();
  }
});

Deno.test("socket_lift: a raw IPv6 (::1) client of a stopped child gets the answer", async (t) => {
  if (!ipv6Loopback()) {
    console.warn("SKIPPED: ::1 is not available on this machine (no IPv6 loopback)");
    t.step({ name: "skipped: no ::1", ignore: true, fn: () => {} });
    return;
  }
  const s = await spinner("::1");
  try {
    const conn = await s.spinStopped();
    const peer = { hostname: "::1", port: (conn.localAddr as Deno.NetAddr).port };
    // A peer of the same port on IPv4 is another connection: none.
    match(
      answerConnection(s.child.pid, s.port, { ...peer, hostname: "127.0.0.1" }, ANSWER)?.reason ??
        "",
      /holds no connection from 127\.0\.0\.1:\d+ on port \d+/,
    );
    equal(answerConnection(s.child.pid, s.port, peer, ANSWER), undefined);
    Deno.kill(s.child.pid, "SIGKILL");
    ok((await readAll(conn)).endsWith("lifted"));
    await sleep(300);
  } finally {
    await s.stop();
  }
});

Deno.test("socket_lift: a connection the stopped child never accepted is answered from its listener, which then stops listening", async () => {
  const s = await spinner("127.0.0.1");
  try {
    const spin = await s.spinStopped();
    // Queued by the kernel on the child's listener: it spins, so it never accepts it.
    const queued = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    await queued.write(encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    await sleep(50);
    const p = StoppedProcess.open(s.child.pid);
    if ("reason" in p) throw new Error(p.reason);
    try {
      const sockets = p.sockets();
      if ("reason" in sockets) throw new Error(sockets.reason);
      const listener = sockets.find((x) => x.state === TCP_LISTEN && x.localPort === s.port);
      ok(listener, JSON.stringify(sockets));
      equal(p.drainListener(listener, ANSWER, true), 1);
    } finally {
      p.close();
    }
    ok((await readAll(queued)).endsWith("lifted"));
    // Shut: the port no longer takes connections (the child still holds the socket, stopped).
    const refused = await Deno.connect({ hostname: "127.0.0.1", port: s.port }).then(
      (c) => (c.close(), "connected"),
      (e: Error) => e.name,
    );
    equal(refused, "ConnectionRefused");
    spin.close();
    await sleep(300);
  } finally {
    await s.stop();
  }
});

Deno.test("socket_lift: failures come back as reasons, never thrown", async () => {
  // A process that is gone.
  const done = new Deno.Command(Deno.execPath(), { args: ["--version"], stdout: "null" }).spawn();
  const { pid } = done;
  await done.status;
  const gone = answerConnection(pid, 80, { hostname: "127.0.0.1", port: 1 }, ANSWER);
  match(
    gone?.reason ?? "",
    /pidfd_open\(2\) of process \d+ failed with ESRCH|cannot read the sockets/,
  );
  // A live process without that connection (this one).
  const none = answerConnection(Deno.pid, 1, { hostname: "127.0.0.1", port: 1 }, ANSWER);
  match(none?.reason ?? "", /holds no connection from 127\.0\.0\.1:1 on port 1/);
  // A peer that is no address.
  match(
    answerConnection(Deno.pid, 1, { hostname: "nowhere", port: 1 }, ANSWER)?.reason ?? "",
    /holds no connection/,
  );
  // A descriptor that is no descriptor.
  const p = StoppedProcess.open(Deno.pid);
  if ("reason" in p) throw new Error(p.reason);
  try {
    match((p.lift(1_000_000) as { reason: string }).reason, /failed with EBADF/);
  } finally {
    p.close();
  }
  ok(processSockets(Deno.pid).every((x) => x.fd >= 0));
});
