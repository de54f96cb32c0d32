/**
 * The gateway: a WSGI application turned into a fetch handler.
 *
 * `toFetch(app)` returns `(request, info?) => Promise<Response>`, the shape
 * `Deno.serve`, `deno serve` and every fetch-based runtime accept. Everything
 * PEP 3333 asks of a server happens here: the environ is built, the
 * application is called, `start_response` is checked against the rules, the
 * body is iterated with backpressure, and `close()` is called exactly once.
 *
 * The state of one exchange is explicit, with Werkzeug's names: `status_set`
 * (start_response was called) against `headers_sent` (the status and headers
 * left for the client). Headers go out when the first non-empty chunk is ready
 * or the body ends, never before (PEP 3333). Until then any failure becomes a
 * 500 page that names it; after, the connection is cut so that the client
 * cannot mistake a broken response for a complete one.
 *
 * @module
 */

import type { Application, Environ, Header, ResponseBody, StartResponse, Write } from "./types.ts";
import type { ErrorSite, EventMap, EventType, ExchangeRecorder, Recorder } from "./recorder.ts";
import { buildEnviron, type EnvironOptions, type RequestSeen } from "./environ.ts";
import {
  concatBytes,
  Input,
  type InputOptions,
  RAISE_LIMIT,
  RequestBodyTooLarge,
  showBytes,
} from "./input.ts";
import {
  describeForLog,
  Errors,
  escapeControls,
  type LogEntry,
  requestLogger,
  stderrSink,
} from "./log.ts";
import { checkHeaders, checkStatus, isNullBodyStatus, ProtocolError, show } from "./rules.ts";
import { describeError, type ErrorPage, errorPage, timeoutPage } from "./error_page.ts";
import { Deadlines } from "./timeout.ts";
import { LINT_KEY, type LintReport } from "./lint.ts";
import { FileWrapper } from "./file_wrapper.ts";

/** What `Deno.serve` passes as the second argument; only the peer is used. */
export interface HandlerInfo {
  remoteAddr?: Deno.Addr;
}

/** A standard fetch handler. */
export type FetchHandler = (request: Request, info?: HandlerInfo) => Promise<Response>;

/** A text sink for diagnostics (`stderr`, buffered, by default). */
export interface TextSink {
  write(text: string): void;
  flush(): void;
}

/** Options of {@linkcode toFetch}. */
export interface GatewayOptions {
  /** Receives every exchange's events (the inspector); none by default. */
  recorder?: Recorder;
  /**
   * Tells the recorder at once when a client goes away before the response's
   * headers went out, while the application still runs (a `client.left`
   * lint), by listening to `request.signal` of a recorded exchange that went
   * asynchronous. Run Deno with `--unstable-no-legacy-abort` (the CLI's app
   * processes do), or Deno 2.9 prints a one-time warning about the signal's
   * legacy behaviour. Off by default.
   */
  watchClient?: boolean;
  /**
   * The request log: `true` for one line per request on stderr, or a function
   * that receives each finished exchange. Off by default, so that `toFetch`
   * is a quiet in-process client in tests; `serve()` turns it on.
   */
  log?: boolean | ((entry: LogEntry) => void);
  /** Where `wsgi.errors` text and error reports go; stderr by default. */
  errors?: TextSink;
  /** `SERVER_NAME`; by default the host of the request's `Host` header. */
  serverName?: string;
  /** `SERVER_PORT`; by default the port of the request's `Host` header. */
  serverPort?: string;
  /** `wsgi.multiprocess`; set it when several processes serve the app (`deno serve --parallel`). */
  multiprocess?: boolean;
  /**
   * `wsgi.url_scheme`: the connection's scheme, when known. `serve()` sets
   * `http`. Without it, `https` when `request.url` starts so, else `http`;
   * under another host, set it: a client can write `https://` into
   * `request.url` with an absolute-form target on a plain connection.
   */
  urlScheme?: "http" | "https";
  /** The application's name, for the `call` event; `"application"` by default. */
  appName?: string;
  /**
   * Let the application's errors (and the rules it broke) out instead of
   * answering them: the handler's Promise rejects with the error itself,
   * with its own stack, where it would have answered a 500 page; after the
   * headers went out, the body's stream errors with it. For test clients
   * (`Client`'s `throwErrors`); never for serving.
   */
  throwErrors?: boolean;
  /**
   * What a 500 tells the client: by default a bare `500 Internal Server
   * Error`, no internals; `true` for the error's message and stack (or the
   * broken rule and its fix); or a function that makes the page (the CLI's
   * debug page). The log and the recorder get the details either way.
   */
  debug?: boolean | ErrorPage;
  /**
   * Milliseconds an exchange may run before it is answered `504 Gateway
   * Timeout` (or cut, once its headers went out); none by default. See
   * `./timeout.ts`: a CPU-bound loop is out of any timer's reach.
   */
  timeout?: number;
  /**
   * The largest request body accepted, in bytes; `0` for no limit. 100 MiB
   * by default ({@linkcode DEFAULT_MAX_REQUEST_BODY}). A request whose
   * `Content-Length` says more is answered `413` before the application is
   * called; a chunked body that runs past it makes the read of `wsgi.input`
   * that needs the byte past the limit throw a `RequestBodyTooLarge` (a
   * `RangeError`), which answers `413` if the application lets it through.
   */
  maxRequestBody?: number;
}

/**
 * The default of {@linkcode GatewayOptions.maxRequestBody}: 100 MiB.
 *
 * `wsgi.input.read()` holds the whole body in memory, so a dev server needs
 * some limit, or one runaway client can take the machine's memory. 100 MiB
 * lets through every upload a developer usually tries (photos, documents,
 * short videos) and matches the largest body common production fronts take
 * by default (Cloudflare's free and pro plans: 100 MB), so that an app that
 * works here is not refused there for its size. `0` turns it off.
 */
