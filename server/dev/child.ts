/**
 * The app process: one per generation and worker, started by the supervisor
 * (`./supervisor.ts`) as `deno run -A --unstable-net --unstable-no-legacy-abort child.ts CONFIG`.
 *
 * It loads the application module, and serves it with the gateway on the
 * app's port, shared with its sibling workers and the next generation
 * through `SO_REUSEPORT`: the kernel hands each new connection to one of the
 * listeners, and the process that accepts a connection answers it itself,
 * so nothing is proxied. Its recorder, made by the inspector's module
 * (`AppRecording` in `./contract.ts`, `CreateAppRecorder` in
 * `../recorder.ts`), writes each exchange's frames of the record format
 * (`docs/record.md`) to the supervisor over the private channel
 * (`./channel.ts`), never over stdout or stderr, which stay the
 * application's (and the request log's). A request waits while the
 * supervisor is behind on those records ({@linkcode recordPaced}), so that
 * every exchange is recorded.
 *
 * A module that fails to load does not end it: it serves the error page
 * (`./load_error.ts`, to loopback clients) on the same port until the
 * supervisor replaces it.
 * Faults no exchange caught (an unhandled rejection, an exception in a
 * timer) are logged with their stack, reported, and the process goes on.
 * It exits when told to retire (after its open exchanges finish), and at
 * once, quietly, when the channel closes or cannot be opened (the
 * supervisor is gone).
 *
 * @module
 */

import type { Application } from "../types.ts";
import { type FetchHandler, toFetch } from "../gateway.ts";
import { stderrSink } from "../log.ts";
import { environCodeFingerprint } from "../environ_rule.ts";
import type { AppRecorder, CreateAppRecorder } from "../recorder.ts";
import {
  ChannelWriter,
  CONTROL,
  HEARTBEAT,
  parseControl,
  readChannel,
  type ToChild,
} from "./channel.ts";
import type { Fault } from "./contract.ts";
import type { ChildConfig } from "./child_config.ts";
import { fromImportError, type LoadError, loadErrorPage, withFrame } from "./load_error.ts";
import { debugPage } from "./debug_page.ts";
import { composeApplication, exportedApplication, exportKey, missingExport } from "./compose.ts";

/** Milliseconds between heartbeats. */
export const HEARTBEAT_MS = 200;

/**
 * Bytes of records queued for the supervisor past which a new request waits
 * for the supervisor to catch up before the app sees it (see
 * {@linkcode recordPaced}): the app process serves no faster than the
 * inspector records, and no exchange is lost to a supervisor that is merely
 * slower (filling its store's ring for the first time, sharing one core with
 * this process, busy with an export).
 */
export const RECORD_WAIT = 4 * 1024 * 1024;

/**
 * How long the supervisor may take nothing from the channel before requests
 * held back by {@linkcode RECORD_WAIT} go on without waiting (said once on
 * stderr): a stuck supervisor slows the app by this much once, never hangs it.
 */
export const RECORD_STALL_MS = 5000;

/**
 * Bytes of records queued for the supervisor past which new exchanges are
 * left unrecorded (those begun are recorded whole; counted, and said on
 * stderr): what a stuck supervisor may cost this process. Requests wait at
 * {@linkcode RECORD_WAIT}, so this is reached only once the supervisor has
 * taken nothing for {@linkcode RECORD_STALL_MS}, or by many large exchanges
 * let through at once.
 */
export const RECORD_BACKLOG = 16 * 1024 * 1024;

/** This process's own files: a frame or location in them is not the user's. */
const OWN = new URL("../", import.meta.url).href;

async function importApplication(
  config: ChildConfig,
): Promise<{ app: Application } | { error: LoadError }> {
  let exports: Record<string, unknown>;
  try {
    exports = await import(config.module);
  } catch (error) {
    return { error: fromImportError(error, config.shown, (url) => url.startsWith(OWN)) };
  }
  const file = decodeURIComponent(new URL(config.module).pathname);
  const name = config.name;
  const key = exportKey(exports, name);
  if (key === undefined) {
    return {
      error: {
        kind: "bad export",
        module: config.shown,
        file,
        message: missingExport(config.shown, name),
      },
    };
  }
  // A WSGI application, or a fetch handler ({ fetch }, a Hono app) made one.
  const app = exportedApplication(key, exports[key], config.shown);
  if ("message" in app) {
    return { error: { kind: "bad export", module: config.shown, file, message: app.message } };
  }
  return { app };
}

function asFault(kind: Fault["kind"], value: unknown): Fault {
  if (value instanceof Error) {
    return { kind, name: value.name, message: value.message, stack: value.stack };
  }
  return { kind, name: typeof value, message: String(value) };
}

/**
 * The fetch handler an app process serves: the application (with the
 * toolkit's pieces around it), or the page of its load error, through the
 * gateway, with the CLI's debug page for runtime errors. The two error
 * pages show internals to loopback clients only, unless `debugAnyClient`.
 */
