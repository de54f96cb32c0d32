/**
 * The debug page: what a runtime error answers under the CLI.
 *
 * The error's name and message; its stack, mapped to the TypeScript source
 * (Deno source-maps the stacks of local TypeScript modules by itself), parsed
 * with `error-stack-parser` (loaded by the first debug page, which waits
 * for it: it costs ~50 ms and ~11 MiB of resident memory with Deno's npm
 * support, which an app process that never fails need not spend); each of the application's frames with a few lines
 * of its source around it; the gateway's, Deno's and npm packages' frames
 * folded away; a link to the exchange in the inspector. Plain text for a
 * client that does not ask for HTML.
 *
 * It is shown only to a loopback client; anyone else gets the bare 500,
 * unless `anyClient` says otherwise (`./internals.ts` says why).
 *
 * @module
 */

import type { Application, Environ } from "../types.ts";
import type { ErrorPage } from "../error_page.ts";
import { describeError, errorPage } from "../error_page.ts";
import { ProtocolError } from "../rules.ts";
import { RequestBodyTooLarge } from "../input.ts";
import {
  escapeHtml,
  formatCodeFrame,
  htmlCodeFrame,
  PAGE_STYLE,
  readSource,
  wantsHtml,
} from "./code_frame.ts";
import { shortPath } from "./load_error.ts";
import { showsInternals } from "./internals.ts";

/** One frame of a parsed stack. */
export interface StackFrame {
  /** The function, when named. */
  fn?: string;
  /** The file as a URL (`file:///...`, `ext:...`, `node:...`). */
  url: string;
  line?: number;
  column?: number;
  /** The line as the stack printed it. */
  source: string;
  /** The application's own code (a local file outside this server and `node_modules`). */
  app: boolean;
}

interface ParsedFrame {
  functionName?: string;
  fileName?: string;
  lineNumber?: number;
  columnNumber?: number;
  source?: string;
}
let parser: { parse(error: Error): ParsedFrame[] } | undefined;
let loading: Promise<void> | undefined;

/**
 * Loads the stack parser (`npm:error-stack-parser`), once; never rejects.
 * Until it is loaded, or if it cannot be, stacks are parsed by a regular
 * expression.
 */
export function loadStackParser(): Promise<void> {
  loading ??= import("npm:error-stack-parser@2.1.4").then(
    (module) => void (parser = module.default),
    () => {/* the regular expression will do */},
  );
  return loading;
}

/** V8's `    at fn (url:line:col)` and `    at url:line:col`. */
const V8_FRAME = /^\s*at (?:(.*?) \()?(.+?):(\d+):(\d+)\)?$/;

function parseV8(error: Error): ParsedFrame[] {
  const frames: ParsedFrame[] = [];
  for (const line of (error.stack ?? "").split("\n")) {
    const m = line.match(V8_FRAME);
    if (!m) continue;
    frames.push({
      functionName: m[1],
      fileName: m[2],
      lineNumber: Number(m[3]),
      columnNumber: Number(m[4]),
      source: line,
    });
  }
  return frames;
}

/** This server's own files: their frames are the gateway's, folded away. */
const SERVER = new URL("../", import.meta.url).href;

/** Whether a frame's file is the application's own code. */
export function isAppFrame(url: string): boolean {
  return url.startsWith("file://") && !url.startsWith(SERVER) &&
    !url.includes("/node_modules/") && !url.includes("/.cache/deno/");
}

/** Parses an error's stack into frames; none when it has no stack. */
export function parseStack(error: unknown): StackFrame[] {
  if (!(error instanceof Error) || !error.stack) return [];
  let parsed: ParsedFrame[];
  try {
    parsed = parser ? parser.parse(error) : parseV8(error);
  } catch {
    parsed = parseV8(error);
  }
  return parsed.map((f) => {
    const url = f.fileName ?? "";
    return {
      fn: f.functionName,
      url,
      line: f.lineNumber,
      column: f.columnNumber,
      source: (f.source ?? "").trim(),
      app: isAppFrame(url),
    };
  });
}

function filePath(url: string): string | undefined {
  try {
    return url.startsWith("file://") ? decodeURIComponent(new URL(url).pathname) : undefined;
  } catch {
    return undefined;
  }
}

/** Where a frame points, shortened: `app.ts:12:5`. */
export function frameLocation(frame: StackFrame, cwd = Deno.cwd()): string {
  const path = filePath(frame.url);
  const where = path ? shortPath(path, cwd) : frame.url;
  return `${where}${frame.line ? `:${frame.line}:${frame.column ?? 0}` : ""}`;
}