export const DEFAULT_MAX_REQUEST_BODY = 100 * 1024 * 1024;

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null)?.then === "function";
}

function chunkError(chunk: unknown, index: number, source: string): ProtocolError {
  const hint = typeof chunk === "string"
    ? " (encode text with new TextEncoder().encode(text))"
    : "";
  return new ProtocolError(
    "body.chunk_type",
    `Cannot send body: ${source} ${index} must be a Uint8Array (got ${show(chunk)})${hint}`,
  );
}

function bodyError(body: unknown): ProtocolError | undefined {
  if (typeof body === "string") {
    return new ProtocolError(
      "body.type",
      "Cannot send body: the application returned a string; return [new TextEncoder().encode(text)]",
    );
  }
  if (body instanceof Uint8Array) {
    return new ProtocolError(
      "body.type",
      "Cannot send body: the application returned a Uint8Array; return [bytes], an iterable of chunks",
    );
  }
  const b = body as Record<symbol, unknown> | null | undefined;
  if (
    b === null || b === undefined ||
    (typeof b[Symbol.iterator] !== "function" && typeof b[Symbol.asyncIterator] !== "function")
  ) {
    return new ProtocolError(
      "body.type",
      `Cannot send body: the application must return an iterable of Uint8Array chunks (got ${
        show(body)
      })`,
    );
  }
  return undefined;
}

/** An empty list shared by every exchange until it has items of its own (frozen: never pushed to). */
const NONE: never[] = Object.freeze([]) as never[];

/** The placeholder `wsgi.input` while the environ is built (never read). */
const NO_INPUT = new Input({ body: null }, 0);

/** The methods whose body `Deno.serve` drops: it gives their `Request` none. */
function bodyDropped(method: string): boolean {
  return method === "GET" || method === "HEAD";
}

/** Text bodies up to this size go to `Response` as a string (see {@linkcode bodyInit}). */
const TEXT_BODY_MAX = 64 * 1024;
/** Content types whose bodies are (almost always) UTF-8 text. */
const TEXT_TYPE = /^\s*(?:text\/|application\/(?:json|javascript|xml|[^;]*\+(?:json|xml)))/i;
const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * What to hand `new Response()` for a complete body: the bytes, or a string
 * that Deno turns back into exactly those bytes.
 *
 * `new Response(bytes)` copies the bytes into a new `ArrayBuffer`, and a new
 * `ArrayBuffer` costs about half a microsecond in Deno 2.9 (some 5% of a
 * hello-world exchange); a string is handed over as it is and encoded to
 * UTF-8 natively. Bytes that are valid UTF-8 decode to a string that encodes
 * back to the very same bytes (`ignoreBOM` keeps a leading BOM in the text).
 * Bytes that are not valid UTF-8 decode with a U+FFFD, and go as bytes (so
 * does text holding a real U+FFFD: needlessly, but correctly). Only for a
 * text Content-Type, so that binary bodies are not decoded in vain, and never
 * without one: Deno would add `text/plain;charset=UTF-8` to a string body.
 */
function bodyInit(bytes: Uint8Array, headers: Header[]): BodyInit {
  if (bytes.length === 0 || bytes.length > TEXT_BODY_MAX) return bytes as BodyInit;
  let text = false;
  for (let i = 0; i < headers.length; i++) {
    const [name, value] = headers[i]!;
    if (name.length === 12 && name.toLowerCase() === "content-type") {
      text = value.startsWith("text/") || TEXT_TYPE.test(value);
      break;
    }
  }
  if (!text) return bytes as BodyInit;
  const decoded = utf8.decode(bytes);
  return decoded.indexOf("\uFFFD") === -1 ? decoded : bytes as BodyInit;
}

/** What every exchange of one `toFetch` handler shares, settled once. */
interface Shared {
  readonly options: GatewayOptions;
  readonly sink: TextSink;
  readonly log: ((entry: LogEntry) => void) | undefined;
  /** `wsgi.errors` of unrecorded exchanges: it holds no state, so one serves them all (as `sys.stderr` does in wsgiref). */
  readonly errors: Errors;
  /**
   * The options of `buildEnviron`, one object filled in for each request
   * (it only reads them, synchronously): one allocation less per request.
   */
  readonly environ: EnvironOptions;
  /** Makes the 500 page (see {@linkcode GatewayOptions.debug}). */
  readonly errorPage: ErrorPage;
  /** The deadlines of exchanges that went asynchronous, when there is a timeout. */
  readonly deadlines: Deadlines | undefined;
  /** The largest request body, in bytes; Infinity for no limit. */
  readonly limit: number;
  /** The options of an unrecorded exchange's `wsgi.input` (no hook), shared. */
  readonly input: InputOptions;
}

