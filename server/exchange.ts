/**
 * One exchange (a request and its response), its state made explicit with
 * Werkzeug's names: `status_set` (start_response was called) against
 * `headers_sent` (the status and headers left for the client).
 *
 * Here are the two callables the application is given, `start_response`
 * and `write`, with the rules they check, and what every way of answering
 * shares: the checks made before the headers go, the body's bytes counted
 * against `Content-Length`, the cut of a response whose headers went out,
 * and `finish()`, which writes the log line and the recorder's last event
 * once. The ways of answering are functions over an exchange, in files of
 * their own that `./gateway.ts` runs; the body's `close()` is `./close.ts`'s.
 *
 * The recording seam is here too: a no-op hook at each step of the timeline
 * of `./recorder.ts`, which `RecordedExchange` (`./recorded_exchange.ts`)
 * overrides; an unrecorded exchange pays an empty call each, which V8
 * inlines away.
 *
 * @module
 */

import type { Environ, Header, ResponseBody, StartResponse, Write } from "./types.ts";
import type { ErrorSite } from "./recorder.ts";
import { type EnvironOptions, type RequestSeen, withTarget } from "./environ.ts";
import { Input, type InputOptions, RequestBodyTooLarge } from "./input.ts";
import { describeForLog, Errors, escapeControls, type LogEntry, type LogLine } from "./log.ts";
import { checkHeaders, checkStatus, chunkError, isNullBodyStatus, ProtocolError } from "./rules.ts";
import { describeError, type ErrorPage } from "./error_page.ts";
import type { Deadlines } from "./timeout.ts";
import { abandon, type BodyOwner, type Chunks } from "./close.ts";
import type { GatewayOptions, HandlerInfo, TextSink } from "./gateway_options.ts";

/** An empty list shared by every exchange until it has items of its own (frozen: never pushed to). */
export const NONE: never[] = Object.freeze([]) as never[];

/** The placeholder `wsgi.input` while the environ is built (never read). */
export const NO_INPUT = new Input({ body: null }, 0);

/** `performance.timeOrigin`, read once: epoch time = TIME_ORIGIN + performance.now(). */
const TIME_ORIGIN = performance.timeOrigin;

/** What every exchange of one `toFetch` handler shares, settled once. */
export interface Shared {
  readonly options: GatewayOptions;
  readonly sink: TextSink;
  /** The request log, if on (`lineLogger()` of `./log.ts`). */
  readonly log: ((line: LogLine) => void) | undefined;
  /** The one line every exchange fills in for the log (it is written, or copied, at once). */
  readonly line: LogLine;
  /** `wsgi.errors` of unrecorded exchanges: it holds no state, so one serves them all (as `sys.stderr` does in wsgiref). */
  readonly errors: Errors;
  /**
   * The options of `buildEnviron`, one object filled in for each request
   * (it only reads them, synchronously): one allocation less per request.
   */
  readonly environ: EnvironOptions;
  /** Makes the 500 page (see `GatewayOptions.debug`). */
  readonly errorPage: ErrorPage;
  /** Answers an application's body: `respond()` of `./gateway.ts`, for the pages answered from below it. */
  readonly respond: (ex: Exchange, body: ResponseBody) => Response | Promise<Response>;
  /** The deadlines of exchanges that went asynchronous, when there is a timeout. */
  readonly deadlines: Deadlines<Exchange> | undefined;
  /** The largest request body, in bytes; Infinity for no limit. */
  readonly limit: number;
  /** The options of an unrecorded exchange's `wsgi.input` (no hook), shared. */
  readonly input: InputOptions;
}

/** One request and its response: the state PEP 3333 talks about, made explicit. */
export class Exchange implements RequestSeen, BodyOwner {
  readonly request: Request;
  /** `request.method`, read once (each read of the getter costs). */
  readonly method: string;
  /** The handler's settings: options, sink, log (read from here, not copied per exchange). */
  readonly shared: Shared;
  /** Arrival, a `performance.now()` reading. */
  readonly started: number;
  /**
   * The last clock reading: events are stamped with it, and the log's end
   * time is one. Read again (`tick()`) only after the application's code ran,
   * and only when someone wants the time (see `./recorder.ts`).
   */
  t: number;
  readonly peer: { hostname: string; port: number } | undefined;
  environ!: Environ;
  /** `wsgi.input` as the gateway made it (the app may replace the environ's). */
  input: Input = NO_INPUT;
  /** The request target as sent (path and query), set by `buildEnviron`. */
  target = "";
  /** `request.url` with the caller's target as sent (`HandlerInfo.target`), when one was given. */
  readonly url: string | undefined;
  /** The request's header pairs, collected by `buildEnviron` when recording. */
  requestHeaders: [string, string][] | undefined;

