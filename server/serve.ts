/**
 * The `Deno.serve` edge: a few dozen lines of wiring around `toFetch`.
 *
 * `serve(app, options)` is for programs; `make_server(host, port, app)` is
 * wsgiref's `simple_server.make_server`, line for line, so that a Python
 * tutorial's `server.py` has a TypeScript twin.
 *
 * @module
 */

import type { Application } from "./types.ts";
import { type FetchHandler, type GatewayOptions, toFetch } from "./gateway.ts";
import { stderrSink } from "./log.ts";

/** Options of {@linkcode serve}: where to listen, plus the gateway's options. */
export interface ServeOptions extends GatewayOptions {
  /** The interface to listen on; `127.0.0.1` by default. `""` means every interface, as in Python. */
  hostname?: string;
  /** The port; 8000 by default, `0` for any free port. */
  port?: number;
  /** Stops the server when aborted. */
  signal?: AbortSignal;
  /** Called once listening, with the bound address. Nothing is printed by default. */
  onListen?: (addr: { hostname: string; port: number; url: string }) => void;
}

/** A running server. */
export interface Server {
  /** The bound interface, as given (`0.0.0.0` for `""`). */
  readonly hostname: string;
  /** The bound port (the real one, also when asked for port 0). */
  readonly port: number;
  /** `http://host:port`, ready to fetch (IPv6 in brackets, wildcard shown as loopback). */
  readonly url: string;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  /** Stops accepting, lets open exchanges finish, and resolves when done. */
  shutdown(): Promise<void>;
}

/**
 * The interface to bind: `127.0.0.1` when none is given, and `""` is every
 * interface (`0.0.0.0`), as in Python's `socket.bind(("", port))`
 * (`Deno.listen` refuses an empty hostname).
 *
 * @example
 * ```ts
 * import { bindHost } from "./serve.ts";
 * console.assert(bindHost("") === "0.0.0.0" && bindHost(undefined) === "127.0.0.1");
 * ```
 */
export function bindHost(hostname: string | undefined): string {
  return hostname === undefined ? "127.0.0.1" : hostname === "" ? "0.0.0.0" : hostname;
}

/**
 * A URL a client on this machine can use for a bound address: a wildcard
 * (`0.0.0.0`, `""`, `::`) is shown as loopback.
 *
 * @example
 * ```ts
 * import { addressUrl } from "./serve.ts";
 * console.assert(addressUrl("", 8000) === "http://127.0.0.1:8000");
 * console.assert(addressUrl("::", 8000) === "http://[::1]:8000");
 * ```
 */
export function addressUrl(hostname: string, port: number): string {
  const host = hostname === "0.0.0.0" || hostname === ""
    ? "127.0.0.1"
    : hostname === "::"
    ? "::1"
    : hostname;
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * Serves a WSGI application over HTTP with `Deno.serve`.
 *
 * Logs one line per request to stderr unless `log: false`. `SERVER_NAME` and
 * `SERVER_PORT` are the bound address unless `serverName`/`serverPort` say
 * otherwise (as in gunicorn; wsgiref gives the same port).
 *
 * @example
 * ```ts
 * import { serve } from "./serve.ts";
 * const server = serve((_environ, start_response) => {
 *   start_response("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("hi")];
 * }, { port: 0, log: false });
 * const response = await fetch(server.url);
 * console.assert(await response.text() === "hi");
 * await server.shutdown();
 * ```
 *
 * @throws {Deno.errors.AddrInUse} when the port is taken
 */
export function serve(app: Application, options: ServeOptions = {}): Server {
  const hostname = bindHost(options.hostname);
  const port = options.port ?? 8000;
  // SERVER_NAME and SERVER_PORT are the bound address, as gunicorn gives them
  // (and wsgiref the port), not the Host header.
  const gateway = (boundPort: number): FetchHandler =>
    toFetch(app, {
      ...options,
      serverName: options.serverName ?? hostname,
      serverPort: options.serverPort ?? String(boundPort),
      // Deno.serve without TLS: the scheme of every request is http, whatever
      // an absolute-form target says.
      urlScheme: options.urlScheme ?? "http",
      log: options.log ?? true,
    });
  // Made before binding, so that a wrong app throws before anything listens.
  let handler = gateway(port);
  const server = Deno.serve({
    hostname,
    port,
    signal: options.signal,
    onListen: () => {},
  }, (request, info) => handler(request, info));
  const addr = server.addr as Deno.NetAddr;
  // Port 0 is only known now; no request is handled before this synchronous code ends.
  if (addr.port !== port) handler = gateway(addr.port);
  const url = addressUrl(hostname, addr.port);
  options.onListen?.({ hostname, port: addr.port, url });
  const finished = server.finished.then(() => stderrSink.flush());
  return {
    hostname,
    port: addr.port,
    url,
    finished,
    async shutdown() {
      await server.shutdown();
      await finished;
    },
  };
}

/**
 * wsgiref's `WSGIServer`: what {@linkcode make_server} returns.
 *
 * Unlike Python's, it accepts connections from construction on (Deno binds and
 * serves in one step); `serve_forever()` waits until `shutdown()`.
 */
export class WSGIServer {
  readonly #server: Server;
  /** The bound host, as Python's `server_name` (without the DNS lookup). */
  readonly server_name: string;
  /** The bound port. */
  readonly server_port: number;

  constructor(host: string, port: number, app: Application, options: GatewayOptions = {}) {
    this.#server = serve(app, { ...options, hostname: host, port });
    this.server_name = this.#server.hostname;
    this.server_port = this.#server.port;
  }

  /** Serves until {@linkcode WSGIServer.shutdown} is called. */
  serve_forever(): Promise<void> {
    return this.#server.finished;
  }

  /** Stops serving; `serve_forever()` then returns. */
  shutdown(): Promise<void> {
    return this.#server.shutdown();
  }

  /** The URL of the server, for a client on this machine. */
  get url(): string {
    return this.#server.url;
  }
}

/**
 * wsgiref's `make_server(host, port, app)`: a server for `app` on `host:port`
 * (`""` is every interface), logging each request to stderr.
 *
 * @example
 * ```ts ignore
 * import { make_server } from "../mod.ts";
 * import { application } from "../examples/hello.ts";
 * const httpd = make_server("", 8000, application);
 * console.log("Serving HTTP on port 8000...");
 * await httpd.serve_forever();
 * ```
 */
export function make_server(host: string, port: number, app: Application): WSGIServer {
  return new WSGIServer(host, port, app);
}
