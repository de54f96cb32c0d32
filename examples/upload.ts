/**
 * Recipe: multipart uploads. `multipart/form-data` is parsed by the web
 * platform's own `Request.formData()`: hand it the body from `wsgi.input`
 * and the `Content-Type` (which carries the boundary).
 *
 * `GET /` shows a form; `POST /` answers each field and file (name, size,
 * type, first bytes). Run: `deno run -A mod.ts examples/upload.ts`.
 *
 * @module
 */

import type { Application, Environ } from "../mod.ts";

const escape = (text: string) =>
  text.replace(/[&<>"]/g, (c) => `&${{ "&": "amp", "<": "lt", ">": "gt", '"': "quot" }[c]};`);

/** Parses a `multipart/form-data` (or urlencoded) body from the environ. */
export async function formData(environ: Environ): Promise<FormData> {
  const body = await environ["wsgi.input"].read();
  return new Request("http://localhost/", {
    method: "POST",
    headers: { "Content-Type": environ.CONTENT_TYPE ?? "" },
    body,
  }).formData();
}

const FORM = `<form method="post" enctype="multipart/form-data">
  <input name="title"> <input type="file" name="file" multiple> <button>Upload</button>
</form>`;

/** Shows the form, or describes what was uploaded. */
export const application: Application = async (environ, start_response) => {
  let html = `<!doctype html><meta charset="utf-8"><title>upload</title>${FORM}`;
  if (environ.REQUEST_METHOD === "POST") {
    let data: FormData;
    try {
      data = await formData(environ);
    } catch (error) {
      start_response("400 Bad Request", [["Content-Type", "text/plain; charset=utf-8"]]);
      return [new TextEncoder().encode(`Cannot read the form: ${(error as Error).message}\n`)];
    }
    const rows: string[] = [];
    for (const [name, value] of data) {
      rows.push(
        typeof value === "string"
          ? `<li>${escape(name)} = ${escape(value)}</li>`
          : `<li>${escape(name)}: file ${escape(value.name)}, ${value.size} bytes, ${
            escape(value.type || "no type")
          }, starts ${escape(JSON.stringify((await value.text()).slice(0, 20)))}</li>`,
      );
    }
    html += `<ul>${rows.join("")}</ul>`;
  }
  start_response("200 OK", [["Content-Type", "text/html; charset=utf-8"]]);
  return [new TextEncoder().encode(html)];
};
