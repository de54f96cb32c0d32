/**
 * What the clients of a stuck app process get: the process was stopped
 * (SIGSTOP) by the watchdog (`./watchdog.ts`) and will be killed, so it
 * answers no one; the supervisor answers for it, on sockets it takes from
 * the stopped process (`./socket_lift.ts`: `pidfd_getfd(2)`, Linux 5.6+,
 * FFI permission).
 *
 * - An exchange the app had begun (its records say so, with its client's
 *   address) whose headers had not gone out: `504 Gateway Timeout`, and it
 *   is recorded as timed out, as the gateway records an async hang's 504
 *   (an `error` named `TimeoutError`, then the response). Every such
 *   exchange has run past the timeout by then: the process was frozen for
 *   that long.
 * - One whose headers went out: cut when the process is killed, recorded
 *   so (as before).
 * - A request the app never got to (sent on a kept-alive connection and
 *   unread, or a connection queued on the process's listener that it never
 *   accepted): `503 Service Unavailable` with `retry-after: 1`. The app
 *   did nothing with it, so a retry is safe; it reaches no record (the
 *   gateway never saw it). The listener is emptied again every 50 ms
 *   until the process is killed, and shut just before, so that no client
 *   of the port sees a reset; at once when another app process (a sibling
 *   worker) listens on the port, so that new connections go to it.
 *
 * When a socket cannot be taken (not Linux, no FFI permission, an old
 * kernel, no record of the exchange: `--no-inspector`), its connection is
 * cut when the process is killed, as before, and the reason is logged once.
 * Without records (`--no-inspector`) only the listener's queue is answered:
 * unread bytes on a connection may be the body of the request in flight.
 *
 * @module
 */

import type { AppProcess } from "./app_process.ts";
import type { OpenExchange } from "./contract.ts";
import { findConnection, type ProcSocket, TCP_LISTEN } from "./proc_sockets.ts";
import { type LiftFailure, StoppedProcess } from "./socket_lift.ts";
import type { LogEntry } from "../log.ts";

/** Milliseconds between two emptyings of a stuck process's listener. */
const DRAIN_MS = 50;
/**
 * Milliseconds to wait at most for the process to be stopped before its
 * sockets are taken (a SIGSTOP usually takes microseconds; the wait
 * blocks, so that nothing kills the process before its clients are
 * answered, and it is short: a process that spins touches no socket).
 */
const STOP_WAIT_MS = 5;

const encoder = new TextEncoder();

/** An HTTP/1.1 response that closes the connection: the status line, headers, then body. */
function response(
  statusLine: string,
  headers: [string, string][],
  body: Uint8Array,
  head = false,
): Uint8Array {
  const text = `HTTP/1.1 ${statusLine}\r\n` +
    headers.map(([n, v]) => `${n}: ${v}\r\n`).join("") + "\r\n";
  const bytes = encoder.encode(text);
  if (head) return bytes;
  const all = new Uint8Array(bytes.length + body.length);
  all.set(bytes);
  all.set(body, bytes.length);
  return all;
}

/** The `504` of an exchange that timed out in a stuck process: status line, headers, body. */
export function stuckTimeoutAnswer(seconds: number): {
  statusLine: string;
  headers: [string, string][];
  body: Uint8Array;
} {
  const body = encoder.encode(
    `504 Gateway Timeout\n\nThe application did not answer within ${seconds} s; its process was restarted.\n`,
  );
  return {
    statusLine: "504 Gateway Timeout",
    headers: [
      ["content-type", "text/plain; charset=utf-8"],
      ["content-length", String(body.length)],
      ["connection", "close"],
    ],
    body,
  };
}

const UNAVAILABLE_BODY = encoder.encode(
  "503 Service Unavailable\n\nThe application was restarting and did not see this request; try again.\n",
);
/** The `503` of a request a stuck process never read. */
const UNAVAILABLE = response("503 Service Unavailable", [
  ["content-type", "text/plain; charset=utf-8"],
  ["content-length", String(UNAVAILABLE_BODY.length)],
  ["retry-after", "1"],
  ["connection", "close"],
], UNAVAILABLE_BODY);

/** What {@linkcode answerStuckClients} needs of the supervisor. */
export interface StuckHost {
  /** The app's port. */
  readonly port: number;
  /** Seconds of the timeout. */
  readonly timeout: number;
  /** Prints an error. */
  printError(text: string): void;
  /** Writes a request log line (absent with `--quiet`). */
  log?(entry: LogEntry): void;
  /** Whether another app process listens on the port and answers (a sibling worker). */
  othersListen(p: AppProcess): boolean;
}

/** Reasons already logged: each once. */
const logged = new Set<string>();

function fallback(host: StuckHost, reason: string): void {
  if (logged.has(reason)) return;
  logged.add(reason);
  host.printError(
    `Cannot answer the clients of a stuck app process: ${reason}; their connections are cut\n`,
  );
}

/** Whether process `pid` is stopped (`T` in `/proc/<pid>/stat`). */
function stopped(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) === "T";
  } catch {
    return false;
  }
}

/**
 * Answers the clients of `p`, which was just stopped (SIGSTOP), as the
 * module's doc says, before it returns. Until `p` is killed, requests it
 * never read are answered `503` every {@linkcode DRAIN_MS} ms;
 * `p.beforeKill` does it a last time and shuts its listener.
 */
