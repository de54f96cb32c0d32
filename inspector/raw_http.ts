/**
 * One HTTP/1.1 exchange over a raw TCP connection: write the request's bytes
 * as given, read the response in full. Replay uses it (`./replay.ts`) so
 * that no URL parser and no HTTP client stands between the recorded request
 * and the app: nothing is added, normalised or sent elsewhere.
 *
 * The response is framed as RFC 9112 says: `1xx` interim answers are
 * skipped (`101` is final); a `HEAD` answer, `204` and `304` have no body;
 * otherwise `Transfer-Encoding` (`chunked` last, else to the end),
 * `Content-Length`, or the connection's end. The body is counted and
 * discarded.
 *
 * @example
 * ```ts
 * import { sendRequest } from "./raw_http.ts";
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => new Response("hi"));
 * const answer = await sendRequest(
 *   { hostname: "127.0.0.1", port: server.addr.port },
 *   new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
 *   { method: "GET" },
 * );
 * console.assert(answer.status === 200 && answer.bodySize === 2);
 * await server.shutdown();
 * ```
 *
 * @module
 */

const quote = (value: string) => JSON.stringify(value);
const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

/** The answer, as read off the socket. */
export interface ReplayResponse {
  status: number;
  /** The reason phrase of the status line. */
  reason: string;
  /** Header pairs as received (names in their case). */
  headers: [string, string][];
  /** Body bytes received (after de-chunking). */
  bodySize: number;
}

/** Options of {@linkcode sendRequest}. */
export interface SendOptions {
  /** The request's method: a `HEAD` answer has no body, whatever its headers say. */
  method: string;
  /** Milliseconds for the whole exchange; 30,000 by default. */
  timeoutMs?: number;
}

/** Bytes as latin-1 text, a slice at a time (a spread of 64 KiB would strain the stack). */
function latin1Text(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    text += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return text;
}

/** The most bytes of one response head (status line and headers). */
const MAX_HEAD = 64 * 1024;

