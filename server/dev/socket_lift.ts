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
 * A connection is found as `ss` finds it: the process's own
 * `/proc/<pid>/net/tcp` and `tcp6` (its network namespace) give each
 * socket's addresses, state, unread bytes and inode, and the links of
 * `/proc/<pid>/fd/` tell which descriptor holds which inode. Addresses are
 * compared as 16 bytes (an IPv4 address as `::ffff:a.b.c.d`), ports as
 * numbers.
 *
 * Nothing here blocks: sockets are written and read with `MSG_DONTWAIT`,
 * and a lifted socket is closed a moment after its answer (what its client
 * still sends is read first, so that the close does not reset the answer
 * away). Every descriptor opened is closed. Anything that fails says why
 * (a {@linkcode LiftFailure}), never throws.
 *
 * @module
 */

/** Why a socket could not be lifted, for the log. */
export interface LiftFailure {
  reason: string;
}

/** An address and port, as the gateway records a peer (`REMOTE_ADDR`, `REMOTE_PORT`). */
export interface Peer {
  hostname: string;
  port: number;
}

/** One TCP socket of a process, as `/proc/<pid>/net/tcp*` and `/proc/<pid>/fd` tell it. */
export interface ProcSocket {
  /** Its local address, 16 bytes (IPv4 mapped). */
  localAddress: Uint8Array;
  localPort: number;
  /** Its peer's address, 16 bytes (IPv4 mapped). */
  remoteAddress: Uint8Array;
  remotePort: number;
  /** The TCP state (`0x01` established, `0x0A` listening, ...). */
  state: number;
  /** Bytes received that the process has not read. */
  unread: number;
  inode: number;
  /** The descriptor that holds it in the process. */
  fd: number;
}

/** TCP states of `/proc/net/tcp` (`include/net/tcp_states.h`). */
export const TCP_ESTABLISHED = 0x01;
export const TCP_LISTEN = 0x0a;

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
  if (libc !== undefined) return libc;
  if (Deno.build.os !== "linux") {
    return libc = {
      reason: `taking a socket from another process needs Linux (this is ${Deno.build.os})`,
    };
  }
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return libc = {
      reason: "taking a socket from another process needs the FFI permission (--allow-ffi)",
    };
  }
  try {
    libc = Deno.dlopen("libc.so.6", SYMBOLS).symbols;
  } catch (error) {
    libc = {
      reason: `cannot load the C library: ${error instanceof Error ? error.message : error}`,
    };
  }
  return libc;
}

function errno(c: Libc): string {
  const p = c.__errno_location();
  const n = p === null ? 0 : new Deno.UnsafePointerView(p).getInt32();
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

/** The 16 bytes of an IP address (IPv4 as `::ffff:a.b.c.d`), or `undefined` when it is none. */
export function addressBytes(address: string): Uint8Array | undefined {
  const host = address.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  const v4 = (s: string): number[] | undefined => {
    const parts = s.split(".");
    if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) < 256)) {
      return undefined;
    }
    return parts.map(Number);
  };
  const four = v4(host);
  if (four) return Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...four]);
  if (!host.includes(":")) return undefined;
  let tail: number[] = [];
  let text = host;
  const last = host.lastIndexOf(":");
  if (host.slice(last + 1).includes(".")) {
    const t = v4(host.slice(last + 1));
    if (!t) return undefined;
    tail = t;
    text = host.slice(0, last + 1) + "0:0";
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const words = (s: string) => s === "" ? [] : s.split(":");
  const head = words(halves[0]!);
  const rest = halves.length === 2 ? words(halves[1]!) : [];
  const fill = 8 - head.length - rest.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const all = [...head, ...Array(halves.length === 2 ? fill : 0).fill("0"), ...rest];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-f]{1,4}$/i.test(all[i]!)) return undefined;
    const w = parseInt(all[i]!, 16);
    bytes[2 * i] = w >> 8;
    bytes[2 * i + 1] = w & 0xff;
  }
  if (tail.length) bytes.set(tail, 12);
  return bytes;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * An address of `/proc/net/tcp*` (`0100007F:1F90`): the address's 32-bit
 * words as the kernel holds them (in this machine's byte order), in hex,
 * then the port in hex. IPv4 comes back mapped (`::ffff:a.b.c.d`).
 */
export function parseProcAddress(field: string): { address: Uint8Array; port: number } {
  const [hex = "", port = ""] = field.split(":");
  const raw = new Uint8Array(hex.length / 2);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < hex.length / 8; i++) {
    view.setUint32(4 * i, parseInt(hex.slice(8 * i, 8 * i + 8), 16), LITTLE_ENDIAN);
  }
  const address = raw.length === 4
    ? Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...raw])
    : raw;
  return { address, port: parseInt(port, 16) };
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * The TCP sockets process `pid` holds: every line of its namespace's
 * `/proc/<pid>/net/tcp` and `tcp6` whose inode one of its descriptors
 * links to.
 *
 * @throws {Deno.errors.NotFound} when the process is gone
 */
export function processSockets(pid: number): ProcSocket[] {
  const fds = new Map<number, number>();
  for (const entry of Deno.readDirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(Deno.readLinkSync(`/proc/${pid}/fd/${entry.name}`));
      if (m) fds.set(Number(m[1]), Number(entry.name));
    } catch { /* closed meanwhile */ }
  }
  const sockets: ProcSocket[] = [];
  for (const table of ["tcp", "tcp6"]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(`/proc/${pid}/net/${table}`);
    } catch (error) {
      // No IPv6 in this kernel: no tcp6.
      if (table === "tcp6" && error instanceof Deno.errors.NotFound) continue;
      throw error;
    }
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const inode = Number(f[9]);
      const fd = fds.get(inode);
      if (fd === undefined) continue;
      const local = parseProcAddress(f[1]!);
      const remote = parseProcAddress(f[2]!);
      sockets.push({
        localAddress: local.address,
        localPort: local.port,
        remoteAddress: remote.address,
        remotePort: remote.port,
        state: parseInt(f[3]!, 16),
        unread: parseInt(f[4]!.split(":")[1] ?? "0", 16),
        inode,
        fd,
      });
    }
  }
  return sockets;
}

/** The socket of `sockets` on local port `port` connected to `peer`, if any. */
export function findConnection(
  sockets: ProcSocket[],
  port: number,
  peer: Peer,
): ProcSocket | undefined {
  const address = addressBytes(peer.hostname);
  if (!address) return undefined;
  return sockets.find((s) =>
    s.state !== TCP_LISTEN && s.localPort === port && s.remotePort === peer.port &&
    sameBytes(s.remoteAddress, address)
  );
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
