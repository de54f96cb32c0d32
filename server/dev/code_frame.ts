/**
 * Code frames: the lines around a place in a source file, with a caret under
 * the column, as text for the terminal and HTML for the error pages.
 *
 * @module
 */

/** One line of a code frame. */
export interface FrameLine {
  /** 1-based line number. */
  n: number;
  text: string;
  /** Whether this is the line the frame points at. */
  current: boolean;
}

/** The lines around `line` of a source (1-based), `around` each side. */
export function codeFrame(source: string, line: number, around = 3): FrameLine[] {
  const lines = source.split(/\r?\n/);
  const from = Math.max(1, line - around);
  const to = Math.min(lines.length, line + around);
  const out: FrameLine[] = [];
  for (let n = from; n <= to; n++) out.push({ n, text: lines[n - 1]!, current: n === line });
  return out;
}

/** Reads a local file's text, or `undefined` when it cannot be read. */
export function readSource(file: string): string | undefined {
  try {
    return Deno.readTextFileSync(file);
  } catch {
    return undefined;
  }
}

/** Tabs shown as two spaces, so the caret lines up. */
const untab = (text: string) => text.replaceAll("\t", "  ");

/**
 * A code frame as text: numbered lines, `>` at the current one, and a caret
 * under `column` (1-based).
 *
 * @example
 * ```ts
 * import { formatCodeFrame } from "./code_frame.ts";
 * const text = formatCodeFrame("a\nb = 1 +;\nc", 2, 9);
 * console.assert(text.includes("> 2 | b = 1 +;") && text.includes("    |         ^"));
 * ```
 */
export function formatCodeFrame(source: string, line: number, column?: number, around = 3): string {
  const frame = codeFrame(source, line, around);
  const width = String(frame.at(-1)?.n ?? line).length;
  const out: string[] = [];
  for (const l of frame) {
    out.push(`${l.current ? ">" : " "} ${String(l.n).padStart(width)} | ${untab(l.text)}`);
    if (l.current && column !== undefined && column > 0) {
      const before = untab(l.text.slice(0, column - 1));
      out.push(`  ${" ".repeat(width)} | ${" ".repeat(before.length)}^`);
    }
  }
  return out.join("\n");
}

/** Escapes text for HTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A code frame as an HTML `<pre>`, with the current line marked and a caret under the column. */
export function htmlCodeFrame(source: string, line: number, column?: number, around = 3): string {
  const frame = codeFrame(source, line, around);
  const width = String(frame.at(-1)?.n ?? line).length;
  let html = '<pre class="frame" data-testid="code-frame">';
  for (const l of frame) {
    const text = `${String(l.n).padStart(width)} | ${untab(l.text)}`;
    html += l.current
      ? `<span class="current">${escapeHtml(text)}</span>\n`
      : `${escapeHtml(text)}\n`;
    if (l.current && column !== undefined && column > 0) {
      const pad = " ".repeat(width + 3 + untab(l.text.slice(0, column - 1)).length);
      html += `<span class="caret">${pad}^</span>\n`;
    }
  }
  return html + "</pre>";
}

/** The style of the dev server's error pages. */
export const PAGE_STYLE = `
body { font: 15px/1.45 system-ui, sans-serif; margin: 0; color: #1f2328; background: #fff; }
header { background: #b42318; color: #fff; padding: 18px 28px; }
header h1 { font-size: 20px; margin: 0 0 4px; }
header p { margin: 0; font-family: ui-monospace, monospace; white-space: pre-wrap; }
main { padding: 18px 28px; }
.where { font-family: ui-monospace, monospace; color: #57606a; margin: 14px 0 6px; }
pre { font: 13px/1.5 ui-monospace, monospace; background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px; padding: 10px 14px; overflow-x: auto; }
pre .current { background: #ffebe9; display: inline-block; min-width: 100%; }
pre .caret { color: #b42318; font-weight: bold; }
details { margin: 8px 0; color: #57606a; }
footer { color: #57606a; font-size: 13px; padding: 0 28px 24px; }
a { color: #0969da; }
`;

/** Whether a client wants HTML (a browser), from its `Accept` header. */
export function wantsHtml(accept: unknown): boolean {
  return typeof accept === "string" && accept.includes("text/html");
}
