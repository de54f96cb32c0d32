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

/** A text sink that batches writes to a file descriptor such as stderr. */
export class BufferedSink {
  #parts: string[] = [];
  #size = 0;
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
    this.#parts.push(text);
    this.#size += text.length;
    if (this.#size > 64 * 1024) this.flush();
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
    if (this.#parts.length === 0) return;
    let bytes = encoder.encode(this.#parts.join(""));
    this.#parts = [];
    this.#size = 0;
    try {
      while (bytes.length > 0) bytes = bytes.subarray(this.#file.writeSync(bytes));
    } catch {
      // stderr closed (a pipe whose reader went away): nothing useful to do.
    }
  }
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
  /** How it ended when not cleanly: "aborted" (client went away) or "cut" (error mid-stream). */
  outcome: "end" | "aborted" | "cut";
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
let stampSecond = -1;
let stamp = "";

/** `[24/Nov/2026 11:30:48]`, as wsgiref logs it; cached for the current second. */
function timestamp(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== stampSecond) {
    const d = new Date(now);
    const p = (n: number) => String(n).padStart(2, "0");
    stamp = `[${p(d.getDate())}/${MONTHS[d.getMonth()]}/${d.getFullYear()} ${p(d.getHours())}:${
      p(d.getMinutes())
    }:${p(d.getSeconds())}]`;
    stampSecond = second;
  }
  return stamp;
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

/**
 * Formats one request log line, wsgiref's format plus the duration:
 * `127.0.0.1:51234 - - [24/Nov/2026 11:30:48] "GET / HTTP/1.1" 200 18 0.4ms`.
 */
export function formatLogLine(entry: LogEntry, color = false): string {
  const status = entry.status === 0 ? "-" : String(entry.status);
  const tail = entry.outcome === "end" ? "" : ` (${entry.outcome})`;
  const line = `${
    entry.remote ?? "-"
  } - - ${timestamp()} "${entry.method} ${entry.target} HTTP/1.1" `;
  const result = `${status} ${entry.bytes}`;
  return `${line}${color ? paint(entry.status, result) : result} ${
    entry.duration.toFixed(1)
  }ms${tail}\n`;
}

/** A request logger that writes formatted lines to a sink (stderr by default). */
export function requestLogger(
  sink: { write(text: string): void } = stderrSink,
  color: boolean = useColor(),
): (entry: LogEntry) => void {
  return (entry) => sink.write(formatLogLine(entry, color));
}
