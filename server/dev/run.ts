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

/** What the CLI passes in (a subset of `CliOptions`). */
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

/**
 * Serves the app under the supervisor until stopped.
 *
 * @returns the exit code
 * @throws {DevUsageError} when the port is taken, or (without reload) the module cannot be served
 */
export async function runDev(options: DevRunOptions, signal?: AbortSignal): Promise<number> {
  if (options.module.protocol === "file:") {
    try {
      Deno.statSync(options.module);
    } catch {
      throw new DevUsageError(`Cannot load module ${JSON.stringify(options.shown)}: no such file`);
    }
  }
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
  let started;
  try {
    started = await supervisor.start({
      host: options.inspectorHost,
      port: options.inspectorPort,
    });
  } catch (error) {
    await supervisor.stop();
    if (error instanceof PortError) throw new DevUsageError(error.message);
    throw error;
  }
  if (started.loadError && !options.reload) {
    await supervisor.stop();
    throw new DevUsageError(
      `Cannot load module ${JSON.stringify(options.shown)}: ${loadErrorLine(started.loadError)}`,
    );
  }
  const everywhere = supervisor.hostname === "0.0.0.0" || supervisor.hostname === "::";
  console.log(
    `Serving HTTP on ${supervisor.url} ... (${options.shown})${
      everywhere ? `, on every interface (${supervisor.hostname})` : ""
    }`,
  );
  if (supervisor.inspectorUrl) console.log(`Inspector on ${supervisor.inspectorUrl}`);
  if (options.reload) console.log("Edits reload the app; the inspector keeps its history.");
  const stop = Promise.withResolvers<void>();
  const shutdown = () => stop.resolve();
  Deno.addSignalListener("SIGINT", shutdown);
  Deno.addSignalListener("SIGTERM", shutdown);
  signal?.addEventListener("abort", shutdown, { once: true });
  await stop.promise;
  // A second Ctrl-C while stopping: out at once.
  const now = () => Deno.exit(130);
  Deno.removeSignalListener("SIGINT", shutdown);
  Deno.removeSignalListener("SIGTERM", shutdown);
  Deno.addSignalListener("SIGINT", now);
  await supervisor.stop();
  Deno.removeSignalListener("SIGINT", now);
  stderrSink.flush();
  console.log("Shut down.");
  return 0;
}
