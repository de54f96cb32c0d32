/**
 * What the CLI serves, built in each app process: the module's export (a
 * WSGI application or a fetch handler) with the toolkit's command-line
 * pieces around it — wsgiref's validator, `--script-name`, `--static`.
 *
 * @module
 */

import type { Application } from "../types.ts";
import { validator } from "../validate.ts";
import { mount } from "../mount.ts";
import { staticFiles } from "../static.ts";
import { type AnyFetchHandler, fromFetch } from "../from_fetch.ts";
import { stderrSink } from "../log.ts";

/** The toolkit's command-line options, as the app processes get them. */
export interface ToolkitOptions {
  /** Put the validator in front of the app (`--no-validate` turns it off). */
  validate: boolean;
  /** A broken rule is a 500 (`--strict`). */
  strict: boolean;
  /** `--static /prefix=dir`, in order, with absolute directories. */
  static: [prefix: string, dir: string][];
  /** `--script-name /prefix`; `""` for none. */
  scriptName: string;
}

/** The export keys tried, in order, when the command line names none. */
export const DEFAULT_EXPORTS = ["application", "default", "fetch"] as const;

/**
 * The application a module's export makes: a function is a WSGI application,
 * unless it is exported as `fetch`; an object with a `fetch` method (a Hono
 * app, `export default { fetch }`) is a fetch handler run through
 * `fromFetch`. Returns the reason, as a message, when it is neither.
 */
export function exportedApplication(
  key: string,
  value: unknown,
  shown: string,
): Application | { message: string } {
  if (typeof value === "function") {
    return key === "fetch" ? fromFetch(value as AnyFetchHandler) : value as Application;
  }
  if (typeof (value as { fetch?: unknown } | null)?.fetch === "function") {
    return fromFetch(value as { fetch: AnyFetchHandler });
  }
  return {
    message: `Export ${JSON.stringify(key)} of ${
      JSON.stringify(shown)
    } is not a function (got ${typeof value}); a WSGI application is a function (environ, start_response), a fetch handler an object with a fetch method or a function exported as fetch`,
  };
}

/** Which export to serve: `name`, else the first of {@linkcode DEFAULT_EXPORTS} the module has. */
export function exportKey(exports: Record<string, unknown>, name?: string): string | undefined {
  if (name !== undefined) return name in exports ? name : undefined;
  return DEFAULT_EXPORTS.find((key) => key in exports);
}

/** The names of a module's exports that could be served (functions, objects with `fetch`). */
export function servableExports(exports: Record<string, unknown>): string[] {
  return Object.keys(exports).filter((key) => {
    const value = exports[key];
    return typeof value === "function" ||
      typeof (value as { fetch?: unknown } | null)?.fetch === "function";
  });
}

/**
 * The message for a module without the export asked for, naming the exports
 * it has that could be served. A `name` comes from the command line
 * (`app.ts:NAME`), and the message says so.
 */
export function missingExport(
  shown: string,
  name: string | undefined,
  exports: Record<string, unknown> = {},
): string {
  const servable = servableExports(exports);
  const listed = servable.slice(0, 8).map((key) => JSON.stringify(key)).join(", ") +
    (servable.length > 8 ? ", ..." : "");
  const has = servable.length === 0
    ? "it exports nothing that can be served"
    : `its exports that can be served: ${listed}`;
  return name === undefined
    ? `Module ${
      JSON.stringify(shown)
    } exports neither "application" nor a default (nor a "fetch" handler); ${has}; export one, or name it as ${shown}:NAME`
    : `Module ${JSON.stringify(shown)} has no export named ${
      JSON.stringify(name)
    }, the NAME given on the command line (${shown}:${name}); ${has}`;
}

/**
 * What to do about a missing export named on the command line: unlike a
 * mistake in the file, a save alone does not mend it.
 */
export function missingExportFix(
  shown: string,
  name: string,
  exports: Record<string, unknown>,
): string {
  const other = servableExports(exports)[0];
  return `The export's name is on the command line: run it again with one the module has${
    other === undefined ? "" : ` (${shown}:${other})`
  }, or export ${JSON.stringify(name)} from ${shown} and save.`;
}

/**
 * The application with the toolkit around it: the validator next to the
 * app (unless off), mounted under `scriptName`, each `static` directory in
 * front (a path it has no file for goes on to the app).
 *
 * @throws {TypeError} when a static directory is not one
 */
export function composeApplication(app: Application, options: ToolkitOptions): Application {
  if (options.validate) {
    app = validator(app, { strict: options.strict, warn: (text) => stderrSink.write(text) });
  }
  if (options.scriptName) app = mount({ [options.scriptName]: app });
  for (const [prefix, dir] of [...options.static].reverse()) {
    app = staticFiles(dir, { prefix, fallback: app });
  }
  return app;
}
