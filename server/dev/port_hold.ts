/**
 * Holding the app's port for its app processes, without listening on it.
 *
 * The supervisor checks that the port is free (and picks one for
 * `--port 0`) with a listener that it closes at once; its app processes
 * bind the port hundreds of milliseconds later. In between, anything could
 * take the port. A TCP socket that is bound with `SO_REUSEPORT` but never
 * listens closes that gap: on Linux, a later `bind(2)` to the port fails
 * with `EADDRINUSE` unless it also sets `SO_REUSEPORT` and runs as the same
 * user (as the app processes do), and the kernel hands connections only to
 * listening sockets, so this one never holds a client: before an app
 * process listens, a client is refused, as with nothing bound. Without
 * `SO_REUSEADDR`, so that a socket that sets it cannot share the port with
 * this one either (Linux lets two `SO_REUSEADDR` sockets share a port that
 * neither listens on).
 *
 * `Deno.listen` can bind but only by listening (and takes `reusePort` only
 * with `--unstable-net`), so the socket is made through `Deno.dlopen` (the
 * FFI permission), as `./socket_lift.ts` does. Where that cannot be had
 * (not Linux, no FFI permission), nothing is held and the gap stays.
 *
 * @module
 */

import { addressBytes, LITTLE_ENDIAN } from "./proc_sockets.ts";
import { errnoOf, type NoLibc, openLibc } from "./libc.ts";

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_REUSEPORT = 15;
const EADDRINUSE = 98;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];
let libc: Libc | NoLibc | undefined;

/** The C library, once; or why it cannot be had. */
function loadLibc(): Libc | NoLibc {
  return libc ??= openLibc(SYMBOLS, "holding the app's port");
}

/** A `sockaddr_in` or `sockaddr_in6` for `address` (an IP, as `Deno.NetAddr` has it) and `port`. */
function sockaddr(address: string, port: number): Uint8Array | undefined {
  const bytes = addressBytes(address);
  if (!bytes || address.includes("%")) return undefined;
  const six = address.includes(":");
  const out = new Uint8Array(six ? 28 : 16);
  const view = new DataView(out.buffer);
  view.setUint16(0, six ? AF_INET6 : AF_INET, LITTLE_ENDIAN);
  view.setUint16(2, port, false);
  if (six) out.set(bytes, 8);
  else out.set(bytes.subarray(12), 4);
  return out;
}

/**
 * The app's port, held by a bound socket that never listens, until
 * {@linkcode PortHold.close}.
 */
export class PortHold {
  readonly #c: Libc;
  #fd: number;

  private constructor(c: Libc, fd: number) {
    this.#c = c;
    this.#fd = fd;
  }

  /**
   * Binds `address:port` with `SO_REUSEPORT`, without listening.
   *
   * @param address an IP address (a bound listener's `addr.hostname`)
   * @returns the hold, or why nothing could be held
   * @throws {Deno.errors.AddrInUse} when something holds the port
   */
  static take(address: string, port: number): PortHold | { reason: string } {
    const c = loadLibc();
    if ("reason" in c) return c;
    const addr = sockaddr(address, port);
    if (!addr) return { reason: `cannot hold address ${JSON.stringify(address)}` };
    const fd = c.socket(address.includes(":") ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return { reason: `socket() failed (errno ${errnoOf(c)})` };
    const one = new Uint8Array(new Int32Array([1]).buffer);
    if (
      c.setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, one, one.length) !== 0 ||
      c.bind(fd, addr, addr.length) !== 0
    ) {
      const n = errnoOf(c);
      c.close(fd);
      if (n === EADDRINUSE) throw new Deno.errors.AddrInUse(`Address in use: ${address}:${port}`);
      return { reason: `binding ${address}:${port} failed (errno ${n})` };
    }
    return new PortHold(c, fd);
  }

  /** Lets the port go (idempotent). */
  close(): void {
    if (this.#fd < 0) return;
    this.#c.close(this.#fd);
    this.#fd = -1;
  }
}

/**
 * Checks that the app's port is free and holds it for the app processes:
 * binds it once without `SO_REUSEPORT` (so that a port anything holds, even
 * another dev server sharing it through `SO_REUSEPORT`, fails here instead
 * of being silently shared; port 0 picks a free port), lets that go, and
 * takes a {@linkcode PortHold} at once. With port 0 a pick taken by
 * something else in that moment is picked again.
 *
 * @returns the port, and its hold (none where it cannot be had: see the module's doc)
 * @throws {Deno.errors.AddrInUse} when the port is in use (or what else `Deno.listen` throws)
 */
export function takePort(
  hostname: string,
  port: number,
): { port: number; hold: PortHold | undefined } {
  // Loaded first (~15 ms): not between the check and the hold.
  loadLibc();
  for (let attempt = 1;; attempt++) {
    const listener = Deno.listen({ hostname, port });
    const addr = listener.addr as Deno.NetAddr;
    listener.close();
    try {
      const hold = PortHold.take(addr.hostname, addr.port);
      return { port: addr.port, hold: hold instanceof PortHold ? hold : undefined };
    } catch (error) {
      if (port !== 0 || attempt === 3) throw error;
    }
  }
}
