/**
 * `wsgiref.validate`, in TypeScript: middleware that checks that the server
 * and the application both keep to PEP 3333.
 *
 * `validator(app)` goes between the server and the application. Each broken
 * rule is reported three ways: a `lint` event in the inspector (through the
 * seam in `lint.ts`), one warning in the log per rule and route (`warn`,
 * stderr by default), and, with `strict: true`, a {@linkcode ProtocolError}
 * naming the rule, so the gateway answers a 500 that names it. Without
 * `strict` the exchange goes on exactly as it would without the validator
 * (the rules the gateway itself enforces still give their 500). The CLI puts
 * it in front of every application unless `--no-validate`; `--strict` makes it
 * strict.
 *
 * The checks, in wsgiref's order. Each row is one check of CPython's
 * `Lib/wsgiref/validate.py` carried over ("warn": validate.py only warns, so
 * these never become a 500), with the rule id it reports:
 *
 * | rule | check | validate.py |
 * |---|---|---|
 * | `call.arguments` | the application is called with exactly 2 arguments | `len(args) == 2` |
 * | `environ.type` | the environ is a plain object | `type(environ) is dict` |
 * | `environ.required` | `REQUEST_METHOD`, `SERVER_NAME`, `SERVER_PORT`, `wsgi.version`, `wsgi.input`, `wsgi.errors`, `wsgi.multithread`, `wsgi.multiprocess`, `wsgi.run_once` are present | required keys |
 * | `environ.http_content` | no `HTTP_CONTENT_TYPE` or `HTTP_CONTENT_LENGTH` | same |
 * | `environ.query_string` (warn) | `QUERY_STRING` is present | same |
 * | `environ.cgi_string` | keys without a `.` hold strings (`undefined` counts as absent) | same |
 * | `environ.version` | `wsgi.version` is a `[major, minor]` array (Python: a tuple) | same |
 * | `environ.url_scheme` | `wsgi.url_scheme` is `http` or `https` | same |
 * | `environ.input` | `wsgi.input` has `read`, `readline`, `readlines` and async iteration | `check_input` |
 * | `environ.errors` | `wsgi.errors` has `flush`, `write`, `writelines` | `check_errors` |
 * | `environ.method` (warn) | `REQUEST_METHOD` is a known method | same |
 * | `environ.script_name` | `SCRIPT_NAME` is empty or starts with `/` | same |
 * | `environ.path_info` | `PATH_INFO` is empty or starts with `/` | same |
 * | `environ.content_length` | `CONTENT_LENGTH`, when set, is a non-negative integer | same |
 * | `environ.path_required` | `PATH_INFO` is present when `SCRIPT_NAME` is empty | same |
 * | `environ.script_name_slash` | `SCRIPT_NAME` is not `/` (it is `""`, and `PATH_INFO` `/`) | same |
 * | `start_response.arguments` | `start_response` gets 2 or 3 arguments | same |
 * | `status.type` | the status is a string | `check_status` |
 * | `status.code` | it starts with a 3-digit code | same |
 * | `status.range` | the code is at least 100 | same |
 * | `status.format` (warn) | code, one space, a reason phrase | same |
 * | `headers.type` | the headers are an array | `type(headers) is list` |
 * | `headers.pair` | each header is a `[name, value]` array of 2 (Python: a tuple) | same |
 * | `headers.string` | names and values are strings | same |
 * | `headers.status` | no `Status` header (CGI's, not WSGI's) | same |
 * | `headers.name_chars` | no `:` or newline in a name | same |
 * | `headers.name` | a name is a letter, then letters, digits, `-`, `_` | `header_re` |
 * | `headers.name_end` | a name does not end in `-` or `_` | same |
 * | `headers.value` | no control character (`\x00`–`\x1f`) in a value | `bad_header_value_re` |
 * | `content_type.missing` | a `Content-Type` is given, except on 1xx, 204 and 304 | `check_content_type` |
 * | `content_type.forbidden` | no `Content-Type` on 1xx, 204 and 304 | same |
 * | `exc_info.type` | `exc_info` is absent or the caught `Error` (Python: a tuple) | `check_exc_info` |
 * | `write.type` | `write()` gets a `Uint8Array` | `WriteWrapper` |
 * | `input.read_arguments` | `read()` gets at most one argument, an integer (PEP 3333 allows no size, so none is fine) | `InputWrapper.read` |
 * | `input.read_result` | `read()` gives a `Uint8Array` | same |
 * | `input.readline_arguments` | `readline()` gets at most one argument, an integer | same |
 * | `input.readline_result` | `readline()` (and iteration) gives a `Uint8Array` | same |
 * | `input.readlines_arguments` | `readlines()` gets at most one argument, an integer | same |
 * | `input.readlines_result` | `readlines()` gives an array of `Uint8Array` | same |
 * | `input.close` | `wsgi.input.close()` is never called | same |
 * | `errors.write_type` | `wsgi.errors.write()` gets a string | `ErrorWrapper` |
 * | `errors.writelines_type` | `writelines()` gets strings | same |
 * | `errors.close` | `wsgi.errors.close()` is never called | same |
 * | `body.missing` | the application returns a body, if only `[]` | `iterator is not None` |
 * | `body.string` | the body is not a string or a `Uint8Array` (it would go out char by char) | `check_iterator` |
 * | `body.chunk_type` | each chunk is a `Uint8Array` | `IteratorWrapper.__next__` |
 * | `body.before_start` | no chunk is produced before `start_response` was called | same |
 * | `body.after_close` | the body is not iterated after `close()` | same |
 *
 * Not carried over: "no keyword arguments" (JavaScript has none) and "the
 * iterator was closed" (validate.py checks it in `__del__`; JavaScript has no
 * dependable finalizer, and our gateway calls `close()` exactly once on every
 * path, which its own tests check).
 *
 * The validator changes nothing it passes on, but it wraps what it checks:
 * `wsgi.input` and `wsgi.errors` in the environ, `start_response`, `write`,
 * and a body that is not a plain array (an array is checked as it is, so the
 * gateway's synchronous fast path stays).
 *
 * @module
 */

