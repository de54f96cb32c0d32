/**
 * An environ page, like wsgiref's `demo_app`: "Hello world!" and an HTML
 * table of every environ key, sorted.
 *
 * Run: `deno run -A mod.ts examples/environ.ts`.
 *
 * @module
 */

import type { Application } from "../mod.ts";

const escape = (text: string) =>
  text.replace(/[&<>"]/g, (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot" }[c]};`);

/** Shows a value as the page prints it (objects by their `toString()`). */
function show(value: unknown): string {
  return Array.isArray(value) ? `[${value.join(", ")}]` : String(value);
}

/** Answers an HTML page listing the environ. */
export const application: Application = (environ, start_response) => {
  const rows = Object.keys(environ).sort().map((key) =>
    `<tr><th>${escape(key)}</th><td><code>${escape(show(environ[key]))}</code></td></tr>`
  ).join("\n");
  const html = `<!doctype html>
<meta charset="utf-8">
<title>environ</title>
<h1>Hello world!</h1>
<table>
${rows}
</table>
`;
  start_response("200 OK", [["Content-Type", "text/html; charset=utf-8"]]);
  return [new TextEncoder().encode(html)];
};