export function appHandler(
  config: ChildConfig,
  loaded: { app: Application } | { error: LoadError },
  recorder?: AppRecorder,
): FetchHandler {
  const app = "error" in loaded
    ? loadErrorPage(loaded.error, {
      inspectorUrl: config.inspectorUrl,
      anyClient: config.debugAnyClient,
    })
    : config.toolkit
    ? composeApplication(loaded.app, config.toolkit)
    : loaded.app;
  return toFetch(app, {
    recorder,
    // This process runs with --unstable-no-legacy-abort (./app_process.ts): no warning.
    watchClient: recorder !== undefined,
    log: config.log,
    timeout: config.timeout > 0 ? config.timeout * 1000 : undefined,
    multiprocess: config.multiprocess,
    maxRequestBody: config.maxRequestBody,
    appName: config.name ?? "application",
    serverName: config.hostname,
    serverPort: String(config.port),
    debug: debugPage({
      inspectorUrl: config.inspectorUrl,
      anyClient: config.debugAnyClient,
      refOf: (environ) => recorder?.refOf(environ),
    }),
  });
}

/**
 * Backpressure for the recording: a request that arrives while more than
 * {@linkcode RECORD_WAIT} bytes of records wait for the supervisor is held
 * until the supervisor has taken them, then handed to `handler` (the
 * exchange's recorded times start then: the wait is the inspector's, not the
 * app's). Should the supervisor take nothing for `stallMs`
 * ({@linkcode RECORD_STALL_MS}), the requests waiting go on, and so do the
 * next ones without waiting until the backlog is under the mark again; past
 * {@linkcode RECORD_BACKLOG} the recorder leaves them unrecorded. Below the
 * mark a request costs one comparison.
 */
export function recordPaced(
  handler: FetchHandler,
  out: ChannelWriter,
  options: { stallMs?: number; log?: (text: string) => void } = {},
): FetchHandler {
  const { stallMs = RECORD_STALL_MS, log = (text: string) => stderrSink.write(text) } = options;
  let stalled = false;
  const waitThen: FetchHandler = async (request, info) => {
    if (!await out.below(RECORD_WAIT, stallMs) && !stalled) {
      stalled = true;
      log(
        out.closed
          ? "Inspector: the channel to the supervisor closed; requests no longer wait for it, and are no longer recorded\n"
          : `Inspector: the inspector took no records for ${
            stallMs / 1000
          } s; requests no longer wait for it (past ${
            RECORD_BACKLOG / 1024 / 1024
          } MiB behind they are not recorded)\n`,
      );
    }
    return handler(request, info);
  };
  return (request, info) => {
    if (out.backlog <= RECORD_WAIT) {
      stalled = false;
      return handler(request, info);
    }
    return stalled ? handler(request, info) : waitThen(request, info);
  };
}

/** Serves the app (or its load error page) on the shared port; returns the server. */
async function serveApp(
  config: ChildConfig,
  out: ChannelWriter,
  recorder: AppRecorder | undefined,
): Promise<Deno.HttpServer<Deno.NetAddr>> {
  const loaded = config.failed ? { error: config.failed } : await importApplication(config);
  if ("error" in loaded) out.control({ type: "load_error", error: withFrame(loaded.error) });
  const gateway = appHandler(config, loaded, recorder);
  const handler = recorder ? recordPaced(gateway, out) : gateway;
  const server = Deno.serve({
    hostname: config.hostname,
    port: config.port,
    reusePort: true,
    onListen: () => {},
  }, handler);
  out.control({ type: "ready", port: server.addr.port });
  out.flush();
  return server;
}

/** Logs a fault no exchange caught, puts it on the one open exchange if there is one, and reports it. */
function faultHandler(out: ChannelWriter, recorder: () => AppRecorder | undefined) {
  return (kind: Fault["kind"], value: unknown) => {
    const fault = asFault(kind, value);
    const what = kind === "unhandledrejection"
      ? "Unhandled promise rejection"
      : "Uncaught exception outside any request";
    stderrSink.write(
      `${what} in the application (the server goes on): ${fault.stack ?? fault.message}\n`,
    );
    // With one exchange open, it is the one the fault belongs to (or the only one that can tell).
    const exchange = recorder()?.faultOnOpen({
      name: fault.name,
      message: `${what}: ${fault.message}`,
      stack: fault.stack,
    });
    out.control({ type: "fault", fault, exchange });
  };
}

/**
 * The inspector's recorder for this process: its module (imported once,
 * ahead, by {@linkcode runChild}) makes it; its frames go out in RECORD
 * messages, as many to a message as were written between other messages. `undefined` (and a line on stderr) when the module cannot
 * be loaded: the app is served unrecorded.
 */
