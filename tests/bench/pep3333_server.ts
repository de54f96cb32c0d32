/**
 * The *gateway ceiling* of the throughput benchmark (contender `pep3333`):
 * the least a PEP 3333 gateway on `Deno.serve` must do to serve
 * `examples/hello.ts`, and nothing else. Where `app` (`app_server.ts`) calls
 * the application with an empty environ and drops its answer, this one gives
 * it what the spec says it gets and sends what it returns:
 *
 * - an environ with the keys PEP 3333 requires and no other: the CGI ones
 *   (`REQUEST_METHOD`, `SCRIPT_NAME`, `PATH_INFO` percent-decoded,
 *   `QUERY_STRING`, `CONTENT_TYPE` and `CONTENT_LENGTH` when sent,
 *   `SERVER_NAME`, `SERVER_PORT`, `SERVER_PROTOCOL`), `REMOTE_ADDR` (the
 *   floor's reads include the peer), an `HTTP_*` key per header, and the
 *   seven `wsgi.*` ones;
 * - a `wsgi.input` per request that has a body (one shared empty one for a GET
 *   or HEAD, whose body `Deno.serve` drops), one shared `wsgi.errors`;
 * - a `start_response` that keeps the status and the header list (no checks:
 *   the spec says a server *should* check them), and one shared `write`;
 * - the returned chunks joined, `close()` called when the body has one;
 * - a `Response` with the application's status, headers and bytes, handed over
 *   the cheapest way `Deno.serve` takes them (a text body as a string, as
 *   the gateway's `bodyInit` does; headers as a record).
 *
 * No request log, no clock, no error page, no limits, no timeouts, no
 * recording seam: every one of those is a choice of this project, not of the
 * spec. So no PEP 3333 gateway serving this application can beat it, and
 * `pep3333/app` bounds `gateway/app` as `app` bounds the gateway.
 *
 * With `--log` (contender `pep3333log`), it also writes the request log line
 * as the gateway does, through the gateway's own writer (`BufferedSink` of
 * `server/log.ts`, the same fields, two clock readings for the duration):
 * the ceiling of a PEP 3333 gateway that logs every request as this one
 * (and wsgiref's server) does.
 *
 * With `--record` (contender `pep3333rec`, with `--log`), it also records
 * each exchange inline, with no seam between gateway and recorder: what the
 * design asks an inspector to keep (`minimal` in `ceiling_recorders.ts`),
 * written where the gateway has it into one preallocated 1 MiB ring that
 * wraps without bookkeeping. Eight events, each a type byte and an `f64`
 * time (three clock readings: the arrival, after `start_response`, after the
 * body came back; the log shares the first and the last); the request's
 * method, target, peer and headers (written in the same pass that builds the
 * environ), the environ as its derivation (the URL and a flags byte), the
 * status line and headers, the body's bytes; `headers_sent` as its type
 * and time alone (it sent the list `start_response` got). Strings are written a char a byte
 * (ASCII, as the benchmark sends). No frame headers, index, eviction, caps
 * or live stream: no recorder that keeps what the design asks can cost
 * less, so `pep3333rec` against `pep3333log` bounds `inspector/gateway` from
 * above, with no seam of this project's in the way.
 *
 * Correct for the benchmark's requests (GET, ASCII targets, bodies that are
 * valid UTF-8 text), not a server to use: it answers anything else as best
 * it can and never says why.
 *
 * Run by `throughput.ts`: `deno run -A tests/bench/pep3333_server.ts [--log] [--record]`.
 * Listens on 127.0.0.1 on a free port and prints its URL on stdout.
 *
 * @module
 */

import type { Environ, Header, StartResponse } from "../../server/types.ts";
import { application } from "../../examples/hello.ts";
import { blankLogLine, BufferedSink } from "../../server/log.ts";
import { concatBytes } from "../../server/input.ts";
import { TYPE_CODE } from "../../inspector/record_format.ts";

const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
const VERSION: [number, number] = [1, 0];

/** A `wsgi.input` over the request's body (read whole, as the spec allows). */
class Input {
  constructor(readonly request: Request) {}
  async read(): Promise<Uint8Array> {
    return new Uint8Array(await this.request.arrayBuffer());
  }
}
const EMPTY = { read: () => Promise.resolve(new Uint8Array(0)) };
const errors = { write: (_text: string) => {}, flush: () => {}, writelines: () => {} };

/** With `--record`: the ring every exchange is written into, and where the next byte goes. */
const recording = Deno.args.includes("--record");
const RING = new Uint8Array(1 << 20);
const VIEW = new DataView(RING.buffer);
let at = 0;
/** Makes room for `n` bytes: back to the start when the end is near (no reader: old bytes go). */
function room(n: number): void {
  if (at + n > RING.length) at = 0;
}
// The record format's type codes (`docs/record.md`), read once.
const REQUEST = TYPE_CODE.request;
const ENVIRON = TYPE_CODE.environ;
const CALL = TYPE_CODE.call;
const START_RESPONSE = TYPE_CODE.start_response;
const CHUNK = TYPE_CODE.chunk;
const CLOSE = TYPE_CODE.close;
const HEADERS_SENT = TYPE_CODE.headers_sent;
const END = TYPE_CODE.end;