import type {
  Application,
  Environ,
  ErrorStream,
  Header,
  InputStream,
  ResponseBody,
  StartResponse,
  Write,
} from "./types.ts";
import { ProtocolError, show } from "./rules.ts";
import {
  checkContentType,
  checkEnviron,
  checkHeaders,
  checkStatus,
  type Failer,
} from "./validate_rules.ts";
import { lint } from "./lint.ts";
import { escapeControls, stderrSink } from "./log.ts";

/** Options of {@linkcode validator}. */
export interface ValidatorOptions {
  /**
   * Turn every violation (but the "warn" ones) into a {@linkcode ProtocolError}
   * that names the rule: thrown where it is found, and thrown again when the
   * application returns, so the response is a 500 even if the application
   * caught it.
   */
  strict?: boolean;
  /**
   * Where the warning line goes, once per rule and route; stderr by default.
   * Pass `() => {}` to keep only the `lint` events.
   */
  warn?: (text: string) => void;
}

/** Rules that validate.py only warns about: never a 500, even when strict. */
const WARN_ONLY = new Set(["environ.query_string", "environ.method", "status.format"]);

/** Route keys remembered for "once per rule and route"; past this, once per rule. */
const SEEN_MAX = 1024;

// deno-lint-ignore no-control-regex -- escaping control characters is the point
const CONTROLS = /[\x00-\x1f\x7f-\x9f]/g;

/**
 * A message for the terminal. Messages quote request data with `show()`
 * (JSON, so backslashes are escapes already): only a control character that
 * slipped through is escaped, without doubling those backslashes. The route,
 * raw request data, goes through the log's own `escapeControls`.
 */