/** The debug page as plain text. */
export function debugText(error: unknown, frames: StackFrame[], link?: string): string {
  const cwd = Deno.cwd();
  let text = `500 Internal Server Error\n\n${describeError(error)}\n`;
  if (error instanceof ProtocolError) text += `(rule: ${error.rule})\n`;
  let folded = 0;
  for (const frame of frames) {
    if (!frame.app) {
      folded++;
      continue;
    }
    if (folded > 0) {
      text += `    ... ${folded} frame${folded > 1 ? "s" : ""} of the server and Deno\n`;
    }
    folded = 0;
    text += `\n  at ${
      frame.fn ? `${frame.fn} (${frameLocation(frame, cwd)})` : frameLocation(frame, cwd)
    }\n`;
    const path = filePath(frame.url);
    const source = path ? readSource(path) : undefined;
    if (source !== undefined && frame.line) {
      text += formatCodeFrame(source, frame.line, frame.column, 2).replace(/^/gm, "    ") + "\n";
    }
  }
  if (folded > 0) {
    text += `    ... ${folded} frame${folded > 1 ? "s" : ""} of the server and Deno\n`;
  }
  if (link) text += `\nThis exchange in the inspector: ${link}\n`;
  return text;
}

/** The debug page as HTML. */
export function debugHtml(error: unknown, frames: StackFrame[], link?: string): string {
  const cwd = Deno.cwd();
  let list = "";
  let folded: StackFrame[] = [];
  const flush = () => {
    if (folded.length === 0) return;
    list += `<details class="folded"><summary>${folded.length} frame${
      folded.length > 1 ? "s" : ""
    } of the server and Deno</summary><pre>${
      escapeHtml(folded.map((f) => f.source).join("\n"))
    }</pre></details>`;
    folded = [];
  };
  for (const frame of frames) {
    if (!frame.app) {
      folded.push(frame);
      continue;
    }
    flush();
    const path = filePath(frame.url);
    const source = path ? readSource(path) : undefined;
    list += `<div class="where" data-testid="app-frame">${
      escapeHtml(
        frame.fn ? `${frame.fn} — ${frameLocation(frame, cwd)}` : frameLocation(frame, cwd),
      )
    }</div>${
      source !== undefined && frame.line ? htmlCodeFrame(source, frame.line, frame.column, 3) : ""
    }`;
  }
  flush();
  const rule = error instanceof ProtocolError ? `<p>rule: ${escapeHtml(error.rule)}</p>` : "";
  return `<!doctype html><html><head><meta charset="utf-8"><title>${
    escapeHtml(describeError(error))
  }</title><style>${PAGE_STYLE}</style></head><body>
<header data-testid="debug-error"><h1>500 Internal Server Error</h1><p>${
    escapeHtml(describeError(error))
  }</p>${rule}</header>
<main>${list || "<p>No stack.</p>"}</main>
<footer>${
    link
      ? `<a data-testid="inspector-link" href="${
        escapeHtml(link)
      }">This exchange in the inspector</a> · `
      : ""
  }The debug page is shown to this machine only.</footer></body></html>`;
}

/** Options of {@linkcode debugPage}. */
export interface DebugPageOptions {
  /** The inspector's URL, for the link to the exchange. */
  inspectorUrl?: string;
  /** The exchange's reference in the inspector, from its environ. */
  refOf?: (environ: Environ) => string | undefined;
  /** Show the page to clients off loopback too. */
  anyClient?: boolean;
}

/** Makes the gateway's `debug` option for the CLI: the debug page for loopback clients. */
export function debugPage(options: DebugPageOptions = {}): ErrorPage {
  return (error, environ): Application => {
    if (!showsInternals(environ, options.anyClient) || error instanceof RequestBodyTooLarge) {
      return errorPage(error, false);
    }
    const env = environ;
    return (_environ, start_response) => {
      if (parser === undefined && error instanceof Error) {
        // The first page waits for the parser (loaded once per process).
        return loadStackParser().then(() => page(start_response));
      }
      return page(start_response);
    };
    function page(start_response: Parameters<Application>[1]): Uint8Array[] {
      const frames = parseStack(error);
      const ref = options.refOf?.(env);
      const link = options.inspectorUrl && ref
        ? `${options.inspectorUrl.replace(/\/?(\?.*)?$/, "/$1")}#ref=${ref}`
        : options.inspectorUrl;
      const html = wantsHtml(env.HTTP_ACCEPT);
      const body = new TextEncoder().encode(
        html ? debugHtml(error, frames, link) : debugText(error, frames, link),
      );
      start_response("500 Internal Server Error", [
        ["Content-Type", html ? "text/html; charset=utf-8" : "text/plain; charset=utf-8"],
        ["Content-Length", String(body.length)],
        ["Cache-Control", "no-store"],
      ]);
      return [body];
    }
  };
}