/** An event's type byte and time. */
function event(type: number, t: number): void {
  room(9);
  RING[at] = type;
  VIEW.setFloat64(at + 1, t, true);
  at += 9;
}
/** A string: its length (u16), then a byte a char. */
function str(s: string): void {
  const n = s.length;
  room(n + 2);
  VIEW.setUint16(at, n, true);
  at += 2;
  for (let i = 0; i < n; i++) RING[at + i] = s.charCodeAt(i);
  at += n;
}

/** What the one `start_response` was given last (the application runs synchronously). */
let status = "";
let headers: Header[] = [];
let written: Uint8Array[] = [];
const write = (data: Uint8Array) => void written.push(data);
const startResponse = ((s: string, h: Header[]) => {
  status = s;
  headers = h;
  if (recording) {
    event(START_RESPONSE, performance.now());
    str(s);
    room(1);
    RING[at++] = h.length;
    for (const [name, value] of h) {
      str(name);
      str(value);
    }
  }
  return write;
}) as StartResponse;

/** With `--log`: the line every request fills, and where it goes (stderr, batched). */
const log = Deno.args.includes("--log") ? new BufferedSink() : undefined;
const line = blankLogLine();
const TIME_ORIGIN = performance.timeOrigin;

/** The bound port, as `SERVER_PORT` gives it (a string made once). */
let serverPort = "";

/** The environ being filled by {@linkcode readHeader}, and how many headers it read. */
let filling = {} as Environ;
let count = 0;
function readHeader(value: string, name: string): void {
  if (recording) {
    str(name);
    str(value);
    count++;
  }
  if (name === "content-type") filling.CONTENT_TYPE = value;
  else if (name === "content-length") filling.CONTENT_LENGTH = value;
  else filling[`HTTP_${name.toUpperCase().replaceAll("-", "_")}`] = value;
}

Deno.serve({
  hostname: "127.0.0.1",
  port: 0,
  onListen: ({ port }) => {
    serverPort = String(port);
    console.log(`Serving HTTP on http://127.0.0.1:${port}`);
  },
}, (request, info) => {
  const started = log === undefined && !recording ? 0 : performance.now();
  const url = request.url;
  const method = request.method;
  const pathStart = url.indexOf("/", url.indexOf(":") + 3);
  const q = url.indexOf("?", pathStart);
  const path = q === -1 ? url.slice(pathStart) : url.slice(pathStart, q);
  // The target as sent, for the record and the log line (one string for both).
  const target = log === undefined && !recording ? "" : url.slice(pathStart);
  const environ: Environ = {
    REQUEST_METHOD: method,
    SCRIPT_NAME: "",
    PATH_INFO: path.indexOf("%") === -1 ? path : unescape(path),
    QUERY_STRING: q === -1 ? "" : url.slice(q + 1),
    SERVER_NAME: "127.0.0.1",
    SERVER_PORT: serverPort,
    SERVER_PROTOCOL: "HTTP/1.1",
    REMOTE_ADDR: info.remoteAddr.hostname,
    "wsgi.version": VERSION,
    "wsgi.url_scheme": "http",
    "wsgi.input": method === "GET" || method === "HEAD" ? EMPTY : new Input(request),
    "wsgi.errors": errors,
    "wsgi.multithread": false,
    "wsgi.multiprocess": false,
    "wsgi.run_once": false,
  } as unknown as Environ;
  filling = environ;
  let counted = 0;
  if (recording) {
    event(REQUEST, started);
    str(method);
    str(target);
    str(info.remoteAddr.hostname);
    room(3);
    VIEW.setUint16(at, info.remoteAddr.port, true);
    counted = at + 2;
    at += 3;
    count = 0;
  }
  request.headers.forEach(readHeader);
  if (recording) {
    RING[counted] = count;
    event(ENVIRON, started);
    room(1);
    RING[at++] = 0; // the environ's flags
    str(url);
    event(CALL, started);
  }
  written = [];
  const body = application(environ, startResponse) as Uint8Array[];
  const chunks = written.length === 0 ? body : [...written, ...body];
  (body as { close?: () => void }).close?.();
  const returned = recording ? performance.now() : 0;
  if (recording) {
    for (const chunk of chunks) {
      event(CHUNK, returned);
      room(4 + chunk.length);
      VIEW.setUint32(at, chunk.length, true);
      RING.set(chunk, at + 4);
      at += 4 + chunk.length;
    }
    event(CLOSE, returned);
    event(HEADERS_SENT, returned); // as start_response got them
  }
  const bytes = concatBytes(chunks);
  const record: Record<string, string> = {};
  let text = false;
  for (const [name, value] of headers) {
    record[name] = value;
    if (name.toLowerCase() === "content-type") text = value.startsWith("text/");
  }
  const code = Number(status.slice(0, 3));
  const decoded = text ? decoder.decode(bytes) : "\uFFFD";
  const response = new Response(
    decoded.indexOf("\uFFFD") === -1 ? decoded : bytes as BodyInit,
    code === 200 ? { headers: record } : { status: code, headers: record },
  );
  if (recording) {
    event(END, returned);
    room(4);
    VIEW.setUint32(at, bytes.length, true);
    at += 4;
  }
  if (log !== undefined) {
    const ended = recording ? returned : performance.now();
    line.host = info.remoteAddr.hostname;
    line.port = info.remoteAddr.port;
    line.method = method;
    line.target = target;
    line.status = code;
    line.bytes = bytes.length;
    line.duration = ended - started;
    line.time = TIME_ORIGIN + ended;
    log.writeLogLine(line);
  }
  return response;
});
