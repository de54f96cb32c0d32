/**
 * Which TCP sockets a process holds, as `ss` finds them: the process's own
 * `/proc/<pid>/net/tcp` and `tcp6` (its network namespace) give each
 * socket's addresses, state, unread bytes and inode, and the links of
 * `/proc/<pid>/fd/` tell which descriptor holds which inode. Addresses are
 * compared as 16 bytes (an IPv4 address as `::ffff:a.b.c.d`), ports as
 * numbers. Linux only.
 *
 * @module
 */

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

/** Whether this machine stores numbers little-endian (as `/proc/net/tcp` prints them). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

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