/** Reads an HTTP/1.1 response off a connection, buffered. */
class ResponseReader {
  readonly #conn: Deno.Conn;
  #buf = new Uint8Array(0);
  #start = 0;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Reads more bytes into the buffer; false at the end of the stream. */
  async #fill(): Promise<boolean> {
    const chunk = new Uint8Array(64 * 1024);
    const n = await this.#conn.read(chunk);
    if (n === null) return false;
    const rest = this.#buf.subarray(this.#start);
    const next = new Uint8Array(rest.length + n);
    next.set(rest);
    next.set(chunk.subarray(0, n), rest.length);
    this.#buf = next;
    this.#start = 0;
    return true;
  }

  /** Bytes up to `delimiter` (consumed, not returned), as latin-1. */
  async until(delimiter: string, limit: number, what: string): Promise<string> {
    const d = latin1(delimiter);
    let from = this.#start;
    for (;;) {
      const buf = this.#buf;
      for (let i = from; i + d.length <= buf.length; i++) {
        if (d.every((byte, j) => buf[i + j] === byte)) {
          const text = latin1Text(buf.subarray(this.#start, i));
          this.#start = i + d.length;
          return text;
        }
      }
      if (buf.length - this.#start > limit) {
        throw new Error(`the ${what} is longer than ${limit} bytes`);
      }
      from = Math.max(this.#start, buf.length - d.length + 1);
      if (!(await this.#fill())) throw new Error(`the connection ended inside the ${what}`);
    }
  }

  /** Discards `n` bytes; throws when the stream ends first. */
  async skip(n: number): Promise<void> {
    while (n > 0) {
      const have = this.#buf.length - this.#start;
      if (have === 0 && !(await this.#fill())) {
        throw new Error(`the connection ended ${n} bytes before the body's end`);
      }
      const take = Math.min(n, this.#buf.length - this.#start);
      this.#start += take;
      n -= take;
    }
  }

  /** Discards everything to the end of the stream; returns how many bytes. */
  async drain(): Promise<number> {
    let n = this.#buf.length - this.#start;
    this.#start = this.#buf.length;
    const chunk = new Uint8Array(64 * 1024);
    for (;;) {
      const got = await this.#conn.read(chunk);
      if (got === null) return n;
      n += got;
    }
  }
}

/** Reads one response head: status line and header pairs. */
async function readHead(reader: ResponseReader) {
  const head = await reader.until("\r\n\r\n", MAX_HEAD, "response head");
  const [line = "", ...lines] = head.split("\r\n");
  const m = line.match(/^HTTP\/1\.[01] (\d{3})(?: (.*))?$/);
  if (!m) throw new Error(`the status line is not HTTP/1.x (got ${quote(line.slice(0, 100))})`);
  const headers: [string, string][] = [];
  for (const header of lines) {
    const colon = header.indexOf(":");
    if (colon > 0) headers.push([header.slice(0, colon), header.slice(colon + 1).trim()]);
  }
  return { status: Number(m[1]), reason: m[2] ?? "", headers };
}

/** Reads a chunked body to its end (and its trailers); returns the data's size. */
async function readChunked(reader: ResponseReader): Promise<number> {
  let size = 0;
  for (;;) {
    const line = await reader.until("\r\n", 1024, "chunk size line");
    const hex = line.split(";")[0]!.trim();
    if (!/^[0-9a-fA-F]{1,15}$/.test(hex)) {
      throw new Error(`a chunk size is not hexadecimal (got ${quote(line.slice(0, 40))})`);
    }
    const n = parseInt(hex, 16);
    if (n === 0) {
      while ((await reader.until("\r\n", MAX_HEAD, "trailer")) !== "");
      return size;
    }
    await reader.skip(n);
    if ((await reader.until("\r\n", 2, "chunk's end")) !== "") {
      throw new Error("a chunk does not end with CRLF");
    }
    size += n;
  }
}

/**
 * Writes `bytes` to `hostname:port` over a fresh TCP connection and reads
 * the HTTP/1.1 response in full; closes the connection after.
 *
 * @throws {Error} when the connection fails, the response is not HTTP/1.x,
 *   or no complete response comes within the timeout
 */
export async function sendRequest(
  address: { hostname: string; port: number },
  bytes: Uint8Array,
  options: SendOptions,
): Promise<ReplayResponse> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const conn = await Deno.connect({ hostname: address.hostname, port: address.port });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      conn.close();
    } catch {
      // Already closed.
    }
  }, timeoutMs);
  // Read while writing: an app may answer (and close) before the body is all sent.
  let writeError: unknown;
  const writing = (async () => {
    try {
      for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
    } catch (error) {
      writeError = error;
    }
  })();
  try {
    const reader = new ResponseReader(conn);
    let head = await readHead(reader);
    // 1xx answers (100 Continue, 103 Early Hints) come before the real one; 101 is final.
    while (head.status >= 100 && head.status < 200 && head.status !== 101) {
      head = await readHead(reader);
    }
    let bodySize = 0;
    const noBody = options.method.toUpperCase() === "HEAD" || head.status < 200 ||
      head.status === 204 || head.status === 304;
    if (!noBody) {
      const field = (name: string) =>
        head.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v).join(", ");
      const encoding = field("transfer-encoding").toLowerCase();
      const length = field("content-length");
      if (encoding !== "") {
        bodySize = /(^|,)\s*chunked\s*$/.test(encoding)
          ? await readChunked(reader)
          : await reader.drain();
      } else if (length !== "") {
        const n = Number(length.split(",")[0]!.trim());
        if (!Number.isSafeInteger(n) || n < 0) {
          throw new Error(`the response's Content-Length is not a length (got ${quote(length)})`);
        }
        await reader.skip(n);
        bodySize = n;
      } else bodySize = await reader.drain();
    }
    return { ...head, bodySize };
  } catch (error) {
    if (timedOut) throw new Error(`no complete answer within ${timeoutMs} ms`);
    const cause = error instanceof Error ? error.message : String(error);
    throw new Error(
      writeError === undefined
        ? cause
        : `${cause}, after sending failed: ${
          writeError instanceof Error ? writeError.message : String(writeError)
        }`,
    );
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch {
      // Closed by the timeout.
    }
    await writing;
  }
}
