/**
 * The shapes of PEP 3333 (WSGI), carried into TypeScript.
 *
 * The names are the spec's own (`environ`, `start_response`, `exc_info`,
 * `wsgi.input`) so that a Python developer who knows WSGI recognises every
 * object. Where JavaScript forces a change it is small and said here:
 *
 * - reads of `wsgi.input` return Promises (a socket cannot be read
 *   synchronously in JavaScript);
 * - the application may return an async iterable, or a Promise of a body;
 * - `exc_info` is the caught error itself, not Python's
 *   `(type, value, traceback)` triple (a JavaScript error carries its stack).
 *
 * @module
 */

import type { FileWrapperFactory } from "./file_wrapper.ts";

/** A response header: a `[name, value]` pair of strings, as in WSGI. */
export type Header = [name: string, value: string];

/**
 * The `write()` callable that `start_response` returns: the legacy, imperative
 * way to send body bytes. Its output goes out before the iterable's.
 */
export type Write = (data: Uint8Array) => void;

/**
 * `start_response(status, response_headers, exc_info?)`.
 *
 * - `status` is a string like `"200 OK"`: three digits, a space, a reason.
 * - `headers` is a list of `[name, value]` string pairs, without hop-by-hop
 *   headers (`Connection`, `Transfer-Encoding`, ...) or control characters.
 * - It may be called once; again only with `exc_info` (the caught error), and
 *   then, if the headers already went out, it rethrows `exc_info`.
 *
 * @returns the legacy `write(bytes)` callable
 */
export type StartResponse = (
  status: string,
  headers: Header[],
  exc_info?: unknown,
) => Write;

/**
 * What an application returns: an iterable (or async iterable) of byte
 * chunks, or a Promise of one. If it has a `close()` method, the server calls
 * it exactly once when the response is over, however it ended.
 */
export type ResponseBody =
  & (Iterable<Uint8Array> | AsyncIterable<Uint8Array>)
  & { close?: () => void | Promise<void> };

/** A WSGI application: `application(environ, start_response)`. */
export type Application = (
  environ: Environ,
  start_response: StartResponse,
) => ResponseBody | Promise<ResponseBody>;

/**
 * `wsgi.input`: the request body, readable up to `CONTENT_LENGTH` (or to the
 * end of a chunked upload) and never past it. Every read is async.
 *
 * The bytes are over a plain `ArrayBuffer` (`Uint8Array<ArrayBuffer>`), so
 * `new Response(bytes)`, `new Blob([bytes])` and `new Request(url, { body })`
 * take them as they are.
 */
export interface InputStream extends AsyncIterable<Uint8Array<ArrayBuffer>> {
  /** Reads up to `size` bytes; with no size (or a negative one), the rest of the body. */
  read(size?: number): Promise<Uint8Array<ArrayBuffer>>;
  /** Reads one line, up to and including `\n`, or at most `size` bytes. */
  readline(size?: number): Promise<Uint8Array<ArrayBuffer>>;
  /** Reads the remaining lines; stops once about `hint` bytes were read, when given. */
  readlines(hint?: number): Promise<Uint8Array<ArrayBuffer>[]>;
}

/** `wsgi.errors`: a text stream for the application's error output. */
export interface ErrorStream {
  /** Writes text (to stderr, and to the inspector when it records). */
  write(text: string): void;
  /** Writes each string in turn; no newlines are added. */
  writelines(lines: Iterable<string>): void;
  /** Flushes buffered output. */
  flush(): void;
}

/**
 * The WSGI environ: CGI variables, `HTTP_*` request headers, and the `wsgi.*`
 * keys. A plain object that the application may read and change.
 *
 * Keys whose value would be missing are absent (`CONTENT_TYPE` and
 * `CONTENT_LENGTH` when the request has none). Strings that come from the
 * request line or headers are "bytes as latin-1", as PEP 3333 says: each char
 * code is one byte.
 */
export interface Environ {
  REQUEST_METHOD: string;
  SCRIPT_NAME: string;
  PATH_INFO: string;
  QUERY_STRING: string;
  CONTENT_TYPE?: string;
  CONTENT_LENGTH?: string;
  SERVER_NAME: string;
  SERVER_PORT: string;
  SERVER_PROTOCOL: string;
  SERVER_SOFTWARE: string;
  GATEWAY_INTERFACE: string;
  REMOTE_ADDR?: string;
  REMOTE_PORT?: string;
  /** PEP 3333's tuple `(1, 0)`: one frozen array, shared by every environ. */
  "wsgi.version": readonly [1, 0];
  "wsgi.url_scheme": string;
  "wsgi.input": InputStream;
  "wsgi.errors": ErrorStream;
  "wsgi.multithread": boolean;
  "wsgi.multiprocess": boolean;
  "wsgi.run_once": boolean;
  "wsgi.input_terminated"?: boolean;
  /** PEP 3333's optional `wsgi.file_wrapper(filelike, blksize?)`: see `file_wrapper.ts`. */
  "wsgi.file_wrapper"?: FileWrapperFactory;
  /** The request target (path and query) exactly as received, as gunicorn and Werkzeug give it. */
  RAW_URI?: string;
  /** The same as `RAW_URI` (the name Apache and Werkzeug use). */
  REQUEST_URI?: string;
  /** CGI's `HTTPS` (`"on"`), when a server or middleware sets it. */
  HTTPS?: string;
  /** CGI's `REMOTE_USER`, when an authenticating middleware sets it. */
  REMOTE_USER?: string;
  /** CGI's `AUTH_TYPE`, when an authenticating middleware sets it. */
  AUTH_TYPE?: string;
  /** Each request header, `HTTP_` and its name upper-cased with `-` as `_`: absent when not sent. */
  [header: `HTTP_${string}`]: string | undefined;
  /** Server- and middleware-defined keys (`wsgi.*` extensions, `gunicorn.socket`, ...). */
  [key: string]: unknown;
}
