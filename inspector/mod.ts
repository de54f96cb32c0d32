/**
 * The inspector: a bounded store that records every exchange of the app
 * server, and a side port that serves the page, the JSON API and the live
 * stream.
 *
 * {@linkcode createInspector} returns the `InspectorHandle` the CLI expects
 * (`server/recorder.ts`): `listen(appUrl)` opens the side port, `shutdown()`
 * closes it, and the CLI's app processes record with `appRecording` (their
 * frames come back through `intake()`); its `recorder` records an app server
 * in this process (`serve()`, `toFetch()`). The side port listens on
 * 127.0.0.1 by default; on an interface beyond loopback (127.0.0.0/8, ::1,
 * localhost are not) it prints a one-line warning at start and asks for an
 * access token generated at start, and the URL it returns carries it
 * (`?token=...`).
 *
 * @example
 * ```ts
 * import { createInspector } from "./mod.ts";
 * import { serve } from "../server/serve.ts";
 *
 * const inspector = createInspector({ port: 0 });
 * const app = serve((_environ, start_response) => {
 *   start_response("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("hi")];
 * }, { port: 0, log: false, recorder: inspector.recorder });
 * const { url } = await inspector.listen(app.url);
 * await (await fetch(app.url + "/hello")).text();
 * const list = await (await fetch(new URL("/api/exchanges", url))).json();
 * console.assert(list.exchanges[0].target === "/hello");
 * await app.shutdown();
 * await inspector.shutdown();
 * ```
 *
 * @module
 */

