/**
 * Lifting sockets out of a stopped process, to answer its clients.
 *
 * Only the process that holds a socket can write to it; a stopped process
 * (SIGSTOP: a CPU-bound loop the watchdog froze) writes nothing, and its
 * clients would see a cut connection when it is killed. On Linux 5.6 and
 * later, `pidfd_open(2)` and `pidfd_getfd(2)` give another process of the
 * same user (here: its parent, the supervisor) a duplicate of any of its
 * file descriptors; through `Deno.dlopen` (FFI permission) the supervisor
 * takes the client's socket and writes the answer itself.
 *
 * Which descriptor holds a client's connection is read in `/proc`
 * (`./proc_sockets.ts`).
 *
 * Nothing here waits on a client: sockets are written and read with
 * `MSG_DONTWAIT`, a listener is accepted from only when `poll(2)` says a
 * connection is queued, and a lifted socket is closed a moment after its
 * answer (what its client still sends is read first, so that the close
 * does not reset the answer away). Every descriptor opened is closed. Anything that fails says why
 * (a {@linkcode LiftFailure}), never throws.
 *
 * @module
 */

import {
  findConnection,
  LITTLE_ENDIAN,
  type Peer,
  processSockets,
  type ProcSocket,
} from "./proc_sockets.ts";
import { errnoOf, openLibc } from "./libc.ts";

/** Why a socket could not be lifted, for the log. */
export interface LiftFailure {
  reason: string;
}

/** Milliseconds a lifted socket stays open after its answer, read meanwhile. */
const LINGER_MS = 200;
const SYS_PIDFD_OPEN = 434n;
const SYS_PIDFD_GETFD = 438n;
const SHUT_WR = 1;
const SHUT_RD = 0;
const MSG_DONTWAIT = 0x40;
const POLLIN = 0x1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const ERRNO: Record<number, string> = {
  1: "EPERM",
  3: "ESRCH",
  9: "EBADF",
  11: "EAGAIN",
  13: "EACCES",
  22: "EINVAL",
  24: "EMFILE",
  38: "ENOSYS",
};