  /** The status line the app gave (`status_set`), and its code and headers. */
  status_set: string | undefined;
  code = 0;
  headers: Header[] = NONE;
  /** Whether the status and headers left for the client. */
  headers_sent = false;
  /** A rule the app broke before anything was sent, even if it caught the error. */
  broken: ProtocolError | undefined;
  /** Output of the legacy `write()` not yet handed to the client. */
  written: Uint8Array[] = NONE;
  // The `declare`d fields below serve the write() path and an application
  // that returns a Promise: declared, not initialised, so that an exchange
  // answered with an array stays small.
  /**
   * The response stream `write()` opened, and its Response: the headers went
   * out at the first `write()`, and the body follows (see `openLive`).
   */
  declare live: ReadableStreamDefaultController<Uint8Array> | undefined;
  declare liveResponse: Response | undefined;
  /** Resolves the handler's Promise early, when an async app calls `write()` before it returns. */
  declare early: ((response: Response) => void) | undefined;
  /** Wakes the body pump when the client took a chunk (backpressure of the live stream). */
  declare wake: (() => void) | undefined;
  /** Set when the live stream must be cut once what `write()` queued went out. */
  declare cutting: Error | undefined;
  /** The body the live stream is pumping, for `abandon()` when the client leaves. */
  declare pumped: { body: ResponseBody; gen: Chunks } | undefined;
  writes = 0;
  /** Body bytes handed to the client. */
  bytes = 0;
  finished = false;
  /** The streamed body's controller, once the headers went out with a stream (for a timeout's cut). */
  controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  /** The body whose `close()` was called (or recorded as absent): never twice. */
  closed: ResponseBody | undefined;
  /** A `next()` of the streamed body is pending (the app is producing a chunk). */
  pulling = false;

  /** @param started the arrival, a `performance.now()` reading */
  constructor(request: Request, info: HandlerInfo | undefined, shared: Shared, started: number) {
    this.started = this.t = started;
    this.request = request;
    this.method = request.method;
    this.shared = shared;
    const addr = info?.remoteAddr;
    if (addr !== undefined && addr.transport === "tcp") this.peer = addr;
    const target = info?.target;
    this.url = target === undefined ? undefined : withTarget(request.url, target);
  }

  /** Reads the clock. */
  tick(): void {
    this.t = performance.now();
  }

  // The recording seam. Each hook marks a step of the timeline of
  // `./recorder.ts`, where the exchange calls it; here they do nothing, and
  // `RecordedExchange` records. The clock is read again only where someone
  // wants the time: the log at the end, the recorder after the
  // application's code ran.

  /** Whether the end of the exchange needs a clock reading (for the log's duration). */
  wantsEndTime(): boolean {
    return this.shared.log !== undefined;
  }
  /** Reads the clock for the end of a complete body (`sendArray`), if anyone wants the time. */
  stampEnd(): void {
    if (this.shared.log !== undefined) this.tick();
  }
  /** Reads the clock for the recorder, after the application's code ran (a streamed body's first chunk). */
  stamp(): void {}
  /** The `wsgi.errors` of this exchange: the shared one (it holds no state). */
  errorStream(): Errors {
    return this.shared.errors;
  }
  /** The options of this exchange's `wsgi.input`. */
  inputOptions(): InputOptions {
    return this.shared.input;
  }
  /** The environ was built (`request`, `environ` events; a lint when a GET's body was dropped). */
  onEnviron(_dropped: string | undefined): void {}
  /** The application is about to be called. */
  onCall(): void {}
  /**
   * The answer is not ready yet: the application returned a Promise of its
   * body, or a streamed body is awaited until its first chunk.
   */
  onPending(): void {}
  /** `start_response` was called (`error`: the rule the call broke). */
  onStartResponse(_status: unknown, _headers: unknown, _excInfo: boolean, _error?: string): void {}
  /** `write()` was called with valid bytes. */
  onWrite(_index: number, _data: Uint8Array): void {}
  /** An array body's first `count` chunks are valid bytes (all of them, or up to a bad one). */
  onArrayBody(_body: Uint8Array[], _count: number): void {}
  /** A streamed body yielded a chunk. */
  onChunk(_index: number, _chunk: Uint8Array): void {}
  /** `close()` was called on the body (`called`), or it had none. */
  onClose(_called: boolean): void {}
  /** The status and headers left for the client. */
  onHeadersSent(): void {}
  /** An exception was reported. */
  onError(_where: ErrorSite, _error: unknown): void {}
  /** A rule was broken (recorded once per rule: see `lint.ts`). */
  onLint(_rule: string, _message: string): void {}
  /** The exchange ended (`end`) or not (`aborted`, `cut`, `timeout`). */
  onFinish(_outcome: LogEntry["outcome"], _reason: string | undefined): void {}
  /** The deadline passed (`message` says which). */
  onTimeout(_message: string): void {}
  /** After a timeout: whatever the application does later is not recorded. */
  stopRecording(): void {}
  /** Lets the request body go, once the response is over (see `Input.finish`). */
  finishInput(_outcome: LogEntry["outcome"]): void {
    this.input.finish();
  }

