/**
 * A form that posts to itself and reads the body from `wsgi.input`.
 *
 * `GET /` shows the form; `POST /` reads exactly `CONTENT_LENGTH` bytes,
 * parses them as `application/x-www-form-urlencoded` and greets the name.
 *
 * Run: `deno run -A mod.ts examples/form.ts`.
 *
 * @module
 */

import type { Application } from "../mod.ts";

const escape = (text: string) =>
  text.replace(/[&<>"]/g, (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot" }[c]};`);

const FORM = `<form method="post">
  <label>Your name <input name="name" autofocus></label>
  <button>Send</button>
</form>`;

/** Shows the form, or answers the posted name. */
export const application: Application = async (environ, start_response) => {
  let html = `<!doctype html><meta charset="utf-8"><title>form</title>${FORM}`;
  if (environ.REQUEST_METHOD === "POST") {
    const bytes = await environ["wsgi.input"].read();
    const fields = new URLSearchParams(new TextDecoder().decode(bytes));
    html += `<p>Hello, <b>${escape(fields.get("name") ?? "stranger")}</b>!</p>`;
  }
  start_response("200 OK", [["Content-Type", "text/html; charset=utf-8"]]);
  return [new TextEncoder().encode(html)];
};