function controlsEscaped(message: string): string {
  return message.replace(CONTROLS, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** What one validator remembers across requests: which warnings it already gave. */
class Reporter {
  readonly strict: boolean;
  readonly #warn: (text: string) => void;
  readonly #seen = new Set<string>();
  readonly #seenRules = new Set<string>();

  constructor(options: ValidatorOptions) {
    this.strict = options.strict ?? false;
    this.#warn = options.warn ?? ((text) => stderrSink.write(text));
  }

  /** Lints, warns once per rule and route, and returns the error to throw when strict. */
  report(exchange: Exchange, rule: string, message: string): ProtocolError | undefined {
    lint(exchange.environ, rule, message);
    const key = `${rule} ${exchange.route}`;
    let fresh: boolean;
    if (this.#seen.has(key)) fresh = false;
    else if (this.#seen.size < SEEN_MAX) {
      this.#seen.add(key);
      fresh = true;
    } else fresh = !this.#seenRules.has(rule);
    this.#seenRules.add(rule);
    if (fresh) {
      this.#warn(
        `Validator: ${controlsEscaped(message)} (rule ${rule}; ${
          escapeControls(exchange.route)
        })\n`,
      );
    }
    if (!this.strict || WARN_ONLY.has(rule)) return undefined;
    const error = new ProtocolError(rule, message);
    exchange.violation ??= error;
    return error;
  }
}

/** The state of one validated call. */
class Exchange implements Failer {
  readonly environ: Record<string, unknown>;
  readonly reporter: Reporter;
  /** `REQUEST_METHOD`, `SCRIPT_NAME` and `PATH_INFO` as the application got them. */
  readonly #method: unknown;
  readonly #script: unknown;
  readonly #path: unknown;
  started = false;
  closed = false;
  /** The first violation, when strict: thrown again when the application returns. */
  violation: ProtocolError | undefined;

  constructor(environ: Record<string, unknown>, reporter: Reporter) {
    this.environ = environ;
    this.reporter = reporter;
    this.#method = environ.REQUEST_METHOD;
    this.#script = environ.SCRIPT_NAME;
    this.#path = environ.PATH_INFO;
  }

  /** `METHOD SCRIPT_NAME+PATH_INFO`, for the warning: made only when a rule broke. */
  get route(): string {
    const s = (v: unknown) => typeof v === "string" ? v : "";
    return `${s(this.#method)} ${s(this.#script)}${s(this.#path)}`;
  }

  /** Reports a broken rule; throws it when strict. */
  fail(rule: string, message: string): void {
    const error = this.reporter.report(this, rule, message);
    if (error) throw error;
  }
}

function isInteger(value: unknown): boolean {
  return value === undefined || value === null || Number.isInteger(value);
}

/** `wsgi.input`, checked: only the methods PEP 3333 gives it. */
class InputWrapper implements InputStream {
  readonly #input: InputStream;
  readonly #x: Exchange;
  constructor(input: InputStream, x: Exchange) {
    this.#input = input;
    this.#x = x;
  }

  #args(method: string, args: unknown[]): void {
    if (!(args.length <= 1 && isInteger(args[0]))) {
      this.#x.fail(
        `input.${method}_arguments`,
        `wsgi.input.${method}() takes at most one argument, an integer size (got ${
          args.map(show).join(", ") || "none"
        })`,
      );
    }
  }

  #bytes(method: string, value: unknown): void {
    if (!(value instanceof Uint8Array)) {
      this.#x.fail(
        `input.${method}_result`,
        `wsgi.input.${method}() must give a Uint8Array (got ${show(value)}): a server bug`,
      );
    }
  }

  async read(...args: [size?: number]): Promise<Uint8Array<ArrayBuffer>> {
    this.#args("read", args);
    const value = await this.#input.read(...args);
    this.#bytes("read", value);
    return value;
  }

  async readline(...args: [size?: number]): Promise<Uint8Array<ArrayBuffer>> {
    this.#args("readline", args);
    const value = await this.#input.readline(...args);
    this.#bytes("readline", value);
    return value;
  }

  async readlines(...args: [hint?: number]): Promise<Uint8Array<ArrayBuffer>[]> {
    this.#args("readlines", args);
    const lines = await this.#input.readlines(...args);
    if (!(Array.isArray(lines) && lines.every((line) => line instanceof Uint8Array))) {
      this.#x.fail(
        "input.readlines_result",
        `wsgi.input.readlines() must give an array of Uint8Array (got ${
          show(lines)
        }): a server bug`,
      );
    }
    return lines;
  }

  /** Iterates lines, as validate.py does: by `readline()`. */
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array<ArrayBuffer>, void, undefined> {
    for (;;) {
      const line = await this.readline();
      if (line.length === 0) return;
      yield line;
    }
  }

  close(): void {
    this.#x.fail(
      "input.close",
      "wsgi.input.close() must not be called; the server closes the input",
    );
  }

  toString(): string {
    return String(this.#input);
  }
}