export function answerStuckClients(p: AppProcess, host: StuckHost): void {
  const t0 = performance.now();
  while (!stopped(p.pid) && performance.now() - t0 < STOP_WAIT_MS) { /* usually microseconds */ }
  if (p.state === "gone") return;
  const stuck = StoppedProcess.open(p.pid);
  if ("reason" in stuck) return fallback(host, stuck.reason);
  const sockets = ownSockets(stuck, host);
  if (!sockets) return stuck.close();
  // Sockets of the exchanges the app began (inodes): answered 504 now, or cut at the kill.
  const taken = new Set<number>();
  if (!p.ingest) fallback(host, "without the inspector, the requests in flight are not known");
  const timedOut: [OpenExchange, ProcSocket][] = [];
  for (const exchange of p.ingest?.openExchanges() ?? []) {
    const socket = exchange.peer && findConnection(sockets, host.port, exchange.peer);
    if (!socket) continue;
    taken.add(socket.inode);
    if (!exchange.headersSent) timedOut.push([exchange, socket]);
  }
  // Without records, unread bytes may be the body of the request in flight: only the listener's.
  const unreadOnes = p.ingest ? sockets : sockets.filter((s) => s.state === TCP_LISTEN);
  // A sibling worker answers: the listener is shut at once (before a 504 makes a client come
  // back), and new connections go to the sibling.
  const shut = host.othersListen(p);
  const lifted = unseen(stuck, unreadOnes, taken, host, shut);
  for (const [exchange, socket] of timedOut) {
    const failure = answerTimeout(stuck, socket, exchange, p, host);
    if (failure) fallback(host, failure.reason);
  }
  if (!lifted) return stuck.close();
  // Meanwhile only the listener (reading the sockets again takes milliseconds: a machine's
  // /proc/net/tcp may be long); a request on a kept-alive connection is answered at the kill.
  const listener = shut ? [] : sockets.filter((s) => s.state === TCP_LISTEN);
  const timer = setInterval(() => {
    if (p.state === "gone" || !unseen(stuck, listener, taken, host, false)) end();
  }, DRAIN_MS);
  const end = () => {
    clearInterval(timer);
    p.beforeKill = undefined;
    stuck.close();
  };
  p.beforeKill = () => {
    const now = ownSockets(stuck, host);
    if (now) {
      unseen(
        stuck,
        p.ingest ? now : now.filter((s) => s.state === TCP_LISTEN),
        taken,
        host,
        true,
      );
    }
    end();
  };
  p.exited.then(end);
}

/** The sockets of the stuck process on the app's port, or `undefined` (logged) when they cannot be read. */
function ownSockets(stuck: StoppedProcess, host: StuckHost): ProcSocket[] | undefined {
  const sockets = stuck.sockets();
  if ("reason" in sockets) return void fallback(host, sockets.reason);
  return sockets.filter((s) => s.localPort === host.port);
}

/**
 * Answers `503` the requests the stuck process never read: unread bytes on
 * a connection no exchange of it holds (`taken`, which grows with those
 * answered), and the connections queued on its listener; with `stop`, the
 * listener is then shut. False when the sockets cannot be taken (logged).
 */
function unseen(
  stuck: StoppedProcess,
  sockets: ProcSocket[],
  taken: Set<number>,
  host: StuckHost,
  stop: boolean,
): boolean {
  for (const socket of sockets) {
    if (socket.state === TCP_LISTEN || taken.has(socket.inode) || socket.unread === 0) continue;
    taken.add(socket.inode);
    const failure = stuck.answer(socket, UNAVAILABLE);
    if (failure) fallback(host, failure.reason);
  }
  const listener = sockets.find((s) => s.state === TCP_LISTEN);
  if (!listener) return true;
  const n = stuck.drainListener(listener, UNAVAILABLE, stop);
  if (typeof n !== "number") {
    fallback(host, n.reason);
    return false;
  }
  return true;
}

/**
 * Answers `exchange` 504 on `socket`, records it so, and logs its request
 * line, as the gateway logs its own 504; or says why it could not.
 */
function answerTimeout(
  stuck: StoppedProcess,
  socket: ProcSocket,
  exchange: OpenExchange,
  p: AppProcess,
  host: StuckHost,
): LiftFailure | undefined {
  const seconds = host.timeout;
  const answer = stuckTimeoutAnswer(seconds);
  const bytes = response(
    answer.statusLine,
    answer.headers,
    answer.body,
    exchange.method === "HEAD",
  );
  const failure = stuck.answer(socket, bytes);
  if (failure) return failure;
  const now = Date.now();
  host.log?.({
    remote: exchange.peer && `${exchange.peer.hostname}:${exchange.peer.port}`,
    method: exchange.method,
    target: exchange.target ?? "-",
    status: 504,
    bytes: exchange.method === "HEAD" ? 0 : answer.body.length,
    duration: now - exchange.startedAt,
    outcome: "end",
    time: now,
  });
  p.ingest?.answerOpen(exchange.id, {
    ...answer,
    error: {
      name: "TimeoutError",
      message:
        `The application did not answer within ${seconds} s (timeout): its process was busy (a CPU-bound loop?) and was restarted`,
    },
  });
  return undefined;
}
