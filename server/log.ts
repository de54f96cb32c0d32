/**
 * Output: a buffered stderr sink, `wsgi.errors`, and the one-line request log.
 *
 * Writing to stderr once per request is a system call per request; the sink
 * collects text and writes it in one go at most every few milliseconds (and at
 * once before the process exits or the server shuts down).
 *
 * @module
 */

import type { ErrorStream } from "./types.ts";

const encoder = new TextEncoder();

/** Bytes a sink holds before it writes them out at once. */
const FLUSH_AT = 64 * 1024;

/**
 * A text sink that batches writes to a file descriptor such as stderr.
 *
 * Text is encoded into one reused buffer as it comes, and the buffer is
 * written out within `delay` ms, or at once when it holds 64 KiB. Keeping the
 * queued text as bytes outside the JavaScript heap matters under load: text
 * kept as strings until the flush (a few hundred request log lines) survives
 * garbage collections, which then copy it and grow the young generation, and
 * that cost more than formatting the log itself.
 */
export class BufferedSink {
  #buffer: Uint8Array = new Uint8Array(2 * FLUSH_AT);
  #used = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #file: { writeSync(p: Uint8Array): number };
  #delay: number;

  /**
   * @param file where the text goes (`Deno.stderr` by default)
   * @param delay at most how long text may wait, in milliseconds
   */
  constructor(file: { writeSync(p: Uint8Array): number } = Deno.stderr, delay = 10) {
    this.#file = file;
    this.#delay = delay;
  }

  /** Queues text; it is written within `delay` ms, or now if much is queued. */
  write(text: string): void {
    if (text.length * 3 > this.#buffer.length - this.#used) {
      this.flush();
      if (text.length * 3 > this.#buffer.length) {
        this.#writeOut(encoder.encode(text));
        return;
      }
    }
    this.#used += encoder.encodeInto(text, this.#buffer.subarray(this.#used)).written;
    this.#queued();
  }

  /**
   * Queues a request log line, as {@linkcode formatLogLine} formats its
   * {@linkcode logEntry} (in order with the text around it). Written as ASCII
   * straight into the buffer, without a string, when the line is plain ASCII:
   * the peer's address from its host and port, the numbers as digits.
   */
  writeLogLine(line: LogLine, color = false): void {
    if (!color) {
      // The fields of unknown length, plus ample room for the rest (~100 bytes).
      const room = 512 + line.target.length + line.method.length + (line.host?.length ?? 0);
      if (this.#buffer.length - this.#used < room) this.flush();
      const end = room > this.#buffer.length ? -1 : writeLogLine(line, this.#buffer, this.#used);
      if (end !== -1) {
        this.#used = end;
        this.#queued();
        return;
      }
    }
    this.write(formatLogLine(logEntry(line), color));
  }

  #queued(): void {
    if (this.#used >= FLUSH_AT) this.flush();
    else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.flush(), this.#delay);
      Deno.unrefTimer(this.#timer);
    }
  }

  /** Writes everything queued, now. */
  flush(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (this.#used === 0) return;
    const used = this.#used;
    this.#used = 0;
    this.#writeOut(this.#buffer.subarray(0, used));
  }

  #writeOut(bytes: Uint8Array): void {
    try {
      while (bytes.length > 0) bytes = bytes.subarray(this.#file.writeSync(bytes));
    } catch {
      // stderr closed (a pipe whose reader went away): nothing useful to do.
    }
  }
}

/** Copies `text` into `buffer` at `at` if it is all ASCII; the end, or -1. */
function ascii(text: string, buffer: Uint8Array, at: number): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c > 0x7f) return -1;
    buffer[at++] = c;
  }
  return at;
}

/**
 * Copies request data into `buffer` at `at` if it is printable ASCII with no
 * backslash (nothing {@linkcode escapeControls} would change); the end, or -1.
 */
function printable(text: string, buffer: Uint8Array, at: number): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x5c) return -1;
    buffer[at++] = c;
  }
  return at;
}