/** One request and its response: the state PEP 3333 talks about, made explicit. */
class Exchange implements RequestSeen {
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
   * and only when someone wants the time (see `server/recorder.ts`).
   */
  t: number;
  readonly peer: { hostname: string; port: number } | undefined;
  environ!: Environ;
  /** `wsgi.input` as the gateway made it (the app may replace the environ's). */
  input: Input = NO_INPUT;
  /** The request target as sent (path and query), set by `buildEnviron`. */
  target = "";
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
  // The `declare`d fields below are set only on rare paths (write()):
  // declared, not initialised, so an exchange on the hot path stays as small as before.
  /** Output of the legacy `write()` not yet handed to the client. */
  written: Uint8Array[] = NONE;
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
  declare pumped:
    | { body: ResponseBody; gen: AsyncGenerator<Uint8Array, void, undefined> }
    | undefined;
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
  }

  /** Reads the clock. */
  tick(): void {
    this.t = performance.now();
  }

  // The recording seam. Each hook marks a step of the timeline of
  // `server/recorder.ts`, where the exchange calls it; here they do nothing
  // (an unrecorded exchange pays an empty call each, which V8 inlines away),
  // and `RecordedExchange` (below) records. The clock is read again only
  // where someone wants the time: the log at the end, the recorder after
  // the application's code ran.

  /** Whether the end of the exchange needs a clock reading (for the log's duration). */
  wantsEndTime(): boolean {
    return this.shared.log !== undefined;
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
   * then the returned iterable feed (see {@linkcode Exchange.pump}).
   */
  openLive(): void {
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        // Also `controller`, so that a timeout (`expire()`) can cut it.
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
        if (pumped !== undefined && this.pulling) this.abandon(pumped.body, pumped.gen);
      },
    });
    this.liveResponse = new Response(stream, { status: this.code, headers: this.headers });
    this.stamp();
    this.sent();
    this.early?.(this.liveResponse);
  }

  /**
   * Feeds the live stream from the body the application returned after
   * `write()`, as the client reads; `close()` runs in `chunks()`'s `finally`,
   * or here when the client left before the body came.
   */
  async pump(body: ResponseBody, gen?: AsyncGenerator<Uint8Array, void, undefined>): Promise<void> {
    const live = this.live!;
    const declared = this.declaredLength();
    if (gen === undefined) {
      const wrong = bodyError(body);
      if (wrong !== undefined || this.finished) {
        await this.closeQuietly(body);
        if (wrong !== undefined && !this.finished) {
          this.report("application", wrong);
          this.cutLive(wrong);
        }
        return;
      }
      gen = this.chunks(body);
    }
    this.pumped = { body, gen };
    try {
      for (;;) {
        while ((live.desiredSize ?? 0) <= 0 && !this.finished) {
          await new Promise<void>((resolve) => (this.wake = resolve));
        }
        if (this.finished) break;
        this.pulling = true;
        const r = await gen.next();
        this.pulling = false;
        if (this.finished) break;
        if (r.done) {
          if (declared !== undefined && this.bytes < declared) {
            throw new ProtocolError(
              "headers.content_length",
              `Cannot finish body: Content-Length says ${declared} bytes but the body ended after ${this.bytes}`,
            );
          }
          live.close();
          this.finishNow("end");
          return;
        }
        if (r.value.length > 0) this.enqueue(live, r.value, declared);
      }
      await this.stop(gen); // the client left: finalize the body, close() it
    } catch (error) {
      this.pulling = false;
      if (this.finished) return;
      this.report("iterable", error);
      await this.stop(gen);
      this.cutLive(error);
    }
  }

  /** Cuts the live stream, once what `write()` queued has gone out. */
  cutLive(error: unknown): void {
    const reason = `response cut after the headers were sent: ${describeError(error)}`;
    this.finishNow("cut", reason);
    const cut = new Error(reason);
    cut.stack = `wsgi: ${escapeControls(reason)}`;
    const signal = this.shared.options.throwErrors ? error as Error : cut;
    // An empty queue (desiredSize at the high-water mark, 1) can be cut now;
    // else pull() cuts it when the client has taken the rest.
    if ((this.live!.desiredSize ?? 0) >= 1) this.live!.error(signal);
    else this.cutting = signal;
  }

  /**
   * Calls the application and answers with its response (or a 500 page).
   *
   * Synchronous as long as nothing is: a plain array body with a plain (or
   * no) `close()` is answered without a single `await`, so the hot path
   * makes no promises of its own. Whatever is async (a Promise of a body, an
   * async `close()`, a streamed body) goes through the async helpers below.
   */
  run(app: Application): Response | Promise<Response> {
    const request = this.request;
    const options = this.shared.environ;
    options.errors = this.errorStream();
    options.remoteAddr = this.peer;
    options.method = this.method;
    const environ = buildEnviron(request, options, this);
    // Nothing of this exchange stays reachable from the shared object.
    options.errors = this.shared.errors;
    options.remoteAddr = undefined;
    // The body's length: CONTENT_LENGTH, or unknown (read to the end).
    const cl = environ.CONTENT_LENGTH;
    let length: number | undefined;
    let dropped = false;
    if (bodyDropped(this.method)) {
      // Deno.serve gives a GET or HEAD no body; if one came, say so in the environ too.
      length = 0;
      if ((cl !== undefined && cl !== "0") || environ["wsgi.input_terminated"] === true) {
        dropped = true;
        delete environ.CONTENT_LENGTH;
        delete environ["wsgi.input_terminated"];
      }
    } else length = cl === undefined ? undefined : Number(cl);
    const tooLarge = length !== undefined && length > this.shared.limit;
    // A refused body is not touched: Deno closes the connection after the 413.
    if (tooLarge) length = 0;
    const input = new Input(request, length, this.inputOptions());
    this.input = input;
    environ["wsgi.input"] = input;
    this.environ = environ;
    this.onEnviron(
      dropped
        ? `The ${this.method} request carried a body (${
          cl !== undefined ? `Content-Length: ${cl}` : "Transfer-Encoding: chunked"
        }) that Deno.serve does not pass on: wsgi.input is empty and CONTENT_LENGTH is left out; send such data with POST, or in the query string`
        : undefined,
    );
    if (tooLarge) {
      return this.fail(
        "gateway",
        new RequestBodyTooLarge(
          `Cannot accept the request body: Content-Length says ${cl} bytes, over the limit of ${
            showBytes(this.shared.limit)
          }; ${RAISE_LIMIT}`,
          this.shared.limit,
        ),
      );
    }
    let result: ResponseBody | Promise<ResponseBody>;
    try {
      this.onCall();
      result = app(environ, this.start_response);
    } catch (error) {
      return this.fail("application", error);
    }
    return isThenable(result) ? this.awaitBody(result) : this.respond(result);
  }

  /**
   * Waits for an application that returned a Promise of its body, and
   * answers early, with the live stream, if it calls `write()` meanwhile.
   */
  awaitBody(result: PromiseLike<ResponseBody>): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      if (this.liveResponse !== undefined) resolve(this.liveResponse);
      else this.early = resolve;
      const settle = (answer: () => Response | Promise<Response>) => {
        try {
          resolve(answer());
        } catch (error) {
          reject(error);
        }
      };
      result.then(
        (body) => settle(() => this.respond(body)),
        (error) => settle(() => this.fail("application", error)),
      );
    });
  }

  /**
   * Answers with the application's body, once it has one: the spine's
   * second half. A streamed body (any iterable but an array) is answered by
   * {@linkcode Exchange.respondStream}, as the client reads it. Every other
   * body (an array of chunks, the fast path, or a value of the wrong type) is
   * checked, closed here, and then answered: its bytes, or a 500 page that
   * names what was wrong.
   *
   * `close()` has one home for each kind of body: here for the others, the
   * `finally` of `chunks()` for a streamed one. Both go through
   * {@linkcode Exchange.close}, which calls it once, whatever happens after.
   *
   * Synchronous as long as nothing is: an array body with a plain (or no)
   * `close()` is answered without a single `await`.
   */
  respond(body: ResponseBody): Response | Promise<Response> {
    if (this.live !== undefined) {
      // write() sent the headers already: the body carries on in the live stream.
      void this.pump(body);
      return this.liveResponse!;
    }
    let problem = bodyError(body);
    if (problem === undefined && !Array.isArray(body)) {
      return body instanceof FileWrapper ? this.respondFile(body) : this.respondStream(body);
    }
    let total = 0;
    let where: ErrorSite = "application";
    if (problem === undefined) {
      const chunks = body as unknown[];
      let i = 0;
      for (; i < chunks.length; i++) {
        const chunk = chunks[i];
        if (!(chunk instanceof Uint8Array)) break;
        total += chunk.length;
      }
      this.onArrayBody(chunks as Uint8Array[], i);
      if (i < chunks.length) {
        problem = chunkError(chunks[i], i, "body chunk");
        where = "iterable";
      }
    }
    const wrong = problem;
    return this.closeThen(
      body,
      wrong === undefined
        ? () => this.sendArray(body as Uint8Array[], total)
        : () => this.fail(where, wrong),
      wrong !== undefined,
    );
  }

  /**
   * Closes a body that is answered at once (`close()` has no later home for
   * it), then answers with `answer`. A `close()` that fails answers a 500
   * page; when the body was already being refused (`refused`), its failure is
   * reported and `answer` (the page that names the first problem) goes on.
   */
  closeThen(
    body: ResponseBody,
    answer: () => Response | Promise<Response>,
    refused: boolean,
  ): Response | Promise<Response> {
    const closeFailed = (error: unknown) => {
      if (!refused) return this.fail("close", error);
      this.report("close", error);
      return answer();
    };
    let closing: Promise<void> | undefined;
    try {
      closing = this.close(body);
    } catch (error) {
      return closeFailed(error);
    }
    return closing === undefined ? answer() : closing.then(answer, closeFailed);
  }

  /**
   * Calls the body's `close()` (or notes that it has none), once per body,
   * and records it. Its callers are `respond()` and the `finally` of
   * `chunks()`, the homes of `close()` (see {@linkcode Exchange.respond}),
   * and {@linkcode Exchange.abandon}: a client that goes away while a
   * streamed body's `next()` is pending cannot wait for that `finally`
   * (JavaScript queues a generator's `return()` behind the pending `next()`),
   * so `close()` is called at once there, and the `finally` that comes later
   * finds it done.
   *
   * Returns a Promise only when `close()` did (and records the event once it
   * settled); a synchronous `close()` that throws, throws here.
   */
  close(body: ResponseBody): Promise<void> | undefined {
    if (this.closed === body) return undefined;
    this.closed = body;
    const close = (body as { close?: unknown } | null | undefined)?.close;
    if (typeof close !== "function") {
      this.onClose(false);
      return undefined;
    }
    const result = close.call(body);
    if (isThenable(result)) return Promise.resolve(result).then(() => this.onClose(true));
    this.onClose(true);
    return undefined;
  }

  /** {@linkcode Exchange.close}, its failure reported rather than thrown. */
  async closeQuietly(body: ResponseBody): Promise<void> {
    try {
      await this.close(body);
    } catch (error) {
      this.report("close", error);
    }
  }

  /** Sends a complete body of `total` bytes, once `close()` was called. */
  sendArray(body: Uint8Array[], total: number): Response | Promise<Response> {
    const problem = this.checkReady(total + this.writtenBytes());
    if (problem) return this.fail("application", problem);
    let payload: Uint8Array | null;
    if (this.written.length === 0) {
      payload = body.length === 1 ? body[0]! : concatBytes(body, total);
    } else payload = concatBytes([...this.written, ...body]);
    this.written = NONE;
    if (isNullBodyStatus(this.code)) payload = null;
    this.bytes = payload === null || this.method === "HEAD" ? 0 : payload.length;
    const response = new Response(payload === null ? null : bodyInit(payload, this.headers), {
      status: this.code,
      headers: this.headers,
    });
    // A recorded exchange read the clock when the body was checked, and after close().
    if (this.wantsEndTime()) this.tick();
    this.sent();
    this.finish("end");
    return response;
  }

  writtenBytes(): number {
    let n = 0;
    for (const w of this.written) n += w.length;
    return n;
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

  declaredLength(): number | undefined {
    const headers = this.headers;
    for (let i = 0; i < headers.length; i++) {
      const [name, value] = headers[i]!;
      if (name.length === 14 && name.toLowerCase() === "content-length") return Number(value);
    }
    return undefined;
  }

  sent(): void {
    this.headers_sent = true;
    this.onHeadersSent();
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
      log({
        remote: this.peer && `${this.peer.hostname}:${this.peer.port}`,
        method: this.method,
        target: this.target,
        status: this.headers_sent ? this.code : 0,
        bytes: this.bytes,
        duration: this.t - this.started,
        outcome,
        time: TIME_ORIGIN + this.t,
      });
    }
  }

  /** Reads the clock if anyone wants the time, then {@linkcode Exchange.finish}. */
  finishNow(outcome: LogEntry["outcome"], reason?: string): void {
    if (this.finished) return;
    if (this.wantsEndTime()) this.tick();
    this.finish(outcome, reason);
  }

  /**
   * Answers a failure before anything was sent: report it, then run the 500
   * page through this same exchange, as any application.
   */
  fail(where: ErrorSite, error: unknown): Response | Promise<Response> {
    this.report(where, error);
    if (this.live !== undefined) {
      // write() sent the headers: what was written goes out, then the connection is cut.
      if (!this.finished) this.cutLive(error);
      return this.liveResponse!;
    }
    if (this.shared.options.throwErrors) {
      this.finishNow("cut", `error: ${describeError(error)}`);
      return Promise.reject(error);
    }
    this.status_set = undefined;
    this.broken = undefined;
    this.headers = NONE;
    this.written = NONE;
    // The page is itself an application; it answers an array, synchronously.
    const page = this.shared.errorPage(error, this.environ);
    return this.respond(page(this.environ, this.start_response) as Uint8Array[]);
  }

  /**
   * The deadline passed (see `./timeout.ts`): a 504 when nothing was sent,
   * else the connection is cut. Either way the exchange is finished and
   * recorded as timed out, and whatever the application does later is
   * neither sent nor recorded.
   */
  expire(ms: number): Response | undefined {
    if (this.finished) return undefined;
    const seconds = ms / 1000;
    const message = `The application did not answer within ${seconds} s (timeout)`;
    this.onTimeout(message);
    this.shared.sink.write(
      `Timed out (${this.method} ${this.environ?.PATH_INFO ?? this.request.url}): ${message}\n`,
    );
    if (!this.headers_sent) {
      this.status_set = undefined;
      this.broken = undefined;
      this.headers = NONE;
      this.written = NONE;
      const response = this.respond(
        timeoutPage(seconds)(this.environ, this.start_response) as Uint8Array[],
      ) as Response;
      this.stopRecording();
      return response;
    }
    const reason = `timed out after ${seconds} s; the response was cut`;
    this.finishNow("timeout", reason);
    this.stopRecording();
    const cut = new Error(reason);
    cut.stack = `wsgi: ${reason}`;
    try {
      this.controller?.error(cut);
    } catch { /* already closed */ }
    return undefined;
  }

  /** Wraps the body in a generator whose `finally` is where `close()` runs. */
  async *chunks(body: ResponseBody): AsyncGenerator<Uint8Array, void, undefined> {
    try {
      let index = 0;
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        if (!(chunk instanceof Uint8Array)) throw chunkError(chunk, index, "body chunk");
        this.onChunk(index, chunk);
        index++;
        yield chunk;
      }
    } finally {
      await this.close(body);
    }
  }

  /**
   * A {@linkcode FileWrapper} body (`wsgi.file_wrapper`): the file's own
   * stream goes to the client block by block, as the client reads, without
   * the application's code in the way; `close()` closes the file once the
   * stream ends, fails, or the client leaves.
   */
  respondFile(body: FileWrapper): Response | Promise<Response> {
    const problem = this.checkReady(isNullBodyStatus(this.code) ? 1 : undefined);
    if (problem) return this.closeThen(body, () => this.fail("application", problem), true);
    if (this.method === "HEAD") {
      // The file is never read: close it, then the headers alone.
      return this.closeThen(body, () => {
        this.stamp();
        return this.sendArray([], 0);
      }, true);
    }
    const source = body.stream().getReader();
    const declared = this.declaredLength();
    const queue = this.written === NONE ? [] : this.written;
    this.written = NONE;
    let index = 0;
    const closeFile = () => {
      try {
        this.close(body);
      } catch (error) {
        this.report("close", error);
      }
    };
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.controller = controller;
        for (const chunk of queue) this.enqueue(controller, chunk, declared);
      },
      pull: async (controller) => {
        try {
          const r = await source.read();
          if (this.finished) return;
          if (r.done) {
            if (declared !== undefined && this.bytes < declared) {
              throw new ProtocolError(
                "headers.content_length",
                `Cannot finish body: Content-Length says ${declared} bytes but the file ended after ${this.bytes}`,
              );
            }
            controller.close();
            closeFile();
            this.finishNow("end");
            return;
          }
          this.onChunk(index++, r.value);
          this.enqueue(controller, r.value, declared);
          if (declared !== undefined && this.bytes === declared) {
            // All the announced bytes are out: Deno may not pull again to see the end.
            controller.close();
            source.cancel().catch(() => {});
            closeFile();
            this.finishNow("end");
          }
        } catch (error) {
          if (this.finished) return;
          this.report("iterable", error);
          source.cancel().catch(() => {});
          closeFile();
          this.cut(controller, error);
        }
      },
      cancel: async () => {
        this.finishNow("aborted", "client disconnected");
        await source.cancel().catch(() => {});
        closeFile();
      },
    }, { highWaterMark: 0 });
    const response = new Response(stream, { status: this.code, headers: this.headers });
    this.stamp();
    this.sent();
    return response;
  }

  /** After the headers went out, the only honest signal is a cut connection. */
  cut(controller: ReadableStreamDefaultController<Uint8Array>, error: unknown): void {
    const reason = `response cut after the headers were sent: ${describeError(error)}`;
    this.finishNow("cut", reason);
    // Deno prints the stream's error; the stack was reported already, so keep it to one line.
    const cut = new Error(reason);
    cut.stack = `wsgi: ${escapeControls(reason)}`;
    controller.error(this.shared.options.throwErrors ? error : cut);
  }

  /** The general path: iterate as the client reads, with backpressure. */
  async respondStream(body: ResponseBody): Promise<Response> {
    const gen = this.chunks(body);
    let first: Uint8Array | undefined;
    try {
      // Before the headers go out, Deno.serve gives no sign that the client
      // left: its request.signal would, but reading it makes Deno 2.9 print a
      // "legacy behavior" warning once a response succeeds. A body stuck here
      // is closed once it yields (the response then finds the client gone) or ends.
      while (this.written.length === 0) {
        const r = await gen.next();
        if (r.done) break;
        if (r.value.length > 0) {
          first = r.value;
          break;
        }
      }
    } catch (error) {
      return this.fail("iterable", error);
    }
    // Timed out while the app made its first chunk: the 504 went out already.
    if (this.finished) {
      await this.stop(gen);
      return new Response(null, { status: 504 });
    }
    if (this.live !== undefined) {
      // The iterable called write() before its first chunk: the live stream carries on.
      if (first !== undefined && !this.finished) {
        this.enqueue(this.live, first, this.declaredLength());
      }
      void this.pump(body, gen);
      return this.liveResponse!;
    }
    const done = first === undefined && this.written.length === 0;
    const problem = this.checkReady(
      done ? 0 : isNullBodyStatus(this.code) ? 1 : undefined,
    );
    if (problem) {
      await this.stop(gen);
      return this.fail("application", problem);
    }
    if (done || this.method === "HEAD") {
      // The body is closed (its generator ended, or is stopped here): answer with no bytes.
      if (!done) await this.stop(gen);
      this.stamp();
      return this.sendArray([], 0);
    }
    const queue = this.written === NONE ? [] : this.written;
    if (first !== undefined) queue.push(first);
    this.written = NONE;
    const declared = this.declaredLength();
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.controller = controller;
        for (const chunk of queue) this.enqueue(controller, chunk, declared);
      },
      pull: async (controller) => {
        try {
          for (;;) {
            this.pulling = true;
            const r = await gen.next();
            this.pulling = false;
            // The client may have gone away while the app was producing.
            if (this.finished) return;
            for (const w of this.written) this.enqueue(controller, w, declared);
            this.written = NONE;
            if (r.done) {
              if (declared !== undefined && this.bytes < declared) {
                throw new ProtocolError(
                  "headers.content_length",
                  `Cannot finish body: Content-Length says ${declared} bytes but the body ended after ${this.bytes}`,
                );
              }
              controller.close();
              this.finishNow("end");
              return;
            }
            if (r.value.length > 0) {
              this.enqueue(controller, r.value, declared);
              return;
            }
          }
        } catch (error) {
          this.pulling = false;
          if (this.finished) return;
          this.report("iterable", error);
          await this.stop(gen);
          this.cut(controller, error);
        }
      },
      cancel: async () => {
        this.finishNow("aborted", "client disconnected");
        if (this.pulling) this.abandon(body, gen);
        else await this.stop(gen);
      },
    }, { highWaterMark: 0 });
    const response = new Response(stream, { status: this.code, headers: this.headers });
    this.stamp();
    this.sent();
    return response;
  }

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

  /**
   * The client went away while the body's `next()` is pending. Returning the
   * generator would wait for that `next()` (JavaScript queues `return()` on
   * an async generator until its pending `await` settles, which may be
   * never), so the body's `close()` is called now, once; the generator is
   * still returned, for its `finally`, whenever it gets there. A body with no
   * `close()` (an async generator) can only be finalized by that queued
   * `return()`: a `lint` event says so, and its `close` event comes when the
   * generator's `finally` has run.
   */
  abandon(body: ResponseBody, gen: AsyncGenerator<Uint8Array, void, undefined>): void {
    if (typeof (body as { close?: unknown }).close === "function") {
      this.closeQuietly(body);
    } else {
      this.onLint(
        "close.queued",
        "The client went away while the body was waiting in an await; the body has no close(), and JavaScript queues return() on an async generator until its pending await settles, so its finally block runs only then. Give the body a close() to be told at once",
      );
    }
    this.stop(gen);
  }

  /** Stops pulling the body: returns the generator, so its `finally` (and `close()`) runs. */
  async stop(gen: AsyncGenerator<Uint8Array, void, undefined>): Promise<void> {
    try {
      await gen.return();
    } catch (error) {
      this.report("close", error);
    }
  }
}

