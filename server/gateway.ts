/**
 * The gateway: a WSGI application turned into a fetch handler.
 *
 * `toFetch(app)` returns `(request, info?) => Promise<Response>`, the shape
 * `Deno.serve`, `deno serve` and every fetch-based runtime accept. Everything
 * PEP 3333 asks of a server happens behind it: the environ is built, the
 * application is called, `start_response` is checked against the rules, the
 * body is iterated with backpressure, and `close()` is called exactly once.
 *
 * This file is the spine, to be read as wsgiref's `BaseHandler.run()`:
 * {@linkcode run} sets up the environ, calls the application and hands its
 * body to {@linkcode respond}, which picks the way of answering it. Every
 * way ends in the exchange's `finish()` (the log line, the recorder's last
 * event). A failure before the headers went out is answered by `fail()`
 * with the 500 page, which goes the same way as any body; a deadline that
 * passed, by {@linkcode expire} with the 504. The files:
 *
 * | file | concern |
 * |---|---|
 * | `gateway_options.ts` | the options, and the handler's shape |
 * | `exchange.ts` | one exchange's state; `start_response` and `write()`; `finish()` |
 * | `respond_array.ts` | a body answered at once: an array (the fast path), the 500 page |
 * | `respond_stream.ts` | any other iterable, streamed as the client reads |
 * | `write_stream.ts` | the body returned after `write()` sent the headers |
 * | `file_body.ts` | a `wsgi.file_wrapper` body |
 * | `close.ts` | the body's `close()`: once, and its one home per kind of body |
 * | `recorded_exchange.ts` | the recording hooks, for an exchange with a recorder |
 * | `timeout.ts` | the deadlines of exchanges that went asynchronous |
 *
 * Headers go out when the first non-empty chunk is ready or the body ends,
 * never before (PEP 3333). Until then any failure becomes a 500 page that
 * names it; after, the connection is cut so that the client cannot mistake a
 * broken response for a complete one.
 *
 * @module
 */

import type { Application, ResponseBody } from "./types.ts";
import type { ExchangeRecorder } from "./recorder.ts";
import { blankLogLine, Errors, lineLogger, stderrSink } from "./log.ts";
import { bodyError, show } from "./rules.ts";
import { errorPage, timeoutPage } from "./error_page.ts";
import { Deadlines } from "./timeout.ts";
import { FileWrapper } from "./file_wrapper.ts";
import { isThenable } from "./close.ts";
import {
  DEFAULT_MAX_REQUEST_BODY,
  type FetchHandler,
  type GatewayOptions,
} from "./gateway_options.ts";
import { Exchange, NO_INPUT, type Shared } from "./exchange.ts";
import { buildEnviron } from "./environ.ts";
import { leaveOutDroppedBody } from "./environ_rule.ts";
import { Input, RAISE_LIMIT, RequestBodyTooLarge, showBytes } from "./input.ts";
import { RecordedExchange, recorderFailed } from "./recorded_exchange.ts";
import { fail, respondArray } from "./respond_array.ts";
import { respondStream } from "./respond_stream.ts";
import { pump } from "./write_stream.ts";
import { respondFile } from "./file_body.ts";

export { DEFAULT_MAX_REQUEST_BODY } from "./gateway_options.ts";
export type { FetchHandler, GatewayOptions, HandlerInfo, TextSink } from "./gateway_options.ts";

/**
 * Runs one exchange: builds the environ, calls the application, answers
 * with its body (wsgiref's `BaseHandler.run()`). Synchronous as long as
 * nothing is: an array body with a plain (or no) `close()` is answered
 * without a single `await`.
 */
function run(ex: Exchange, app: Application): Response | Promise<Response> {
  const refused = setupEnviron(ex);
  if (refused !== undefined) return fail(ex, "gateway", refused);
  let result: ResponseBody | Promise<ResponseBody>;
  try {
    ex.onCall();
    result = app(ex.environ, ex.start_response);
  } catch (error) {
    return fail(ex, "application", error);
  }
  return isThenable(result) ? awaitBody(ex, result) : respond(ex, result);
}

/**
 * Answers with the application's body, by its kind: after `write()` sent the
 * headers, it feeds the same stream; an array (or a value of the wrong type)
 * is answered at once; a file wrapper streams its file; any other iterable
 * is streamed as the client reads.
 */
function respond(ex: Exchange, body: ResponseBody): Response | Promise<Response> {
  if (ex.live !== undefined) {
    void pump(ex, body);
    return ex.liveResponse!;
  }
  if (Array.isArray(body) || bodyError(body) !== undefined) return respondArray(ex, body);
  return body instanceof FileWrapper ? respondFile(ex, body) : respondStream(ex, body);
}