/** A duration in ms as whole tenths of a ms, rounded half up; `1.25` → `13`, shown `1.3ms`. */
function tenths(ms: number): number {
  return ms > 0 ? Math.round(ms * 10) : 0;
}

/** Writes a non-negative integer's decimal digits into `buffer` at `at`; the end. */
function digits(n: number, buffer: Uint8Array, at: number): number {
  if (n >= 1e15 || !(n >= 0)) return ascii(String(n), buffer, at);
  // Integer division for small integers (nearly every status, size and duration).
  const small = n < 0x40000000;
  let end = at;
  for (let m = n; m >= 10; m = small ? (m / 10) | 0 : Math.floor(m / 10)) end++;
  for (let i = end; i >= at; i--) {
    buffer[i] = 48 + n % 10;
    n = small ? (n / 10) | 0 : Math.floor(n / 10);
  }
  return end + 1;
}

/** Copies `bytes` into `buffer` at `at`; the end. */
function copy(bytes: Uint8Array, buffer: Uint8Array, at: number): number {
  for (let i = 0; i < bytes.length; i++) buffer[at++] = bytes[i]!;
  return at;
}

const DASHES = encoder.encode(" - - ");
const PROTOCOL = encoder.encode(' HTTP/1.1" ');
const MS = encoder.encode("ms\n");

/**
 * {@linkcode formatLogLine} without color, written as bytes into `buffer` at
 * `at` (which must have room for the line). Returns the end, or -1 when a
 * field is not printable ASCII or holds a backslash (then format the line as
 * text, which escapes it).
 *
 * Numbers are written as digits, not made strings first: `toFixed()` alone
 * cost a third of a line.
 */
function writeLogLine(entry: LogLine, buffer: Uint8Array, at: number): number {
  // The peer: its host (or "-"), then ":" and the port's digits, no string joined.
  if (entry.host === undefined) buffer[at++] = 0x2d; // "-"
  else {
    at = printable(entry.host, buffer, at);
    if (at === -1) return -1;
    buffer[at++] = 0x3a; // ":"
    at = digits(entry.port, buffer, at);
  }
  at = copy(DASHES, buffer, at);
  at = copy(timestampBytes(entry.time), buffer, at);
  buffer[at++] = 0x20; // " "
  buffer[at++] = 0x22; // '"'
  at = printable(entry.method, buffer, at);
  if (at === -1) return -1;
  buffer[at++] = 0x20;
  at = printable(entry.target, buffer, at);
  if (at === -1) return -1;
  at = copy(PROTOCOL, buffer, at);
  if (entry.status === 0) buffer[at++] = 0x2d; // "-"
  else at = digits(entry.status, buffer, at);
  buffer[at++] = 0x20;
  at = digits(entry.bytes, buffer, at);
  buffer[at++] = 0x20;
  const t = tenths(entry.duration);
  at = digits(Math.floor(t / 10), buffer, at);
  buffer[at++] = 0x2e; // "."
  buffer[at++] = 48 + t % 10;
  return entry.outcome === "end"
    ? copy(MS, buffer, at)
    : ascii(`ms (${entry.outcome})\n`, buffer, at);
}

/** A C0 control, DEL, a C1 control, or a backslash. */
// deno-lint-ignore no-control-regex -- matching control characters is the point
const CONTROL = /[\x00-\x1f\x7f-\x9f\\]/;
// deno-lint-ignore no-control-regex -- as above
const CONTROLS = /[\x00-\x1f\x7f-\x9f\\]/g;
/** The same, except the line feed. */
// deno-lint-ignore no-control-regex -- as above
const CONTROLS_BUT_LF = /[\x00-\x09\x0b-\x1f\x7f-\x9f\\]/g;

