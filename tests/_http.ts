/**
 * A raw HTTP/1.1 client for tests that need to see what the server does with
 * the connection: one response at a time, by its framing (Content-Length or
 * chunks), so that a response can be read while the connection stays open
 * (keep-alive, or a server still waiting for a body it refused).
 *
 * @module
 */

import { ok } from "node:assert/strict";

const KiB = 1024;
const decoder = new TextDecoder();

/** What the client saw of one response. */
export interface Seen {
  status: number;
  /** Whether the server kept the connection open (no `connection: close`). */
  keepAlive: boolean;
  /** `performance.now()` when the client held the whole response (for `close`, the end of the connection). */
  end: number;
  body: string;
  /** The status line and headers, lowercased. */
  head: string;
}

/** Rejects after `ms` with a message, so that a held connection fails the test instead of hanging it. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms: ${what}`)), ms);
    }),
  ]);
}

/**
 * Reads one response from `conn`: the head, then the body by its
 * Content-Length or its chunks, then (when the server says `connection: close`) up to the
 * end of the connection (unless `waitForClose` is false). Bytes after the
 * response stay in `rest`; pass the
 * same `rest` to read the next response on the connection.
 */
export async function readResponse(
  conn: Deno.Conn,
  rest: { bytes: Uint8Array },
  waitForClose = true,
): Promise<Seen> {
  let buffer = rest.bytes;
  const chunk = new Uint8Array(64 * KiB);
  const more = async (): Promise<boolean> => {
    const n = await conn.read(chunk);
    if (n === null) return false;
    const next = new Uint8Array(buffer.length + n);
    next.set(buffer);
    next.set(chunk.subarray(0, n), buffer.length);
    buffer = next;
    return true;
  };
  let headEnd = -1;
  while ((headEnd = decoder.decode(buffer).indexOf("\r\n\r\n")) === -1) {
    if (!await more()) throw new Error("The connection closed before a response head");
  }
  const head = decoder.decode(buffer.subarray(0, headEnd)).toLowerCase();
  const status = Number(head.split(" ")[1]);
  const keepAlive = !/\r\nconnection: *close/.test(head);
  let at = headEnd + 4;
  let body = "";
  if (/\r\ntransfer-encoding: *chunked/.test(head)) {
    // Chunk by chunk, up to the last (empty) chunk and the blank line after it.
    for (;;) {
      let lineEnd: number;
      while ((lineEnd = decoder.decode(buffer.subarray(at)).indexOf("\r\n")) === -1) {
        if (!await more()) throw new Error("The connection closed inside a chunked body");
      }
      const size = parseInt(decoder.decode(buffer.subarray(at, at + lineEnd)), 16);
      const need = at + lineEnd + 2 + size + 2;
      while (buffer.length < need) {
        if (!await more()) throw new Error("The connection closed inside a chunk");
      }
      body += decoder.decode(buffer.subarray(at + lineEnd + 2, at + lineEnd + 2 + size));
      at = need;
      if (size === 0) break;
    }
  } else {
    const length = Number(head.match(/\r\ncontent-length: *(\d+)/)?.[1] ?? NaN);
    ok(Number.isInteger(length), `a Content-Length or chunks in:\n${head}`);
    while (buffer.length < at + length) {
      if (!await more()) throw new Error("The connection closed inside the response body");
    }
    body = decoder.decode(buffer.subarray(at, at + length));
    at += length;
  }
  let end = performance.now();
  rest.bytes = buffer.subarray(at);
  if (!keepAlive && waitForClose) {
    // The end of a "connection: close" response is the end of the connection.
    try {
      while (await more());
    } catch {
      // A reset after the response is an end too.
    }
    end = performance.now();
  }
  return { status, keepAlive, end, body, head };
}

/** Latin-1 bytes of a string (each char one byte), for raw requests. */
export const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

/**
 * Sends `request` (latin-1) on a new connection and reads one response by its
 * framing, without waiting for the connection to close. Closes it after.
 */
export async function exchange(port: number, request: string, timeout = 10_000): Promise<Seen> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(latin1(request));
    const rest = { bytes: new Uint8Array(0) };
    return await within(readResponse(conn, rest, false), timeout, "a response");
  } finally {
    conn.close();
  }
}
