/**
 * The command line: `deno run -A mod.ts [MODULE[:NAME]] [options]`.
 *
 * `server/` cannot import `inspector/`, so the inspector comes in through
 * {@linkcode CliHooks}; `mod.ts` passes it.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { Application } from "./types.ts";
import type { InspectorHandle, InspectorSettings } from "./recorder.ts";
import { deriveEnviron } from "./environ_rule.ts";
import { DevUsageError, moduleFileProblem, runDev } from "./dev/run.ts";
import { DEFAULT_MAX_REQUEST_BODY } from "./gateway.ts";
import { escapeControls } from "./log.ts";
import { exportedApplication, exportKey, missingExport } from "./dev/compose.ts";

/** The usage text printed by `--help`. */
export const USAGE = `Usage: deno run -A mod.ts [MODULE[:NAME]] [options]

Serve a WSGI application written in TypeScript, with a request inspector.

  MODULE              the application's module (default: examples/hello.ts)
  NAME                its export (default: "application", else the default
                      export, else "fetch"): a WSGI application, or a fetch
                      handler: an object with a fetch method (a Hono app,
                      export default { fetch }) or a function exported as fetch

Options:
  --host H            interface to serve the app on (default 127.0.0.1; "" = all)
  --port N            port to serve the app on (default 8000; 0 = any free port)
  --inspector-host H  interface for the inspector (default 127.0.0.1); one beyond
                      loopback (127.0.0.0/8, ::1, localhost) needs the access
                      token printed at start
  --inspector-port N  port of the inspector (default 8001; 0 = any free port)
  --no-inspector      do not record exchanges or open the inspector
  --no-reload         do not reload the app when its files change
  --reload-grace SECONDS
                      how long a reload lets requests in flight finish on the
                      old code before it cuts them (default 5; 0.5 is fine)
  --timeout SECONDS   answer 504 (or cut) an exchange running longer (default 30;
                      0 = none); a CPU-bound app is restarted
  --workers N         app processes serving the one port (default 1)
  --max-exchanges N   exchanges the inspector keeps (default 1000)
  --max-body-bytes N  body bytes kept per exchange and direction (default 1M; at
                      most a quarter of --inspector-memory)
  --inspector-memory N  bytes of records the inspector keeps for all exchanges
                      together, oldest dropped first (default 64M; K, M, G
                      suffixes are KiB, MiB, GiB)
  --max-request-body N
                      largest request body accepted, in bytes (default 104857600,
                      100 MiB; 0 = no limit): a larger Content-Length gets 413
                      before the app runs, and a chunked upload that runs past
                      it makes the read of wsgi.input throw. wsgi.input.read()
                      holds the whole body in memory; 100 MiB passes any upload
                      a dev usually tries and matches common production limits
  --quiet             no request log
  --debug-any-client  show the error pages (the debug page of a runtime error,
                      the page of a module that does not load: your source
                      code and stacks) to every client, not only to this
                      machine's; only on a network you trust
  --no-validate       do not check the app against PEP 3333 (wsgiref's validator,
                      on by default: each broken rule is a warning in the log and
                      a lint event in the inspector)
  --strict            a broken rule answers a 500 that names it, not a warning
  --static /P=DIR     serve the files of DIR under the path /P (repeatable; other
                      paths, and files DIR lacks, go to the app)
  --script-name /P    mount the app under /P: SCRIPT_NAME is /P, PATH_INFO the
                      rest; other paths get a 404
  -h, --help          show this help

Examples:
  deno run -A mod.ts                      serves examples/hello.ts on :8000
  deno run -A mod.ts app.ts:wsgi_app --port 9000
  deno run -A mod.ts app.ts --static /static=public --script-name /app
  deno run -A mod.ts examples/hono.ts     a fetch handler (a Hono app)
`;