const SYMBOLS = {
  syscall: { parameters: ["i64", "i64", "i64", "i64"], result: "i64" },
  send: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  accept4: { parameters: ["i32", "pointer", "pointer", "i32"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let libc: Libc | LiftFailure | undefined;

/** The C library, once; or why it cannot be had (not Linux, no FFI permission, no glibc). */
function loadLibc(): Libc | LiftFailure {
  return libc ??= openLibc(SYMBOLS, "taking a socket from another process");
}

function errno(c: Libc): string {
  const n = errnoOf(c);
  return ERRNO[n] ?? `errno ${n}`;
}

/**
 * Why sockets cannot be lifted on this system, or `undefined` when they
 * may be (the system calls themselves may still fail: an old kernel, a
 * process of another user).
 */
export function liftUnsupported(): string | undefined {
  const c = loadLibc();
  return "reason" in c ? c.reason as string : undefined;
}

/**
 * Loads the C library and calls each function once, harmlessly (on
 * descriptor -1): the first call of each costs ~15 ms of compiling, which
 * is better spent before a process is stuck than while its clients wait.
 */
export function warmUp(): void {
  const c = loadLibc();
  if ("reason" in c) return;
  const none = new Uint8Array(1);
  c.syscall(SYS_PIDFD_GETFD, -1n, 0n, 0n);
  c.send(-1, none, 0n, MSG_DONTWAIT);
  c.recv(-1, none, 0n, MSG_DONTWAIT);
  c.accept4(-1, null, null, 0);
  readable(c, -1);
  c.shutdown(-1, SHUT_WR);
  c.close(-1);
  errno(c);
}

/**
 * A stopped process opened for lifting: one pidfd, closed by
 * {@linkcode StoppedProcess.close}.
 */
export class StoppedProcess {
  readonly pid: number;
  readonly #c: Libc;
  #pidfd: number;

  private constructor(pid: number, c: Libc, pidfd: number) {
    this.pid = pid;
    this.#c = c;
    this.#pidfd = pidfd;
  }

  /** Opens process `pid` (it should be stopped), or says why it cannot be. */
  static open(pid: number): StoppedProcess | LiftFailure {
    const c = loadLibc();
    if ("reason" in c) return c as LiftFailure;
    const pidfd = Number(c.syscall(SYS_PIDFD_OPEN, BigInt(pid), 0n, 0n));
    if (pidfd < 0) {
      const e = errno(c);
      return {
        reason: e === "ENOSYS"
          ? "pidfd_open(2) is not available (Linux 5.6 or later is needed)"
          : `pidfd_open(2) of process ${pid} failed with ${e}`,
      };
    }
    return new StoppedProcess(pid, c, pidfd);
  }

  /** Its TCP sockets (see {@linkcode processSockets}), or why they cannot be read. */
  sockets(): ProcSocket[] | LiftFailure {
    try {
      return processSockets(this.pid);
    } catch (error) {
      return { reason: `cannot read the sockets of process ${this.pid}: ${error}` };
    }
  }

  /** A duplicate of its descriptor `fd` in this process, or why not. */
  lift(fd: number): number | LiftFailure {
    if (this.#pidfd < 0) return { reason: "the process was closed" };
    const c = this.#c;
    const ours = Number(c.syscall(SYS_PIDFD_GETFD, BigInt(this.#pidfd), BigInt(fd), 0n));
    if (ours >= 0) return ours;
    const e = errno(c);
    return {
      reason: e === "ENOSYS"
        ? "pidfd_getfd(2) is not available (Linux 5.6 or later is needed)"
        : e === "EPERM"
        ? `pidfd_getfd(2) of process ${this.pid} was refused (EPERM: ptrace is not allowed on it)`
        : `pidfd_getfd(2) of descriptor ${fd} of process ${this.pid} failed with ${e}`,
    };
  }

  /**
   * Lifts `socket` and sends `answer` on it, then shuts it for writing and
   * closes it a moment later: `undefined` when the answer went out whole.
   */
  answer(socket: ProcSocket, answer: Uint8Array): LiftFailure | undefined {
    const fd = this.lift(socket.fd);
    if (typeof fd !== "number") return fd;
    return answerOn(this.#c, fd, answer);
  }

  /**
   * Lifts its listening `socket`, accepts what the kernel queued there for
   * it (without waiting) and sends `answer` on each; returns how many, or
   * why it could not. With `stop`, the listener is then shut (it leaves
   * the port's `SO_REUSEPORT` group: new connections go to the other
   * listeners) and closed.
   */
  drainListener(socket: ProcSocket, answer: Uint8Array, stop: boolean): number | LiftFailure {
    const fd = this.lift(socket.fd);
    if (typeof fd !== "number") return fd;
    const c = this.#c;
    let n = 0;
    try {
      // Accepts only what is queued: poll(2) says so first, whether the listener blocks or not.
      while (readable(c, fd)) {
        const conn = c.accept4(fd, null, null, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (conn < 0) break;
        if (answerOn(c, conn, answer) === undefined) n++;
      }
      if (stop) c.shutdown(fd, SHUT_RD);
    } finally {
      c.close(fd);
    }
    return n;
  }

  /** Closes the pidfd. */
  close(): void {
    if (this.#pidfd < 0) return;
    this.#c.close(this.#pidfd);
    this.#pidfd = -1;
  }
}

/** Whether descriptor `fd` can be read (or accepted from) now, without waiting. */
function readable(c: Libc, fd: number): boolean {
  // struct pollfd { int fd; short events; short revents; }
  const pollfd = new Uint8Array(8);
  const view = new DataView(pollfd.buffer);
  view.setInt32(0, fd, LITTLE_ENDIAN);
  view.setInt16(4, POLLIN, LITTLE_ENDIAN);
  return c.poll(pollfd, 1n, 0) > 0 && (view.getInt16(6, LITTLE_ENDIAN) & POLLIN) !== 0;
}

/** Sends `answer` on our descriptor `fd`, shuts it for writing, and closes it a moment later. */
function answerOn(c: Libc, fd: number, answer: Uint8Array): LiftFailure | undefined {
  const buf = new Uint8Array(answer);
  const sent = Number(c.send(fd, buf, BigInt(buf.length), MSG_DONTWAIT));
  const failure = sent === buf.length ? undefined : {
    reason: sent < 0
      ? `send(2) failed with ${errno(c)}`
      : `send(2) took ${sent} of ${buf.length} bytes`,
  };
  c.shutdown(fd, SHUT_WR);
  // What the client still sends is read before the close, else the close resets the answer away.
  const scratch = new Uint8Array(16 * 1024);
  const drain = () => {
    while (Number(c.recv(fd, scratch, BigInt(scratch.length), MSG_DONTWAIT)) > 0) { /* dropped */ }
  };
  drain();
  setTimeout(() => {
    drain();
    c.close(fd);
  }, LINGER_MS);
  return failure;
}

/**
 * Answers the connection of stopped process `pid` on local port `port`
 * from `peer` with `answer` (whole HTTP response bytes), or says why it
 * could not. One call opens and closes everything it needs.
 *
 * @example
 * ```ts ignore
 * const failure = answerConnection(pid, 8000, { hostname: "127.0.0.1", port: 51234 }, bytes);
 * if (failure) console.error(failure.reason);
 * ```
 */
export function answerConnection(
  pid: number,
  port: number,
  peer: Peer,
  answer: Uint8Array,
): LiftFailure | undefined {
  const p = StoppedProcess.open(pid);
  if ("reason" in p) return p;
  try {
    const sockets = p.sockets();
    if ("reason" in sockets) return sockets;
    const socket = findConnection(sockets, port, peer);
    if (!socket) {
      return {
        reason:
          `process ${pid} holds no connection from ${peer.hostname}:${peer.port} on port ${port}`,
      };
    }
    return p.answer(socket, answer);
  } finally {
    p.close();
  }
}