/**
 * The payload of each event, one object per event type reused for every
 * event of that type: a recorder copies what it keeps before `record()`
 * returns (`server/recorder.ts`), so one object serves them all, and a
 * recorded exchange allocates none per event.
 */
const PAYLOAD: { readonly [K in EventType]: EventMap[K] } = {
  request: { method: "", target: "", version: "HTTP/1.1", peer: undefined, headers: NONE },
  environ: { environ: {} },
  call: { app: "" },
  input: { method: "read", size: undefined, bytes: new Uint8Array(0) },
  start_response: { status: "", headers: NONE, exc_info: false, error: undefined },
  write: { index: 0, bytes: new Uint8Array(0) },
  chunk: { index: 0, bytes: new Uint8Array(0) },
  headers_sent: { status: 0, status_line: "", headers: NONE },
  errors: { text: "" },
  error: { where: "gateway", name: "", message: "", stack: undefined },
  lint: { rule: "", message: "" },
  close: { called: false },
  end: { status: 0, bytes: 0 },
  abort: { reason: "", bytes: 0 },
  input_rest: { bytes: new Uint8Array(0), complete: false },
};

/** `wsgi.errors` of a recorded exchange: stderr, and an `errors` event for each text. */
class RecordedErrors extends Errors {
  readonly #exchange: RecordedExchange;

