/**
 * A module that cannot be served: a syntax error, a throw at its top level,
 * an import that fails, a missing or wrong export. The app process that
 * fails to load it keeps the port and answers every request with the page
 * made here (status 500; HTML with a code frame for browsers, plain text for
 * other clients; a bare 500 for clients off loopback); the supervisor prints
 * the same on the terminal and the inspector shows it as a banner, until a
 * fixed file is loaded.
 *
 * @module
 */

import type { Application } from "../types.ts";
import { errorPage } from "../error_page.ts";
import { showsInternals } from "./internals.ts";
import {
  escapeHtml,
  formatCodeFrame,
  htmlCodeFrame,
  PAGE_STYLE,
  readSource,
  wantsHtml,
} from "./code_frame.ts";

/** Why a module could not be served, with the place in the source when known. */
export interface LoadError {
  /** What went wrong, in a few words: `syntax error`, `error at import`, `bad export`. */
  kind: "syntax error" | "error at import" | "bad export";
  /** The module as the user named it (`app.ts`). */
  module: string;
  /** One line: the error's name and message. */
  message: string;
  /** The file of the place, as a path (may be a module the app imports). */
  file?: string;
  /** 1-based line and column of the place. */
  line?: number;
  column?: number;
  /** The stack, for an error thrown at import. */
  stack?: string;
  /** The code around the place, as text with a caret (for the inspector's banner). */
  frame?: string;
  /** The place as shown: `app.ts:3:14` (relative to the working folder). */
  place?: string;
  /** What to do, when it is not "fix the file and save" (an export named on the command line). */
  fix?: string;
}

/** The pages' last line: what to do. */
function fixLine(error: LoadError): string {
  return error.fix ?? "Fix the file and save: the server reloads it by itself.";
}

/** Adds the code frame of the error's place, when its file can be read. */
export function withFrame(error: LoadError, cwd = Deno.cwd()): LoadError {
  if (!error.file) return error;
  const place = `${shortPath(error.file, cwd)}${
    error.line ? `:${error.line}:${error.column}` : ""
  }`;
  const source = error.line ? readSource(error.file) : undefined;
  if (source === undefined || !error.line) return { ...error, place };
  return { ...error, place, frame: formatCodeFrame(source, error.line, error.column) };
}

const LOCATION = /(file:\/\/[^\s()]+?):(\d+):(\d+)/g;

/** The first `file:` location in some text that is not in `skip`. */
function firstLocation(
  text: string,
  skip: (url: string) => boolean,
): { file: string; line: number; column: number } | undefined {
  for (const m of text.matchAll(LOCATION)) {
    if (skip(m[1]!)) continue;
    let file: string;
    try {
      file = decodeURIComponent(new URL(m[1]!).pathname);
    } catch {
      continue;
    }
    return { file, line: Number(m[2]), column: Number(m[3]) };
  }
  return undefined;
}

/**
 * Describes an error thrown by `import()` of a module: a syntax error (Deno
 * wraps it in a `TypeError` whose message ends with the location), or
 * anything the module threw while it ran (its stack has the place).
 *
 * @param skip URLs that are not the user's code (the app process's own files)
 */
export function fromImportError(
  error: unknown,
  module: string,
  skip: (url: string) => boolean = () => false,
): LoadError {
  const e = error instanceof Error ? error : undefined;
  const raw = e ? e.message : String(error);
  // Deno reports a module's syntax error as a TypeError whose message starts so;
  // a SyntaxError thrown while the module runs (JSON.parse) is an error at import.
  const syntax = /^SyntaxError: /.test(raw);
  const place = firstLocation(syntax ? raw : `${e?.stack ?? ""}\n${raw}`, skip);
  const first = raw.split("\n")[0]!;
  return {
    kind: syntax ? "syntax error" : "error at import",
    module,
    message: syntax ? first : `${e?.name ?? "Thrown value"}: ${first}`,
    ...place,
    stack: syntax ? undefined : e?.stack,
  };
}

