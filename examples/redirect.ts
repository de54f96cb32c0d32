/**
 * Recipe: redirects. Post/Redirect/Get: a form posts, the app answers
 * `303 See Other` to a page the browser then GETs, so a reload does not post
 * twice; a moved page answers `301 Moved Permanently`. The `Location` is built
 * from `SCRIPT_NAME`, so it stays right when the app is mounted under a
 * prefix, and always starts with one `/` (never `//host`, which a browser
 * would read as another site).
 *
 * Run: `deno run -A mod.ts examples/redirect.ts`.
 *
 * @module
 */

import type { Application, Environ, StartResponse } from "../mod.ts";

const encoder = new TextEncoder();

/** A redirect to `path` inside this application. */
function redirect(environ: Environ, start_response: StartResponse, status: string, path: string) {
  const location = `${environ.SCRIPT_NAME.replace(/^\/+/, "/")}${path}`;
  start_response(status, [["Location", location], ["Content-Type", "text/plain; charset=utf-8"]]);
  return [encoder.encode(`${status}: ${location}\n`)];
}

/** `POST /submit` → 303 to `/done`; `/old` → 301 to `/new`. */
export const application: Application = (environ, start_response) => {
  const path = environ.PATH_INFO;
  if (path === "/submit" && environ.REQUEST_METHOD === "POST") {
    return redirect(environ, start_response, "303 See Other", "/done");
  }
  if (path === "/old") return redirect(environ, start_response, "301 Moved Permanently", "/new");
  const page = path === "/done"
    ? "Thank you, it was sent."
    : path === "/new"
    ? "The new page."
    : "";
  if (!page && path !== "/") {
    start_response("404 Not Found", [["Content-Type", "text/plain; charset=utf-8"]]);
    return [encoder.encode("Not found\n")];
  }
  start_response("200 OK", [["Content-Type", "text/html; charset=utf-8"]]);
  return [encoder.encode(
    `<!doctype html><meta charset="utf-8"><p>${page || "Send it:"}</p>` +
      `<form method="post" action="${environ.SCRIPT_NAME}/submit"><button>Send</button></form>`,
  )];
};