  /** Reports an exception: to the recorder and, with its stack, to stderr. */
  report(where: ErrorSite, error: unknown): void {
    const e = error instanceof Error ? error : undefined;
    this.onError(where, error);
    // With its stack, except for a broken rule (the message says it all).
    const detail = e && !(error instanceof ProtocolError) && !(error instanceof RequestBodyTooLarge)
      ? describeForLog(e)
      : escapeControls(describeError(error));
    // PATH_INFO is decoded: "%1b%0d%0a" in the target would be raw controls here.
    this.shared.sink.write(
      `Error in ${where} (${escapeControls(this.method)} ${
        escapeControls(this.environ?.PATH_INFO ?? this.request.url)
      }): ${detail}\n`,
    );
  }

  start_response: StartResponse = (status, headers, exc_info) => {
    const withExcInfo = exc_info !== undefined && exc_info !== null;
    try {
      if (withExcInfo) {
        // PEP 3333: with exc_info after the headers went out, re-raise it.
        if (this.headers_sent) throw exc_info;
      } else if (this.status_set !== undefined) {
        throw new ProtocolError(
          "start_response.twice",
          "start_response() was called twice without exc_info; call it once, or pass the caught error as exc_info to replace an unsent response",
        );
      }
      const code = checkStatus(status);
      checkHeaders(headers);
      this.onStartResponse(status, headers, withExcInfo);
      this.status_set = status as string;
      this.code = code;
      this.headers = headers;
      this.broken = undefined;
      return this.write;
    } catch (error) {
      if (error instanceof ProtocolError) {
        this.onStartResponse(status, headers, withExcInfo, error.message);
        if (!this.headers_sent) this.broken ??= error;
      }
      throw error;
    }
  };

  write: Write = (data) => {
    if (this.status_set === undefined) {
      throw new ProtocolError(
        "write.before_start",
        "write() was called before start_response(); call start_response() first",
      );
    }
    if (!(data instanceof Uint8Array)) throw chunkError(data, this.writes, "write() argument");
    this.onWrite(this.writes, data);
    this.writes++;
    // PEP 3333: the first write() sends the headers, and each sends its data
    // before it returns (here: queues it for the client at once). HEAD and
    // bodiless statuses keep the old way: the bytes wait, and are dropped or refused.
    if (!this.headers_sent && this.method !== "HEAD" && !isNullBodyStatus(this.code)) {
      const problem = this.checkReady(undefined);
      if (problem) throw problem;
      this.openLive();
    }
    if (this.live !== undefined) {
      if (!this.finished && data.length > 0) {
        this.enqueue(this.live, data, this.declaredLength());
      }
    } else if (data.length > 0) {
      if (this.written === NONE) this.written = [];
      this.written.push(data);
    }
  };