import type { EnvironRule, InspectorHandle, Recorder } from "../server/recorder.ts";
import { ExchangeStore } from "./store.ts";
import { bindWarning, generateToken, Guard, needsToken } from "./guard.ts";
import { createApi, type InspectorApi, type Page } from "./api.ts";
import { redactingRecorder } from "./redact.ts";
import { relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { bundleUi, pageHtml } from "./page/bundle.ts";
import { ServerLog } from "./server_log.ts";

/** Options of {@linkcode createInspector}. */
export interface InspectorOptions {
  /** Interface of the side port; 127.0.0.1 by default (`""` is every interface). */
  hostname?: string;
  /** Port of the side port; 8001 by default, 0 for any free port. */
  port?: number;
  /** Exchanges kept; 1000 by default. */
  maxExchanges?: number;
  /** Body bytes kept per exchange and stream; 1 MiB by default. */
  maxBodyBytes?: number;
  /** Bytes of records kept for every exchange together; 64 MiB by default. */
  memory?: number;
  /** Timeline events kept per exchange; 10,000 by default. */
  maxEvents?: number;
  /**
   * The access token: a string to use, `true` to generate one even on
   * loopback, `false` for none (refused off loopback). By default one is
   * generated exactly when the side port is bound off loopback.
   */
  token?: string | boolean;
  /**
   * Builds the page served at `/` and `/app.js`, on every request of them
   * (see `ApiOptions.page`); by default the UI in `./ui/`, bundled from source (`./page/`).
   */
  page?: () => Promise<Page>;
  /** Milliseconds between the live stream's keep-alive comments; 15,000 by default. */
  heartbeatMs?: number;
  /** Told when recording an event failed; stderr by default. */
  onError?: (error: unknown) => void;
  /**
   * The gateway's rule to rebuild an environ recorded as its derivation
   * (`deriveEnviron` of `server/environ_rule.ts`; the CLI passes it): app
   * processes then record their environs so. In this process the store
   * takes the rule from the gateway itself.
   */
  environRule?: EnvironRule;
  /**
   * The app the server runs (the CLI's `MODULE[:NAME]`): an exported test
   * file (`GET /api/exchanges/:id/test`) imports it, by a path relative to
   * the current folder. Unknown, the file imports `./app.ts` and says to fix it.
   */
  app?: { module: string | URL; name?: string };
  /** The largest HAR file `POST /api/import` takes, in bytes; 256 MiB by default. */
  maxImportBytes?: number;
  /**
   * Prints the one-line warning given at start when the side port is bound
   * beyond loopback (see `bindWarning()` in `./guard.ts`); stderr by default.
   */
  warn?: (line: string) => void;
}

/** A running (or ready) inspector. */
export interface Inspector extends InspectorHandle {
  /** Receives the exchanges of an app server in this process (`serve()`, `toFetch()`). */
  readonly recorder: Recorder;
  /** Server-level events from the CLI's supervisor. */
  readonly server: ServerLog;
  /** The recorded exchanges (the `recorder` feeds them; in token mode it redacts the token first). */
  readonly store: ExchangeStore;
  /** The access token, when one is asked for. */
  readonly token: string | undefined;
  /** The URL to open (with `?token=` when needed), once listening. */
  readonly url: string | undefined;
  /** The side port, once listening. */
  readonly port: number | undefined;
}

/** A URL a client on this machine can use for a bound address. */
function addressUrl(hostname: string, port: number): string {
  const host = hostname === "0.0.0.0" ? "127.0.0.1" : hostname === "::" ? "::1" : hostname;
  return `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

/**
 * How a file saved in the current folder imports `target`: a relative path
 * (`./app.ts`, `../lib/mod.ts`) for a local file, else the URL itself.
 */
export function importFromCwd(target: string | URL): string {
  const url = new URL(target, `file://${Deno.cwd()}/`);
  if (url.protocol !== "file:") return url.href;
  const path = relative(Deno.cwd(), fileURLToPath(url)).split(sep).join("/");
  return path.startsWith("../") ? path : `./${path}`;
}

/** The page of the UI in `./ui/`: its HTML shell and its script, bundled from the TSX. */
async function defaultPage(): Promise<Page> {
  return { html: pageHtml, js: await bundleUi() };
}

/**
 * Creates an inspector: a store to pass as the app server's `recorder`, and a
 * side port that opens on `listen(appUrl)`.
 *
 * @throws {RangeError} for `token: false` on a non-loopback interface, or a bad cap
 */
export function createInspector(options: InspectorOptions = {}): Inspector {
  const hostname = options.hostname === undefined
    ? "127.0.0.1"
    : options.hostname === ""
    ? "0.0.0.0"
    : options.hostname;
  if (options.token === false && needsToken(hostname)) {
    throw new RangeError(
      `Cannot open the inspector on ${hostname} without an access token: only loopback interfaces may skip it; leave the token on, or bind 127.0.0.1`,
    );
  }
  const token = typeof options.token === "string"
    ? options.token
    : options.token === true || (options.token === undefined && needsToken(hostname))
    ? generateToken()
    : undefined;
  const store = new ExchangeStore({
    maxExchanges: options.maxExchanges,
    maxBodyBytes: options.maxBodyBytes,
    maxEvents: options.maxEvents,
    memory: options.memory,
    onError: options.onError,
    environRule: options.environRule,
  });
  const serverLog = new ServerLog();
  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  let api: InspectorApi | undefined;
  let url: string | undefined;
  let port: number | undefined;

  return {
    store,
    // In token mode the record never holds the token (./redact.ts); otherwise the store itself.
    recorder: token === undefined ? store : redactingRecorder(store, token),
    server: serverLog,
    // Under the CLI each app process records with ./app_recorder.ts, with this store's caps;
    // its frames come back through intake(), which hides the token in token mode.
    appRecording: {
      module: new URL("./app_recorder.ts", import.meta.url).href,
      ...store.limits,
      // In token mode the intake hides the token in whole environs only.
      deriveEnviron: token === undefined && options.environRule !== undefined,
    },
    intake: () => store.intake(token),
    serverEvent: (event) => serverLog.add(event),
    token,
    get url() {
      return url;
    },
    get port() {
      return port;
    },
    listen(appUrl: string) {
      if (server) {
        return Promise.reject(new Error("Cannot listen: the inspector is already listening"));
      }
      let http: Deno.HttpServer<Deno.NetAddr>;
      try {
        http = Deno.serve({
          hostname,
          port: options.port ?? 8001,
          onListen: () => {},
        }, (request) => api!.fetch(request));
      } catch (error) {
        return Promise.reject(error); // AddrInUse and the like, as a rejection
      }
      port = http.addr.port;
      serverLog.appUrl = appUrl; // for the page's "Copy as curl" (GET /api/server)
      const warning = bindWarning(hostname);
      if (warning !== undefined) (options.warn ?? console.warn)(warning);
      api = createApi({
        store,
        guard: new Guard({ hostname, port, token }),
        appUrl,
        page: options.page ?? defaultPage,
        heartbeatMs: options.heartbeatMs,
        server: serverLog,
        maxImportBytes: options.maxImportBytes,
        testImports: {
          app: options.app ? importFromCwd(options.app.module) : "./app.ts",
          name: options.app?.name,
          mod: importFromCwd(new URL("../mod.ts", import.meta.url)),
        },
      });
      server = http;
      url = `${addressUrl(hostname, port)}/${token === undefined ? "" : `?token=${token}`}`;
      return Promise.resolve({ url });
    },
    async shutdown() {
      api?.close();
      await server?.shutdown();
      server = undefined;
      api = undefined;
    },
  };
}