/** The parsed command line. */
export interface CliOptions {
  module: string | undefined;
  name: string | undefined;
  host: string;
  port: number;
  inspector: boolean;
  inspectorHost: string;
  inspectorPort: number;
  maxExchanges: number;
  maxBodyBytes: number;
  inspectorMemory: number;
  maxRequestBody: number;
  quiet: boolean;
  /** Put wsgiref's validator in front of the app (`--no-validate` turns it off). */
  validate: boolean;
  /** Violations are 500s (`--strict`). */
  strict: boolean;
  /** `--static /prefix=dir`, in order. */
  static: [prefix: string, dir: string][];
  /** `--script-name /prefix`; `""` when not given. */
  scriptName: string;
  help: boolean;
  /** Reload when the module's files change. */
  reload: boolean;
  /** Seconds a reload lets exchanges in flight run on the old code before they are cut. */
  reloadGrace: number;
  /** Seconds an exchange may run; 0 for no limit. */
  timeout: number;
  /** App processes on the one port. */
  workers: number;
  /** Show the error pages to clients off loopback too. */
  debugAnyClient: boolean;
}

/** A mistake on the command line, or in what it names: a one-line message, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * A flag's number, from `min` to `max`, or `fallback` when the flag is
 * absent: a whole number in decimal digits, unless `fractions` (seconds
 * like `0.5`).
 */
function numberFlag(
  flag: string,
  value: string | undefined,
  fallback: number,
  [min, max]: [min: number, max: number],
  fractions = false,
): number {
  if (value === undefined) return fallback;
  // Decimal digits only: Number() would also take "0x10", "1e3" or " 80 ".
  const n = (fractions ? /^(\d+\.?\d*|\.\d+)$/ : /^\d+$/).test(value) ? Number(value) : NaN;
  if (Number.isNaN(n) || n < min || n > max) {
    throw new UsageError(
      `${flag} must be ${fractions ? "a number" : "an integer"} from ${min} to ${max} (got ${
        JSON.stringify(value)
      })`,
    );
  }
  return n;
}

/** Sizes a user may write: bytes, or with a K, M or G suffix (KiB, MiB, GiB). */
function byteSize(
  flag: string,
  value: string | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback;
  const m = value.trim().match(/^(\d+)\s*(?:([kmg])(?:i?b)?)?$/i);
  const n = m ? Number(m[1]) * 1024 ** " kmg".indexOf((m[2] ?? " ").toLowerCase()) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(
      `${flag} must be a size from ${min} to ${max} bytes, like 1048576 or 64M (got ${
        JSON.stringify(value)
      })`,
    );
  }
  return n;
}

/** Each flag: its type, and for one that takes a value, the value's name in `--help`. */
const FLAGS = {
  host: { type: "string", value: "H" },
  port: { type: "string", value: "N" },
  "inspector-host": { type: "string", value: "H" },
  "inspector-port": { type: "string", value: "N" },
  "no-inspector": { type: "boolean" },
  "max-exchanges": { type: "string", value: "N" },
  "max-body-bytes": { type: "string", value: "N" },
  "inspector-memory": { type: "string", value: "N" },
  "max-request-body": { type: "string", value: "N" },
  quiet: { type: "boolean" },
  "no-validate": { type: "boolean" },
  strict: { type: "boolean" },
  static: { type: "string", multiple: true, value: "/P=DIR" },
  "script-name": { type: "string", value: "/P" },
  help: { type: "boolean", short: "h" },
  "no-reload": { type: "boolean" },
  "reload-grace": { type: "string", value: "SECONDS" },
  timeout: { type: "string", value: "SECONDS" },
  workers: { type: "string", value: "N" },
  "debug-any-client": { type: "boolean" },
} as const;

type FlagName = keyof typeof FLAGS;

/**
 * Checks what `parseArgs` read leniently (so that `--timeout -1` is the
 * value -1, which the flag's range check then names): an unknown flag, a
 * value missing or given to a flag that takes none, or a flag taken for a
 * value (`--host --port 9000`).
 *
 * @throws {UsageError} naming the flag and its rule
 */