/** `wsgi.errors`, checked. */
class ErrorsWrapper implements ErrorStream {
  readonly #errors: ErrorStream;
  readonly #x: Exchange;
  constructor(errors: ErrorStream, x: Exchange) {
    this.#errors = errors;
    this.#x = x;
  }

  write(text: string): void {
    if (typeof text !== "string") {
      this.#x.fail("errors.write_type", `wsgi.errors.write() takes a string (got ${show(text)})`);
    }
    this.#errors.write(text);
  }

  writelines(lines: Iterable<string>): void {
    for (const line of lines) {
      if (typeof line !== "string") {
        this.#x.fail(
          "errors.writelines_type",
          `wsgi.errors.writelines() takes strings (got ${show(line)})`,
        );
      }
      this.#errors.write(line);
    }
  }

  flush(): void {
    this.#errors.flush();
  }

  close(): void {
    this.#x.fail(
      "errors.close",
      "wsgi.errors.close() must not be called; the server owns the stream",
    );
  }

  toString(): string {
    return String(this.#errors);
  }
}

function checkChunk(x: Exchange, chunk: unknown): void {
  if (!(chunk instanceof Uint8Array)) {
    x.fail(
      "body.chunk_type",
      `The body yielded ${show(chunk)}, not a Uint8Array${
        typeof chunk === "string" ? "; encode text with new TextEncoder().encode(text)" : ""
      }`,
    );
  }
  if (!x.started) {
    x.fail(
      "body.before_start",
      "The body produced a chunk before start_response() was called; call start_response() first",
    );
  }
}

/** A body that is not a plain array, checked as the gateway iterates it. */
function wrapBody(x: Exchange, body: ResponseBody): ResponseBody {
  const source = body as AsyncIterable<Uint8Array>;
  async function* chunks(): AsyncGenerator<Uint8Array, void, undefined> {
    for await (const chunk of source) {
      if (x.closed) x.fail("body.after_close", "The body was iterated after close()");
      checkChunk(x, chunk);
      yield chunk;
    }
  }
  const wrapped = chunks() as AsyncGenerator<Uint8Array, void, undefined> & ResponseBody;
  wrapped.close = () => {
    x.closed = true;
    return body.close?.();
  };
  return wrapped;
}

function checkBody(x: Exchange, body: unknown): ResponseBody {
  if (body === null || body === undefined || body === false) {
    x.fail(
      "body.missing",
      `The application must return an iterable of chunks, if only [] (got ${String(body)})`,
    );
    return body as unknown as ResponseBody;
  }
  if (typeof body === "string" || body instanceof Uint8Array) {
    x.fail(
      "body.string",
      "The application returned a string or bytes as its body; return [bytes], a list of one chunk",
    );
    return body as unknown as ResponseBody;
  }
  if (Array.isArray(body)) {
    for (const chunk of body) checkChunk(x, chunk);
    return body;
  }
  const b = body as Record<symbol, unknown>;
  if (typeof b[Symbol.iterator] !== "function" && typeof b[Symbol.asyncIterator] !== "function") {
    return body as ResponseBody; // not iterable: the gateway names that rule
  }
  return wrapBody(x, body as ResponseBody);
}