/**
 * Waits for an application that returned a Promise of its body, and
 * answers early, with the live stream, if it calls `write()` meanwhile.
 */
function awaitBody(ex: Exchange, result: PromiseLike<ResponseBody>): Promise<Response> {
  ex.onPending();
  return new Promise<Response>((resolve, reject) => {
    if (ex.liveResponse !== undefined) resolve(ex.liveResponse);
    else ex.early = resolve;
    const settle = (answer: () => Response | Promise<Response>) => {
      try {
        resolve(answer());
      } catch (error) {
        reject(error);
      }
    };
    result.then(
      (body) => settle(() => respond(ex, body)),
      (error) => settle(() => fail(ex, "application", error)),
    );
  });
}

/**
 * The deadline passed (see `./timeout.ts`): a 504 when nothing was sent,
 * else the connection is cut. Either way the exchange is finished and
 * recorded as timed out, and whatever the application does later is
 * neither sent nor recorded.
 */
function expire(ex: Exchange, ms: number): Response | undefined {
  if (ex.finished) return undefined;
  const seconds = ms / 1000;
  const message = `The application did not answer within ${seconds} s (timeout)`;
  ex.onTimeout(message);
  ex.shared.sink.write(
    `Timed out (${ex.method} ${ex.environ?.PATH_INFO ?? ex.request.url}): ${message}\n`,
  );
  if (!ex.headers_sent) {
    ex.unsend();
    const page = timeoutPage(seconds)(ex.environ, ex.start_response) as Uint8Array[];
    const response = respond(ex, page) as Response;
    ex.stopRecording();
    return response;
  }
  const reason = `timed out after ${seconds} s; the response was cut`;
  ex.finishNow("timeout", reason);
  ex.stopRecording();
  const cut = new Error(reason);
  cut.stack = `wsgi: ${reason}`;
  try {
    ex.controller?.error(cut);
  } catch { /* already closed */ }
  return undefined;
}

/** The methods whose body `Deno.serve` drops: it gives their `Request` none. */
function bodyDropped(method: string): boolean {
  return method === "GET" || method === "HEAD";
}

/**
 * Builds the environ and its `wsgi.input` (wsgiref's `setup_environ`).
 * Returns the error that refuses the request before the application is
 * called: a `Content-Length` over the limit.
 */
function setupEnviron(ex: Exchange): RequestBodyTooLarge | undefined {
  const options = ex.shared.environ;
  options.errors = ex.errorStream();
  options.remoteAddr = ex.peer;
  options.method = ex.method;
  options.url = ex.url;
  const environ = buildEnviron(ex.request, options, ex);
  // Nothing of this exchange stays reachable from the shared object.
  options.errors = ex.shared.errors;
  options.remoteAddr = undefined;
  options.url = undefined;
  // The body's length: CONTENT_LENGTH, or unknown (read to the end).
  const cl = environ.CONTENT_LENGTH;
  let length: number | undefined;
  let dropped = false;
  if (bodyDropped(ex.method)) {
    // Deno.serve gives a GET or HEAD no body; if one came, say so in the environ too.
    length = 0;
    if ((cl !== undefined && cl !== "0") || environ["wsgi.input_terminated"] === true) {
      dropped = true;
      leaveOutDroppedBody(environ);
    }
  } else length = cl === undefined ? undefined : Number(cl);
  const limit = ex.shared.limit;
  const tooLarge = length !== undefined && length > limit;
  // A refused body is not touched: Deno closes the connection after the 413.
  if (tooLarge) length = 0;
  const input = new Input(ex.request, length, ex.inputOptions());
  ex.input = input;
  environ["wsgi.input"] = input;
  ex.environ = environ;
  ex.onEnviron(
    dropped
      ? `The ${ex.method} request carried a body (${
        cl !== undefined ? `Content-Length: ${cl}` : "Transfer-Encoding: chunked"
      }) that Deno.serve does not pass on: wsgi.input is empty and CONTENT_LENGTH is left out; send such data with POST, or in the query string`
      : undefined,
  );
  if (!tooLarge) return undefined;
  return new RequestBodyTooLarge(
    `Cannot accept the request body: Content-Length says ${cl} bytes, over the limit of ${
      showBytes(limit)
    }; ${RAISE_LIMIT}`,
    limit,
  );
}

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
    log: options.log ? lineLogger(options.log, sink) : undefined,
    line: blankLogLine(),
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
    respond,
    deadlines: options.timeout ? new Deadlines(options.timeout, expire) : undefined,
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
      const response = run(exchange, app);
      if (!(response instanceof Promise)) return Promise.resolve(response);
      return shared.deadlines ? shared.deadlines.watch(exchange, response) : response;
    } catch (error) {
      return Promise.reject(error);
    }
  };
}