function checkTokens(tokens: ReturnType<typeof parseArgs>["tokens"] = []): void {
  for (const token of tokens) {
    if (token.kind !== "option") continue;
    const flag = Object.hasOwn(FLAGS, token.name) ? FLAGS[token.name as FlagName] : undefined;
    if (flag === undefined) throw new UsageError(`Unknown flag ${JSON.stringify(token.rawName)}`);
    if (flag.type === "boolean") {
      if (token.value !== undefined) {
        throw new UsageError(
          `${token.rawName} takes no value (got ${JSON.stringify(token.value)})`,
        );
      }
      continue;
    }
    const usage = `${token.rawName} ${flag.value}`;
    if (token.value === undefined) {
      throw new UsageError(`${token.rawName} needs a value: ${usage}`);
    }
    // A value that is a flag (not a negative number): the value was left out.
    if (!token.inlineValue && /^-(?![\d.])/.test(token.value)) {
      throw new UsageError(
        `${token.rawName} needs a value: ${usage} (got the flag ${
          JSON.stringify(token.value)
        }; a value starting with "-" goes as ${token.rawName}=VALUE)`,
      );
    }
  }
}

/**
 * Parses the command line.
 *
 * @throws {UsageError} for an unknown flag, a bad value, or extra arguments;
 * its message names the flag and its rule, and points at `--help`
 */
export function parseCli(args: string[]): CliOptions {
  try {
    return parseFlags(args);
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(`${error.message}; see --help`);
    throw error;
  }
}

function parseFlags(args: string[]): CliOptions {
  // Lenient, then checked: parseArgs' strict errors name no rule ("argument is ambiguous").
  const parsed = parseArgs({
    args,
    allowPositionals: true,
    strict: false,
    tokens: true,
    options: FLAGS,
  });
  checkTokens(parsed.tokens);
  const values = parsed.values as {
    [K in FlagName]?: (typeof FLAGS)[K] extends { multiple: true } ? string[]
      : (typeof FLAGS)[K]["type"] extends "string" ? string
      : boolean;
  };
  const positionals = parsed.positionals;
  if (positionals.length > 1) {
    throw new UsageError(
      `expected at most one MODULE (got ${positionals.length}: ${positionals.join(" ")})`,
    );
  }
  let module = positionals[0];
  let name: string | undefined;
  const m = module?.match(/^(.+):([A-Za-z_$][\w$]*)$/);
  if (m) [, module, name] = m;
  const maxBodyBytes = byteSize(
    "--max-body-bytes",
    values["max-body-bytes"],
    1024 * 1024,
    0,
    2 ** 31,
  );
  const inspectorMemory = byteSize(
    "--inspector-memory",
    values["inspector-memory"],
    64 * 1024 * 1024,
    64 * 1024,
    2 ** 40,
  );
  if (maxBodyBytes > inspectorMemory / 4) {
    throw new UsageError(
      `--max-body-bytes (${maxBodyBytes}) must be at most a quarter of --inspector-memory (${inspectorMemory}); raise --inspector-memory to at least ${
        maxBodyBytes * 4
      }`,
    );
  }
  const options: CliOptions = {
    module,
    name,
    host: values.host ?? "127.0.0.1",
    port: numberFlag("--port", values.port, 8000, [0, 65535]),
    inspector: !values["no-inspector"],
    inspectorHost: values["inspector-host"] ?? "127.0.0.1",
    inspectorPort: numberFlag("--inspector-port", values["inspector-port"], 8001, [0, 65535]),
    maxExchanges: numberFlag("--max-exchanges", values["max-exchanges"], 1000, [1, 10_000_000]),
    maxBodyBytes,
    inspectorMemory,
    maxRequestBody: numberFlag(
      "--max-request-body",
      values["max-request-body"],
      DEFAULT_MAX_REQUEST_BODY,
      [0, Number.MAX_SAFE_INTEGER],
    ),
    quiet: values.quiet ?? false,
    validate: !values["no-validate"],
    strict: strictFlag(values.strict ?? false, !values["no-validate"]),
    static: (values.static ?? []).map(staticFlag),
    scriptName: scriptNameFlag(values["script-name"]),
    help: values.help ?? false,
    reload: !values["no-reload"],
    reloadGrace: numberFlag("--reload-grace", values["reload-grace"], 5, [0, 3600], true),
    timeout: numberFlag("--timeout", values.timeout, 30, [0, 86_400]),
    workers: numberFlag("--workers", values.workers, 1, [1, 64]),
    debugAnyClient: values["debug-any-client"] ?? false,
  };
  if (
    options.inspector && options.port !== 0 && options.port === options.inspectorPort &&
    options.host === options.inspectorHost
  ) {
    throw new UsageError(
      `--port and --inspector-port are both ${options.port}: the app and the inspector need a port each; pick another for one of them`,
    );
  }
  return options;
}