  /**
   * Sends the status and headers now, with a body stream that `write()` and
   * then the returned iterable feed (`pump()` of `./write_stream.ts`).
   */
  openLive(): void {
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        // Also `controller`, so that a timeout can cut it.
        this.live = this.controller = controller;
      },
      pull: (controller) => {
        if (this.cutting) controller.error(this.cutting);
        const wake = this.wake;
        this.wake = undefined;
        wake?.();
      },
      cancel: () => {
        this.finishNow("aborted", "client disconnected");
        this.wake?.();
        const pumped = this.pumped;
        if (pumped !== undefined && this.pulling) abandon(this, pumped.body, pumped.gen);
      },
    });
    this.liveResponse = new Response(stream, { status: this.code, headers: this.headers });
    this.stamp();
    this.sent();
    this.early?.(this.liveResponse);
  }

  /** The checks made once the headers are about to go; returns the broken rule, if any. */
  checkReady(bodyBytes: number | undefined): ProtocolError | undefined {
    if (this.broken) return this.broken;
    if (this.status_set === undefined) {
      return new ProtocolError(
        "start_response.missing",
        "The application returned without calling start_response(); call start_response(status, headers) before returning or yielding the body",
      );
    }
    if (isNullBodyStatus(this.code) && bodyBytes !== undefined && bodyBytes > 0) {
      return new ProtocolError(
        "body.null_status",
        `Cannot send body: a ${this.code} response must not have a body (got ${bodyBytes} bytes)`,
      );
    }
    const declared = this.declaredLength();
    if (
      declared !== undefined && bodyBytes !== undefined && this.method !== "HEAD" &&
      declared !== bodyBytes && !isNullBodyStatus(this.code)
    ) {
      return new ProtocolError(
        "headers.content_length",
        `Cannot send body: Content-Length says ${declared} bytes but the body has ${bodyBytes}; fix the header or leave it out`,
      );
    }
    return undefined;
  }

  /** The `Content-Length` the application set, if it did. */
  declaredLength(): number | undefined {
    const headers = this.headers;
    for (let i = 0; i < headers.length; i++) {
      const [name, value] = headers[i]!;
      if (name.length === 14 && name.toLowerCase() === "content-length") return Number(value);
    }
    return undefined;
  }

  /** Hands a chunk to the client's stream, counting it against `Content-Length` (`declared`). */
  enqueue(
    controller: ReadableStreamDefaultController<Uint8Array>,
    chunk: Uint8Array,
    declared: number | undefined,
  ): void {
    if (declared !== undefined && this.bytes + chunk.length > declared) {
      throw new ProtocolError(
        "headers.content_length",
        `Cannot send body: Content-Length says ${declared} bytes but the application sent more`,
      );
    }
    this.bytes += chunk.length;
    controller.enqueue(chunk);
  }

  /** Throws when a streamed body (`what`: body, file) ended short of its `Content-Length`. */
  checkEnd(declared: number | undefined, what: string): void {
    if (declared !== undefined && this.bytes < declared) {
      throw new ProtocolError(
        "headers.content_length",
        `Cannot finish body: Content-Length says ${declared} bytes but the ${what} ended after ${this.bytes}`,
      );
    }
  }

  /** The status and headers left for the client. */
  sent(): void {
    this.headers_sent = true;
    this.onHeadersSent();
  }

  /** Forgets the response the application began, before a page replaces it (nothing was sent). */
  unsend(): void {
    this.status_set = undefined;
    this.broken = undefined;
    this.headers = NONE;
    this.written = NONE;
  }

  /**
   * Finishes a response whose headers went out after a failure: the only
   * honest signal left is a cut connection. Returns what the stream is to
   * error with: a short error (Deno prints it; the stack was reported
   * already), or the error itself under `throwErrors`.
   */
  cutSignal(error: unknown): unknown {
    const reason = `response cut after the headers were sent: ${describeError(error)}`;
    this.finishNow("cut", reason);
    if (this.shared.options.throwErrors) return error;
    const cut = new Error(reason);
    cut.stack = `wsgi: ${escapeControls(reason)}`;
    return cut;
  }

  /** Cuts a streamed response after a failure (see {@linkcode Exchange.cutSignal}). */
  cut(controller: ReadableStreamDefaultController<Uint8Array>, error: unknown): void {
    controller.error(this.cutSignal(error));
  }

  /**
   * Records the end of the exchange and writes the log line, once; both at
   * the last clock reading (the caller just took it).
   */
  finish(outcome: LogEntry["outcome"], reason?: string): void {
    if (this.finished) return;
    this.finished = true;
    this.shared.deadlines?.forget(this);
    // Let go of the request body: Deno holds the connection while it lives.
    this.finishInput(outcome);
    this.onFinish(outcome, reason);
    const log = this.shared.log;
    if (log) {
      const line = this.shared.line;
      const peer = this.peer;
      line.host = peer?.hostname;
      line.port = peer === undefined ? 0 : peer.port;
      line.method = this.method;
      line.target = this.target;
      line.status = this.headers_sent ? this.code : 0;
      line.bytes = this.bytes;
      line.duration = this.t - this.started;
      line.outcome = outcome;
      line.time = TIME_ORIGIN + this.t;
      log(line);
    }
  }

  /** Reads the clock if anyone wants the time, then {@linkcode Exchange.finish}. */
  finishNow(outcome: LogEntry["outcome"], reason?: string): void {
    if (this.finished) return;
    if (this.wantsEndTime()) this.tick();
    this.finish(outcome, reason);
  }
}
