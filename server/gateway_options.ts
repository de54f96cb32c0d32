/**
 * What `toFetch()` (`./gateway.ts`) takes and gives: the fetch handler's
 * shape, and the gateway's options with their defaults.
 *
 * @module
 */

import type { Recorder } from "./recorder.ts";
import type { LogEntry } from "./log.ts";
import type { ErrorPage } from "./error_page.ts";

/** What `Deno.serve` passes as the second argument (only the peer is used), and what an in-process caller may add. */
export interface HandlerInfo {
  remoteAddr?: Deno.Addr;
  /**
   * The request target (path and query) as the client sent it, for a caller
   * whose `Request` cannot carry it: `new Request()` percent-encodes
   * non-ASCII characters and resolves dot segments, which `Deno.serve` does
   * not, so a test that replays a raw target passes it here (an exported
   * test does). The gateway then reads the path and query from it instead
   * of from `request.url`. It must start with `/` and hold no space or
   * control character (as `Deno.serve` would refuse).
   */
  target?: string;
}

/** A standard fetch handler. */
export type FetchHandler = (request: Request, info?: HandlerInfo) => Promise<Response>;

/** A text sink for diagnostics (`stderr`, buffered, by default). */
export interface TextSink {
  write(text: string): void;
  flush(): void;
}

/** Options of `toFetch()` (`./gateway.ts`). */
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