/** The one line that names the error and its place: `app.ts:3:14: SyntaxError: ...`. */
export function loadErrorLine(error: LoadError, cwd = Deno.cwd()): string {
  const where = error.file && error.kind !== "bad export"
    ? `${shortPath(error.file, cwd)}${error.line ? `:${error.line}:${error.column}` : ""}: `
    : "";
  return `${where}${error.message}`;
}

/** A path relative to `cwd` when it is inside it. */
export function shortPath(file: string, cwd = Deno.cwd()): string {
  return file.startsWith(cwd + "/") ? file.slice(cwd.length + 1) : file;
}

/** The error for the terminal: a headline, `file:line:col`, and the code frame. */
export function formatLoadError(error: LoadError, cwd = Deno.cwd()): string {
  let text = `Cannot serve ${error.module} (${error.kind}): ${loadErrorLine(error, cwd)}\n`;
  const source = error.file ? readSource(error.file) : undefined;
  if (source !== undefined && error.line) {
    text += formatCodeFrame(source, error.line, error.column) + "\n";
  }
  return text;
}

/** Options of {@linkcode loadErrorPage}. */
export interface LoadErrorPageOptions {
  /** The inspector's URL, for a link. */
  inspectorUrl?: string;
  /** Show the page to clients off loopback too (`--debug-any-client`). */
  anyClient?: boolean;
}

/**
 * The application that answers every request while the module is broken:
 * 500, an HTML page with the code frame for a browser, plain text otherwise.
 * Only for a loopback client: it shows source code and paths, so anyone
 * else gets the bare 500, unless `anyClient` (see `./internals.ts`).
 */
export function loadErrorPage(error: LoadError, options: LoadErrorPageOptions = {}): Application {
  const { inspectorUrl, anyClient } = options;
  const bare = errorPage(error, false);
  return (environ, start_response) => {
    if (!showsInternals(environ, anyClient)) return bare(environ, start_response);
    const cwd = Deno.cwd();
    let body: string;
    let type: string;
    if (wantsHtml(environ.HTTP_ACCEPT)) {
      const source = error.file ? readSource(error.file) : undefined;
      const frame = source !== undefined && error.line
        ? htmlCodeFrame(source, error.line, error.column)
        : "";
      const stack = error.stack
        ? `<details><summary>Stack</summary><pre>${escapeHtml(error.stack)}</pre></details>`
        : "";
      body = `<!doctype html><html><head><meta charset="utf-8"><title>${
        escapeHtml(`${error.kind} in ${error.module}`)
      }</title><style>${PAGE_STYLE}</style></head><body>
<header data-testid="load-error"><h1>${
        escapeHtml(`Cannot serve ${error.module}: ${error.kind}`)
      }</h1>
<p>${escapeHtml(error.message)}</p></header>
<main>${
        error.file
          ? `<div class="where" data-testid="location">${
            escapeHtml(
              `${shortPath(error.file, cwd)}${error.line ? `:${error.line}:${error.column}` : ""}`,
            )
          }</div>`
          : ""
      }${frame}${stack}</main>
<footer>${escapeHtml(fixLine(error))}${
        inspectorUrl
          ? ` The inspector: <a href="${escapeHtml(inspectorUrl)}">${escapeHtml(inspectorUrl)}</a>.`
          : ""
      }</footer></body></html>`;
      type = "text/html; charset=utf-8";
    } else {
      body = `${formatLoadError(error, cwd)}\n${fixLine(error)}\n`;
      type = "text/plain; charset=utf-8";
    }
    const bytes = new TextEncoder().encode(body);
    start_response("500 Internal Server Error", [
      ["Content-Type", type],
      ["Content-Length", String(bytes.length)],
      ["Cache-Control", "no-store"],
    ]);
    return [bytes];
  };
}