async function appRecorder(
  config: ChildConfig,
  module: Promise<unknown> | undefined,
  out: ChannelWriter,
): Promise<AppRecorder | undefined> {
  if (!config.recording || !module) return undefined;
  try {
    const { createAppRecorder } = await module as { createAppRecorder: CreateAppRecorder };
    const settings = config.recording;
    return createAppRecorder({
      // Environs as their derivation only if the supervisor rebuilds them with this process's code.
      settings: {
        ...settings,
        deriveEnviron: settings.deriveEnviron === true &&
          settings.environCode === environCodeFingerprint(),
      },
      generation: config.generation,
      worker: config.worker,
      send(frame, urgent) {
        out.record(frame);
        // Out before the application runs: if it never returns (a CPU-bound
        // loop), the supervisor still knows which request it was (Deno starts
        // the write at once). At most one such write a millisecond: under load
        // the batches of the timer carry the frames, and a request that spins
        // within a millisecond of the last write goes unrecorded.
        if (urgent) out.flushEager(1);
      },
      congested: () => out.backlog > RECORD_BACKLOG,
    });
  } catch (error) {
    stderrSink.write(
      `Cannot load the inspector's recorder; this app process is not recorded: ${
        error instanceof Error ? error.message : error
      }\n`,
    );
    return undefined;
  }
}

/**
 * Runs the app process; resolves when it should exit. A standby (started
 * ahead of the next save, so that a reload does not wait for a new process)
 * waits for a `load` message with its real configuration.
 */
export async function runChild(first: ChildConfig & { standby?: boolean }): Promise<void> {
  // The recorder's module loads while the channel connects and the app module imports (a
  // standby's configuration names it too, so that it is loaded before the standby is used).
  let recorderModule = first.recording ? import(first.recording.module) : undefined;
  recorderModule?.catch(() => {/* reported when it is used */});
  // This process's environ code, read now, as its modules were loaded (a standby's real
  // configuration comes on the save it serves: ~5 ms off that path).
  if (first.recording?.deriveEnviron) environCodeFingerprint();
  let conn: Deno.UnixConn;
  try {
    conn = await Deno.connect({ transport: "unix", path: first.channel });
  } catch {
    // The supervisor is gone (it stopped while this process started): nothing to serve for.
    return;
  }
  const out = new ChannelWriter(conn);
  out.control({ type: "hello", worker: first.worker, generation: first.generation, pid: Deno.pid });
  let recorder: AppRecorder | undefined;
  let skipped = 0;
  const heartbeat = setInterval(() => {
    out.send(HEARTBEAT);
    // Said at most once a heartbeat.
    if (recorder !== undefined && recorder.skipped > skipped) {
      stderrSink.write(
        `Inspector: ${
          recorder.skipped - skipped
        } exchange(s) not recorded: the inspector was more than ${
          RECORD_BACKLOG / 1024 / 1024
        } MiB of records behind (the app goes on)\n`,
      );
      skipped = recorder.skipped;
    }
  }, HEARTBEAT_MS);
  const onFault = faultHandler(out, () => recorder);
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    onFault("unhandledrejection", event.reason);
  });
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    onFault("error", event.error ?? event.message);
  });

  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  const start = async (config: ChildConfig) => {
    if (config.recording) recorderModule ??= import(config.recording.module);
    recorder = await appRecorder(config, recorderModule, out);
    try {
      server = await serveApp(config, out, recorder);
    } catch (error) {
      // The port could not be had (or the like): nothing this process can serve.
      stderrSink.write(`Cannot serve the app: ${error instanceof Error ? error.message : error}\n`);
      stderrSink.flush();
      Deno.exit(3);
    }
  };
  if (!first.standby) start(first);

  const retire = async () => {
    clearInterval(heartbeat);
    const stopped = server?.shutdown();
    // The listener closes once the runtime next polls it, which this timer waits for.
    await new Promise((resolve) => setTimeout(resolve, 0));
    out.control({ type: "unlistened" });
    await stopped;
    stderrSink.flush();
    await out.drain();
  };
  let retiring: Promise<void> | undefined;
  try {
    await readChannel(conn, (kind, payload) => {
      if (kind !== CONTROL || retiring) return;
      const control = parseControl<ToChild>(payload);
      if (control.type === "load" && server === undefined) start(control.config);
      else if (control.type === "retire") {
        // Done: hanging up ends the read below, and so this process.
        retiring = retire().finally(() => conn.close());
      }
    });
  } catch {
    // The channel broke: the supervisor is gone.
  }
  // The supervisor hangs up once this process retired, or when it is gone.
  await retiring;
  stderrSink.flush();
}

if (import.meta.main) {
  const config = JSON.parse(Deno.args[0] ?? "{}") as ChildConfig & { standby?: boolean };
  await runChild(config);
  Deno.exit(0);
}