function escapeOne(c: string): string {
  return c === "\\" ? "\\\\" : `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
}

/**
 * Escapes what a terminal would act on, as Werkzeug does in its request log
 * (and Python 3.12's `http.server` in every log line): each C0 control, DEL
 * and C1 control becomes `\xNN`, and a backslash `\\`, so that the escaped
 * text reads back unambiguously. Request data written to the terminal goes
 * through here: a path holding `\x1b[2J` or `\r\n` cannot clear the screen or
 * forge a line.
 *
 * @example
 * ```ts
 * import { escapeControls } from "./log.ts";
 * console.assert(escapeControls("/x\x1b[2J\r\nFAKE") === "/x\\x1b[2J\\x0d\\x0aFAKE");
 * ```
 */
export function escapeControls(text: string): string {
  return CONTROL.test(text) ? text.replace(CONTROLS, escapeOne) : text;
}

/**
 * An error for the terminal: its first line (name and message) escaped as by
 * {@linkcode escapeControls}, so that a message quoting request data stays
 * one line; the rest of its stack keeps its line feeds, everything else
 * escaped.
 */
export function describeForLog(error: unknown): string {
  if (!(error instanceof Error)) return escapeControls(`Thrown value: ${String(error)}`);
  const head = `${error.name}: ${error.message}`;
  const stack = typeof error.stack === "string" ? error.stack : "";
  if (stack.startsWith(head)) {
    return escapeControls(head) + stack.slice(head.length).replace(CONTROLS_BUT_LF, escapeOne);
  }
  return escapeControls(head) +
    (stack === "" ? "" : "\n" + stack.replace(CONTROLS_BUT_LF, escapeOne));
}

/** The process-wide stderr sink, flushed when the process exits. */
export const stderrSink: BufferedSink = new BufferedSink();
globalThis.addEventListener("unload", () => stderrSink.flush());

/**
 * `wsgi.errors` for one request: text goes to a sink (stderr by default) and,
 * when the exchange is recorded, to the recorder as `errors` events.
 */
export class Errors implements ErrorStream {
  #sink: { write(text: string): void; flush(): void };
  #onWrite: ((text: string) => void) | undefined;

  constructor(
    sink: { write(text: string): void; flush(): void } = stderrSink,
    onWrite?: (text: string) => void,
  ) {
    this.#sink = sink;
    this.#onWrite = onWrite;
  }

  /** Writes text to the error stream. */
  write(text: string): void {
    if (typeof text !== "string") {
      throw new TypeError(
        `Cannot write to wsgi.errors: text must be a string (got ${typeof text})`,
      );
    }
    this.#sink.write(text);
    this.#onWrite?.(text);
  }

  /** Writes each string in turn; no newlines are added. */
  writelines(lines: Iterable<string>): void {
    for (const line of lines) this.write(line);
  }

  /** Flushes the sink. */
  flush(): void {
    this.#sink.flush();
  }

  toString(): string {
    return "<wsgi.errors stderr>";
  }
}

/** What the request log line says about one finished exchange. */
export interface LogEntry {
  /** The peer's address, when known. */
  remote?: string;
  method: string;
  /** The request target: path and query, as sent. */
  target: string;
  /** The status code sent, or 0 when nothing was sent (the client went away first). */
  status: number;
  /** Body bytes sent. */
  bytes: number;
  /** Milliseconds from arrival to the end of the response. */
  duration: number;
  /** How it ended when not cleanly: "aborted" (client went away), "cut" (error mid-stream) or "timeout" (cut by the gateway's timeout). */
  outcome: "end" | "aborted" | "cut" | "timeout";
  /**
   * When it ended, epoch milliseconds; the gateway passes the clock reading it
   * took for `duration` (reading the clock costs ~0.1 µs). When absent, the
   * time the line is formatted (a {@linkcode BufferedSink} formats it when it
   * flushes, within its `delay`).
   */
  time?: number;
}

/**
 * A request log line as the gateway holds it: a {@linkcode LogEntry} with
 * the peer's address as host and port, not joined into a string for each
 * request. One object serves every line of a handler (see
 * {@linkcode lineLogger}): a consumer that keeps it, keeps a copy.
 */
export interface LogLine extends Omit<LogEntry, "remote"> {
  /** The peer's host, when known. */
  host: string | undefined;
  /** The peer's port (when `host` is known). */
  port: number;
}

/** A blank {@linkcode LogLine}, for a handler to fill for each of its lines. */
export function blankLogLine(): LogLine {
  return {
    host: undefined,
    port: 0,
    method: "",
    target: "",
    status: 0,
    bytes: 0,
    duration: 0,
    outcome: "end",
    time: 0,
  };
}

/** The {@linkcode LogEntry} of a {@linkcode LogLine}: a new object, its `remote` joined. */
export function logEntry(line: LogLine): LogEntry {
  return {
    remote: line.host === undefined ? undefined : `${line.host}:${line.port}`,
    method: line.method,
    target: line.target,
    status: line.status,
    bytes: line.bytes,
    duration: line.duration,
    outcome: line.outcome,
    time: line.time,
  };
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
let stampSecond = -1;
let stamp = "";
let stampAscii = new Uint8Array(0);

/** `[24/Nov/2026 11:30:48]`, as wsgiref logs it; cached for the current second. */
function timestamp(now: number = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== stampSecond) {
    const d = new Date(now);
    const p = (n: number) => String(n).padStart(2, "0");
    stamp = `[${p(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()} ${p(d.getHours())}:${
      p(d.getMinutes())
    }:${p(d.getSeconds())}]`;
    stampAscii = encoder.encode(stamp);
    stampSecond = second;
  }
  return stamp;
}

/** {@linkcode timestamp} as ASCII bytes. */
function timestampBytes(now?: number): Uint8Array {
  timestamp(now);
  return stampAscii;
}

/** Whether to colour output on stderr: a terminal, and `NO_COLOR` unset. */
export function useColor(): boolean {
  try {
    return Deno.stderr.isTerminal() && !Deno.env.get("NO_COLOR");
  } catch {
    return false;
  }
}

function paint(status: number, text: string): string {
  const code = status >= 500 || status === 0 ? 31 : status >= 400 ? 33 : status >= 300 ? 36 : 32;
  return `\x1b[${code}m${text}\x1b[0m`;
}

/** A duration in ms with one decimal, as {@linkcode writeLogLine} writes it. */
function duration(ms: number): string {
  const t = tenths(ms);
  return `${Math.floor(t / 10)}.${t % 10}`;
}

/**
 * Formats one request log line, wsgiref's format plus the duration, with
 * the request's own fields escaped by {@linkcode escapeControls}:
 * `127.0.0.1:51234 - - [24/Nov/2026 11:30:48] "GET / HTTP/1.1" 200 18 0.4ms`.
 */
export function formatLogLine(entry: LogEntry, color = false): string {
  const status = entry.status === 0 ? "-" : entry.status;
  const result = color
    ? paint(entry.status, `${status} ${entry.bytes}`)
    : `${status} ${entry.bytes}`;
  // One template literal: fewer pieces for the sink to join (the log is on the hot path).
  return `${escapeControls(entry.remote ?? "-")} - - ${timestamp(entry.time)} "${
    escapeControls(entry.method)
  } ${escapeControls(entry.target)} HTTP/1.1" ${result} ${duration(entry.duration)}ms${
    entry.outcome === "end" ? "" : ` (${entry.outcome})`
  }\n`;
}

/**
 * The gateway's request log: where each {@linkcode LogLine} goes. `log` is
 * `GatewayOptions.log`: `true` for lines on `sink` (written as bytes into a
 * {@linkcode BufferedSink}), or a function, which gets a
 * {@linkcode LogEntry} of its own.
 */
export function lineLogger(
  log: true | ((entry: LogEntry) => void),
  sink: { write(text: string): void } = stderrSink,
  color: boolean = log === true && useColor(),
): (line: LogLine) => void {
  if (log !== true) return (line) => log(logEntry(line));
  return sink instanceof BufferedSink
    ? (line) => sink.writeLogLine(line, color)
    : (line) => sink.write(formatLogLine(logEntry(line), color));
}