/** Closes a body the application returned before a strict violation is thrown. */
async function closeQuietly(body: unknown): Promise<void> {
  try {
    await (body as { close?: () => unknown } | null)?.close?.();
  } catch {
    // The violation is what the response reports.
  }
}

/** Checks the returned body; when strict and a rule broke, closes it and throws the rule. */
function finishBody(x: Exchange, body: ResponseBody): ResponseBody | Promise<ResponseBody> {
  let checked: ResponseBody;
  try {
    checked = checkBody(x, body);
  } catch (error) {
    // Strict, and the body broke a rule: it is closed, as the gateway would have.
    return closeQuietly(body).then(() => Promise.reject(error));
  }
  if (x.violation) return closeQuietly(checked).then(() => Promise.reject(x.violation));
  return checked;
}

/**
 * Wraps an application in the checks of wsgiref's `validate.py` (see the
 * module doc for every rule).
 *
 * @example
 * ```ts
 * import { validator } from "./validate.ts";
 * import { toFetch } from "./gateway.ts";
 * const warnings: string[] = [];
 * const app = validator((_environ, start_response) => {
 *   start_response("200 OK", []); // no Content-Type
 *   return [new TextEncoder().encode("hi")];
 * }, { warn: (text) => warnings.push(text) });
 * await (await toFetch(app)(new Request("http://localhost/"))).text();
 * console.assert(warnings[0]?.includes("content_type.missing"));
 * ```
 */
export function validator(app: Application, options: ValidatorOptions = {}): Application {
  if (typeof app !== "function") {
    throw new TypeError(`Cannot validate application: it must be a function (got ${show(app)})`);
  }
  const reporter = new Reporter(options);
  // Plain functions reading `arguments.length`, not rest parameters: no array per call.
  function lintApp(
    environ: Environ,
    start_response: StartResponse,
  ): ResponseBody | Promise<ResponseBody> {
    const isObject = typeof environ === "object" && environ !== null;
    const x = new Exchange(isObject ? environ : {}, reporter);
    if (arguments.length !== 2) {
      x.fail(
        "call.arguments",
        `The application takes exactly 2 arguments, (environ, start_response) (got ${arguments.length})`,
      );
    }
    const proto = isObject ? Object.getPrototypeOf(environ) : undefined;
    if (!(isObject && (proto === Object.prototype || proto === null))) {
      x.fail("environ.type", `The environ must be a plain object (got ${show(environ)})`);
    }
    checkEnviron(x, environ);
    if (environ["wsgi.input"]) {
      environ["wsgi.input"] = new InputWrapper(environ["wsgi.input"], x);
    }
    if (environ["wsgi.errors"]) {
      environ["wsgi.errors"] = new ErrorsWrapper(environ["wsgi.errors"], x);
    }
    function startResponse(status: string, headers: Header[], exc_info?: unknown): Write {
      const count = arguments.length;
      if (count !== 2 && count !== 3) {
        x.fail(
          "start_response.arguments",
          `start_response() takes 2 or 3 arguments, (status, headers, exc_info?) (got ${count})`,
        );
      }
      checkStatus(x, status);
      checkHeaders(x, headers);
      checkContentType(x, status, headers);
      if (exc_info !== undefined && exc_info !== null && !(exc_info instanceof Error)) {
        x.fail(
          "exc_info.type",
          `exc_info must be the caught Error, or absent (got ${show(exc_info)})`,
        );
      }
      x.started = true;
      const write = count === 2
        ? start_response(status, headers)
        : start_response(status, headers, exc_info);
      return (data) => {
        if (!(data instanceof Uint8Array)) {
          x.fail("write.type", `write() takes a Uint8Array (got ${show(data)})`);
        }
        return write(data);
      };
    }
    const result = app(environ, startResponse);
    if (typeof (result as PromiseLike<ResponseBody>)?.then === "function") {
      return Promise.resolve(result).then((body) => finishBody(x, body));
    }
    return finishBody(x, result as ResponseBody);
  }
  return lintApp as Application;
}