  constructor(sink: TextSink, exchange: RecordedExchange) {
    super(sink);
    this.#exchange = exchange;
  }

  override write(text: string): void {
    super.write(text);
    this.#exchange.onErrorsText(text);
  }
}

/**
 * An exchange that is recorded: the other side of the recording seam. Each
 * hook turns a step of the exchange into an event of `server/recorder.ts`
 * for its {@linkcode ExchangeRecorder}, stamped with the last clock reading,
 * read again where the application's code ran. A recorder that throws is
 * reported once, and the exchange goes on unrecorded.
 */
class RecordedExchange extends Exchange implements InputOptions {
  rec: ExchangeRecorder | undefined;
  /** Rules already recorded as `lint` events (one event per rule per exchange). */
  linted: Set<string> | undefined;
  /** buildEnviron collects the header pairs for the `request` event as it reads them. */
  override requestHeaders: [string, string][] | undefined = [];

  constructor(
    request: Request,
    info: HandlerInfo | undefined,
    shared: Shared,
    started: number,
    rec: ExchangeRecorder,
  ) {
    super(request, info, shared, started);
    this.rec = rec;
  }

  /** Records an event at the last clock reading; a failing recorder is reported once and then left alone. */
  emit<K extends EventType>(type: K, data: EventMap[K]): void {
    const rec = this.rec;
    if (rec === undefined) return;
    try {
      rec.record(type, data, this.t);
    } catch (error) {
      this.rec = undefined;
      recorderFailed(this.shared.sink, error);
    }
  }

