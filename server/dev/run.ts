/**
 * The CLI's run: the supervisor started from the parsed command line, until
 * Ctrl-C, SIGTERM or `signal`.
 *
 * @module
 */

import { stderrSink } from "../log.ts";
import { PortError, type SupervisedInspector, Supervisor } from "./supervisor.ts";
import { loadErrorLine } from "./load_error.ts";
import type { ToolkitOptions } from "./compose.ts";

/**
 * Milliseconds after a first Ctrl-C or SIGTERM within which another is the
 * same one, delivered twice (see `signalHandler`).
 */
export const SAME_SIGNAL_MS = 300;

/** Milliseconds a stop during start-up waits for `start()` to see it before cleaning up anyway. */
const START_SETTLE_MS = 1000;

/** Waits for `promise` to settle, or `ms` milliseconds, whichever comes first. */
async function settled(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<void>((resolve) => timer = setTimeout(resolve, ms));
  await Promise.race([promise.then(() => {}, () => {}), late]);
  clearTimeout(timer);
}

/**
 * What the CLI passes in: its `CliOptions` resolved (the module as a URL,
 * the `--static` directories as absolute paths, the toolkit's flags as one
 * object, the inspector created).
 */
export interface DevRunOptions {
  module: URL;
  shown: string;
  name?: string;
  host: string;
  port: number;
  reload: boolean;
  /** Seconds a reload lets the old code's exchanges run before they are cut (`--reload-grace`). */
  reloadGrace: number;
  timeout: number;
  workers: number;
  quiet: boolean;
  /** The largest request body the gateway takes (`--max-request-body`). */
  maxRequestBody: number;
  /** The toolkit's pieces around the app (validator, `--script-name`, `--static`). */
  toolkit?: ToolkitOptions;
  /** Show the error pages to clients off loopback too (`--debug-any-client`). */
  debugAnyClient: boolean;
  inspector?: SupervisedInspector;
  /** Where the inspector listens, for messages. */
  inspectorHost: string;
  inspectorPort: number;
}

/** A mistake the CLI reports in one line with exit code 2. */
export class DevUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DevUsageError";
  }
}

/** A module file of a directory to suggest: `app.ts`, `main.ts` or `mod.ts` first, else the first `.ts`. */
function moduleIn(dir: URL): string | undefined {
  try {
    const names = [...Deno.readDirSync(dir)]
      .filter((e) => e.isFile && /\.[mc]?[jt]sx?$/.test(e.name))
      .map((e) => e.name)
      .sort();
    return ["app.ts", "main.ts", "mod.ts"].find((n) => names.includes(n)) ?? names[0];
  } catch {
    return undefined;
  }
}

/**
 * Why a `file:` module cannot be imported at all, or undefined: no file
 * there, a directory (which an import refuses with a message that names no
 * fix), or a Python file (which it reads as a JavaScript syntax error).
 * Each is the command line's mistake, not a module to fix and reload.
 */
export function moduleFileProblem(module: URL, shown: string): string | undefined {
  if (module.protocol !== "file:") return undefined;
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(module);
  } catch {
    return `Cannot load module ${JSON.stringify(shown)}: no such file`;
  }
  if (info.isFile && /\.py$/i.test(module.pathname)) {
    return `Cannot load module ${
      JSON.stringify(shown)
    }: it is a Python file; this server runs WSGI applications written in TypeScript or JavaScript (a .ts file that exports application, like examples/hello.ts); serve a Python one with a Python server (gunicorn, wsgiref)`;
  }
  if (info.isDirectory) {
    const file = `${shown.replace(/[\\/]+$/, "")}/${moduleIn(module) ?? "app.ts"}`;
    return `Cannot load module ${
      JSON.stringify(shown)
    }: it is a directory; name the app's file, like ${JSON.stringify(file)}`;
  }
  return undefined;
}