function strictFlag(strict: boolean, validate: boolean): boolean {
  if (strict && !validate) {
    throw new UsageError("--strict needs the validator: leave out --no-validate");
  }
  return strict;
}

/** `/static=public` → `["/static", "public"]`. */
function staticFlag(value: string): [string, string] {
  const eq = value.indexOf("=");
  const prefix = eq === -1 ? "" : value.slice(0, eq).replace(/\/+$/, "");
  const dir = eq === -1 ? "" : value.slice(eq + 1);
  if (eq === -1 || !value.startsWith("/") || dir === "") {
    throw new UsageError(
      `--static must be /PREFIX=DIR, like /static=public or /=site (got ${JSON.stringify(value)})`,
    );
  }
  return [prefix, dir];
}

/** `--script-name /app` → `"/app"`; a trailing `/` dropped; `/` alone is no prefix. */
function scriptNameFlag(value: string | undefined): string {
  if (value === undefined) return "";
  if (!value.startsWith("/") || /[?#\\]/.test(value)) {
    throw new UsageError(
      `--script-name must be a path like /app (got ${JSON.stringify(value)})`,
    );
  }
  return value.replace(/\/+$/, "");
}

/**
 * The `--static` directories as absolute paths (the app processes resolve
 * nothing against a working directory of their own).
 *
 * @throws {UsageError} for one that is not a directory
 */
function staticDirs(options: CliOptions): [string, string][] {
  return options.static.map(([prefix, dir]) => {
    try {
      const real = Deno.realPathSync(dir);
      if (!Deno.statSync(real).isDirectory) throw new Error("not a directory");
      return [prefix, real];
    } catch (error) {
      throw new UsageError(
        `--static ${prefix || "/"}=${dir}: Cannot serve static files from ${JSON.stringify(dir)}: ${
          error instanceof Deno.errors.NotFound ? "no such directory" : (error as Error).message
        }`,
      );
    }
  });
}

/**
 * The URL of a MODULE given on the command line: a URL (`file:`, `https:`,
 * ...) as it is; a path, relative to `cwd`, as a `file:` URL whose `#`, `%`
 * and `?` are escaped (they are part of a file name, not a fragment, an
 * escape or a query).
 *
 * @example
 * ```ts
 * import { moduleUrl } from "./cli.ts";
 * console.assert(moduleUrl("my app#1.ts", "/srv").href === "file:///srv/my%20app%231.ts");
 * console.assert(moduleUrl("https://example.com/app.ts").href === "https://example.com/app.ts");
 * ```
 */
export function moduleUrl(module: string, cwd: string = Deno.cwd()): URL {
  // Two letters at least: `C:\app.ts` is a path.
  if (/^[a-z][a-z\d+.-]+:/i.test(module) && URL.canParse(module)) return new URL(module);
  return pathToFileURL(resolve(cwd, module));
}

/** The default application module, next to this repository's `mod.ts`. */
export const DEFAULT_MODULE: URL = new URL("../examples/hello.ts", import.meta.url);

/**
 * Imports a module and picks its application: the named export, else
 * `application`, else the default export, else `fetch`. A fetch handler (an
 * object with a `fetch` method, or a function exported as `fetch`) is run
 * through `fromFetch`.
 *
 * For programs that serve a module in their own process (`serve()`,
 * `toFetch()`), picking the export as the CLI does. The CLI itself does not
 * call it: its app processes import the module (`./dev/child.ts`), with the
 * same rules (`./dev/compose.ts`).
 *
 * @throws {UsageError} when the module is missing (or a directory), lacks the export, or the export is neither
 */
export async function loadApplication(module: string | URL, name?: string): Promise<Application> {
  const url = module instanceof URL ? module : moduleUrl(module);
  const shown = module instanceof URL
    ? url.protocol === "file:" ? fileURLToPath(url) : url.href
    : module;
  const problem = moduleFileProblem(url, shown);
  if (problem) throw new UsageError(problem);
  let exports: Record<string, unknown>;
  try {
    exports = await import(url.href);
  } catch (error) {
    const first = String((error as Error)?.message ?? error).split("\n")[0];
    throw new UsageError(`Cannot load module ${JSON.stringify(shown)}: ${first}`);
  }
  const key = exportKey(exports, name);
  if (key === undefined) throw new UsageError(missingExport(shown, name, exports));
  const app = exportedApplication(key, exports[key], shown);
  if ("message" in app) throw new UsageError(app.message);
  return app;
}

export type { InspectorHandle } from "./recorder.ts";

/** What `mod.ts` plugs into the CLI. */
export interface CliHooks {
  /** Creates the inspector (not yet listening). */
  inspector?: (settings: InspectorSettings) => InspectorHandle;
}

/**
 * Runs the CLI until interrupted (Ctrl-C) or `signal` aborts.
 *
 * @returns the exit code: 0 after a clean shutdown, 2 for a usage error
 */
export async function main(
  args: string[],
  hooks: CliHooks = {},
  signal?: AbortSignal,
): Promise<number> {
  let options: CliOptions;
  try {
    options = parseCli(args);
    if (options.help) {
      console.log(USAGE);
      return 0;
    }
    return await run(options, hooks, signal);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`error: ${escapeControls(error.message)}`);
      return 2;
    }
    throw error;
  }
}