  override wantsEndTime(): boolean {
    return true;
  }

  /** Watches the client (`watchClient`) while the app makes its answer: a Promise of a body. */
  override awaitBody(result: PromiseLike<ResponseBody>): Promise<Response> {
    if (this.shared.options.watchClient) this.watchClient();
    return super.awaitBody(result);
  }

  /** ... or a streamed body, until its first chunk. */
  override respondStream(body: ResponseBody): Promise<Response> {
    if (this.shared.options.watchClient) this.watchClient();
    return super.respondStream(body);
  }

  /** A client that leaves before the headers went out is a `client.left` lint, at that moment. */
  watchClient(): void {
    this.request.signal.addEventListener("abort", () => {
      // Also fired after a complete response under Deno's legacy behaviour: then it is no news.
      if (this.finished || this.headers_sent) return;
      this.onLint(
        "client.left",
        "The client went away before the response's headers went out, while the application was still running; what it answers now reaches no one",
      );
    }, { once: true });
  }

  override stamp(): void {
    this.tick();
  }

  override errorStream(): Errors {
    return new RecordedErrors(this.shared.sink, this);
  }

  /** Text written to `wsgi.errors` (from {@linkcode RecordedErrors}). */
  onErrorsText(text: string): void {
    this.tick();
    const p = PAYLOAD.errors;
    p.text = text;
    this.emit("errors", p);
  }