/**
 * Serves the app under the supervisor until stopped.
 *
 * @returns the exit code
 * @throws {DevUsageError} when the port is taken, or (without reload) the module cannot be served
 */
export async function runDev(options: DevRunOptions, signal?: AbortSignal): Promise<number> {
  const problem = moduleFileProblem(options.module, options.shown);
  if (problem) throw new DevUsageError(problem);
  const supervisor = new Supervisor({
    module: options.module.href,
    shown: options.shown,
    name: options.name,
    hostname: options.host,
    port: options.port,
    reload: options.reload,
    graceMs: options.reloadGrace * 1000,
    timeout: options.timeout,
    workers: options.workers,
    log: !options.quiet,
    maxRequestBody: options.maxRequestBody,
    toolkit: options.toolkit,
    debugAnyClient: options.debugAnyClient,
    inspector: options.inspector,
  });
  // Listening from before the start, so that a Ctrl-C while the app loads is not lost.
  const stop = Promise.withResolvers<void>();
  const onSignal = signalHandler(supervisor, () => stop.resolve());
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  signal?.addEventListener("abort", () => stop.resolve(), { once: true });
  try {
    const starting = supervisor.start({
      host: options.inspectorHost,
      port: options.inspectorPort,
    });
    let started;
    try {
      // A signal while the app loads stops it then, not once the module has
      // loaded: a module's top level may take long, or never end.
      started = await Promise.race([starting, stop.promise.then(() => undefined)]);
    } catch (error) {
      await supervisor.stop();
      if (error instanceof PortError) throw new DevUsageError(error.message);
      throw error;
    }
    if (started === undefined) {
      await supervisor.stop();
      // start() returns once it sees the stop (its app process was stopped);
      // what it made meanwhile (its channel and folder) goes with stopNow().
      await settled(starting, START_SETTLE_MS);
      supervisor.stopNow();
      stderrSink.flush();
      console.log("Shut down (while the app was loading).");
      return 0;
    }
    if (started.loadError && !options.reload) {
      await supervisor.stop();
      throw new DevUsageError(
        `Cannot load module ${JSON.stringify(options.shown)}: ${loadErrorLine(started.loadError)}`,
      );
    }
    for (const line of banner(supervisor, options)) console.log(line);
    await stop.promise;
    await supervisor.stop();
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  stderrSink.flush();
  console.log("Shut down.");
  return 0;
}

/** What the CLI prints once it serves. */
function banner(supervisor: Supervisor, options: DevRunOptions): string[] {
  const everywhere = supervisor.hostname === "0.0.0.0" || supervisor.hostname === "::";
  const lines = [
    `Serving HTTP on ${supervisor.url} ... (${options.shown})${
      everywhere ? `, on every interface (${supervisor.hostname})` : ""
    }`,
  ];
  if (supervisor.inspectorUrl) lines.push(`Inspector on ${supervisor.inspectorUrl}`);
  if (options.reload) {
    lines.push(
      supervisor.inspectorUrl
        ? "Edits reload the app; the inspector keeps its history."
        : "Edits reload the app.",
    );
  }
  return lines;
}

/**
 * What Ctrl-C and SIGTERM do: the first asks for a graceful stop (`stop`);
 * one that comes while stopping, later than {@linkcode SAME_SIGNAL_MS} after
 * the first, stops everything at once and exits with code 130, leaving no
 * app process or temporary file behind. One sooner is the first delivered
 * twice: a wrapper such as `deno task` or `timeout` passes on the Ctrl-C that
 * the terminal sent to its whole process group, this process included.
 */
function signalHandler(supervisor: Supervisor, stop: () => void): () => void {
  let first: number | undefined;
  return () => {
    if (first === undefined) {
      first = performance.now();
      stop();
      return;
    }
    if (performance.now() - first < SAME_SIGNAL_MS) return;
    supervisor.stopNow();
    stderrSink.flush();
    console.log("Shut down at once (a second signal while stopping).");
    Deno.exit(130);
  };
}