/**
 * The permissions the CLI needs: it reads and watches files, makes a
 * temporary folder, listens, starts the app processes (`run`), reads the
 * environment and the host name. `ffi` is not among them: without it a stuck
 * process's clients are cut instead of answered, and the log says so.
 */
const PERMISSIONS = ["read", "write", "net", "env", "run", "sys"] as const;

/**
 * @throws {UsageError} naming the permissions not granted, and `-A`
 */
function checkPermissions(): void {
  const missing = PERMISSIONS.filter((name) =>
    Deno.permissions.querySync({ name }).state !== "granted"
  );
  if (missing.length > 0) {
    throw new UsageError(
      `The CLI needs these permissions (it starts the app's processes, watches its files, listens): run it as deno run -A mod.ts [MODULE] (not granted: ${
        missing.map((name) => `--allow-${name}`).join(", ")
      })`,
    );
  }
}

async function run(options: CliOptions, hooks: CliHooks, signal?: AbortSignal): Promise<number> {
  checkPermissions();
  const statics = staticDirs(options);
  for (const [prefix, dir] of statics) console.log(`Static files: ${prefix || "/"} from ${dir}`);
  const inspector = options.inspector && hooks.inspector
    ? hooks.inspector({
      hostname: options.inspectorHost,
      port: options.inspectorPort,
      maxExchanges: options.maxExchanges,
      maxBodyBytes: options.maxBodyBytes,
      memory: options.inspectorMemory,
      environRule: deriveEnviron,
      app: {
        module: (options.module === undefined ? DEFAULT_MODULE : moduleUrl(options.module)).href,
        name: options.name,
      },
    })
    : undefined;
  try {
    return await runDev({
      module: options.module === undefined ? DEFAULT_MODULE : moduleUrl(options.module),
      shown: options.module ?? "examples/hello.ts",
      name: options.name,
      host: options.host,
      port: options.port,
      reload: options.reload,
      reloadGrace: options.reloadGrace,
      timeout: options.timeout,
      workers: options.workers,
      quiet: options.quiet,
      maxRequestBody: options.maxRequestBody,
      toolkit: {
        validate: options.validate,
        strict: options.strict,
        static: statics,
        scriptName: options.scriptName,
      },
      debugAnyClient: options.debugAnyClient,
      inspector,
      inspectorHost: options.inspectorHost,
      inspectorPort: options.inspectorPort,
    }, signal);
  } catch (error) {
    if (error instanceof DevUsageError) throw new UsageError(error.message);
    throw error;
  }
}