  /** The upload limit, for `wsgi.input` ({@linkcode InputOptions}: this exchange is its input's options). */
  get limit(): number {
    return this.shared.limit;
  }

  /** A read from `wsgi.input` ({@linkcode InputOptions}). */
  onRead(method: EventMap["input"]["method"], size: number | undefined, bytes: Uint8Array): void {
    this.tick();
    const p = PAYLOAD.input;
    p.method = method;
    p.size = size;
    p.bytes = bytes;
    this.emit("input", p);
  }

  override inputOptions(): InputOptions {
    return this;
  }

  override onEnviron(dropped: string | undefined): void {
    // All at the arrival's reading: only the gateway's own code ran since.
    const request = PAYLOAD.request;
    request.method = this.method;
    request.target = this.target;
    request.peer = this.peer;
    request.headers = this.requestHeaders!;
    this.emit("request", request);
    const environ = PAYLOAD.environ;
    environ.environ = this.environ;
    this.emit("environ", environ);
    // The seam for the validator's lint events, after the snapshot (it is no request data).
    const lint: LintReport = (rule, message) => this.onLint(String(rule), String(message));
    this.environ[LINT_KEY] = lint;
    if (dropped !== undefined) this.onLint("request.body_dropped", dropped);
  }

  override onCall(): void {
    const p = PAYLOAD.call;
    p.app = this.shared.options.appName ?? "application";
    this.emit("call", p);
  }

  override onStartResponse(
    status: unknown,
    headers: unknown,
    excInfo: boolean,
    error?: string,
  ): void {
    this.tick();
    const p = PAYLOAD.start_response;
    p.status = status;
    p.headers = headers;
    p.exc_info = excInfo;
    p.error = error;
    this.emit("start_response", p);
  }

  override onWrite(index: number, data: Uint8Array): void {
    this.tick();
    const p = PAYLOAD.write;
    p.index = index;
    p.bytes = data;
    this.emit("write", p);
  }

  override onArrayBody(body: Uint8Array[], count: number): void {
    // One reading for every chunk: they are all here already.
    this.tick();
    const p = PAYLOAD.chunk;
    for (let i = 0; i < count; i++) {
      p.index = i;
      p.bytes = body[i]!;
      this.emit("chunk", p);
    }
  }

  override onChunk(index: number, chunk: Uint8Array): void {
    this.tick();
    const p = PAYLOAD.chunk;
    p.index = index;
    p.bytes = chunk;
    this.emit("chunk", p);
  }

  override onClose(called: boolean): void {
    // Only a close() the body had ran the application's code.
    if (called) this.tick();
    const p = PAYLOAD.close;
    p.called = called;
    this.emit("close", p);
  }

  override onHeadersSent(): void {
    const p = PAYLOAD.headers_sent;
    p.status = this.code;
    p.status_line = this.status_set!;
    p.headers = this.headers;
    this.emit("headers_sent", p);
  }

  override onError(where: ErrorSite, error: unknown): void {
    if (this.rec === undefined) return;
    const e = error instanceof Error ? error : undefined;
    this.tick();
    const p = PAYLOAD.error;
    p.where = where;
    p.name = e?.name ?? typeof error;
    p.message = e?.message ?? String(error);
    p.stack = e?.stack;
    this.emit("error", p);
    if (error instanceof ProtocolError) this.onLint(error.rule, error.message);
  }

  override onLint(rule: string, message: string): void {
    if (this.rec === undefined) return;
    this.linted ??= new Set();
    if (this.linted.has(rule)) return;
    this.linted.add(rule);
    this.tick();
    const p = PAYLOAD.lint;
    p.rule = rule;
    p.message = message;
    this.emit("lint", p);
  }

  override onTimeout(message: string): void {
    this.tick();
    const p = PAYLOAD.error;
    p.where = "gateway";
    p.name = "TimeoutError";
    p.message = message;
    p.stack = undefined;
    this.emit("error", p);
  }

  override stopRecording(): void {
    this.rec = undefined;
  }

  override onFinish(outcome: LogEntry["outcome"], reason: string | undefined): void {
    if (outcome === "end") {
      const p = PAYLOAD.end;
      p.status = this.code;
      p.bytes = this.bytes;
      this.emit("end", p);
    } else {
      const p = PAYLOAD.abort;
      p.reason = reason ?? outcome;
      p.bytes = this.bytes;
      this.emit("abort", p);
    }
  }

  /**
   * Lets the request body go, as an unrecorded exchange does, but after a
   * complete response first drains what the application left unread, up to
   * what the recorder still wants, for an `input_rest` event: the request as
   * the client sent it (`Input.finish` says how, and why it never changes
   * what the application reads).
   */
  override finishInput(outcome: LogEntry["outcome"]): void {
    const want = outcome === "end" ? this.rec?.restWanted ?? 0 : 0;
    if (!(want > 0)) {
      this.input.finish();
      return;
    }
    this.input.finish({
      max: want,
      done: (bytes, complete) => {
        this.tick();
        const p = PAYLOAD.input_rest;
        p.bytes = bytes;
        p.complete = complete;
        this.emit("input_rest", p);
      },
    });
  }
}

/** Says on `sink` that a recorder failed; the exchange goes on unrecorded. */
function recorderFailed(sink: TextSink, error: unknown): void {
  sink.write(`Recorder failed; this exchange is no longer recorded: ${describeForLog(error)}\n`);
}

/** `performance.timeOrigin`, read once: epoch time = TIME_ORIGIN + performance.now(). */
const TIME_ORIGIN = performance.timeOrigin;

/**
 * Turns a WSGI application into a fetch handler.
 *
 * The handler works wherever fetch handlers do: `Deno.serve(handler)`,
 * `export default { fetch: handler }` under `deno serve` (and `--parallel`),
 * and in tests, called directly with a `new Request(...)`.
 *
 * @example
 * ```ts
 * import { toFetch } from "./gateway.ts";
 * const fetch = toFetch((environ, start_response) => {
 *   start_response("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode(`Hello, ${environ.PATH_INFO}`)];
 * });
 * const response = await fetch(new Request("http://localhost/web"));
 * console.assert(await response.text() === "Hello, /web");
 * ```
 */
export function toFetch(app: Application, options: GatewayOptions = {}): FetchHandler {
  if (typeof app !== "function") {
    throw new TypeError(`Cannot serve application: it must be a function (got ${show(app)})`);
  }
  const sink = options.errors ?? stderrSink;
  const errors = new Errors(sink);
  const max = options.maxRequestBody ?? DEFAULT_MAX_REQUEST_BODY;
  if (!(Number.isInteger(max) && max >= 0)) {
    throw new RangeError(
      `Cannot serve application: maxRequestBody must be a whole number of bytes, 0 for no limit (got ${
        show(max)
      })`,
    );
  }
  const limit = max === 0 ? Infinity : max;
  const shared: Shared = {
    limit,
    input: { limit },
    options,
    sink,
    log: options.log === true ? requestLogger(sink) : options.log || undefined,
    errors,
    environ: {
      // Replaced once built: the input's length is CONTENT_LENGTH, found while
      // building (a request.headers.get() of its own would cost a native call).
      input: NO_INPUT,
      errors,
      serverName: options.serverName,
      serverPort: options.serverPort,
      multiprocess: options.multiprocess,
      urlScheme: options.urlScheme,
    },
    errorPage: typeof options.debug === "function"
      ? options.debug
      : (error) => errorPage(error, options.debug === true),
    deadlines: options.timeout ? new Deadlines(options.timeout) : undefined,
  };
  const recorder = options.recorder;
  return (request, info) => {
    try {
      const started = performance.now();
      let rec: ExchangeRecorder | undefined;
      if (recorder !== undefined) {
        try {
          rec = recorder.begin(request, started);
        } catch (error) {
          recorderFailed(sink, error);
        }
      }
      const exchange = rec === undefined
        ? new Exchange(request, info, shared, started)
        : new RecordedExchange(request, info, shared, started, rec);
      const response = exchange.run(app);
      if (!(response instanceof Promise)) return Promise.resolve(response);
      return shared.deadlines ? shared.deadlines.watch(exchange, response) : response;
    } catch (error) {
      return Promise.reject(error);
    }
  };
}
