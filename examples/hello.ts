/**
 * The seed's first web application: one page, "Hello,web".
 *
 * Run it with `deno run -A mod.ts` (it is the default) or
 * `deno run -A mod.ts examples/hello.ts`.
 *
 * @module
 */

import type { Application } from "../mod.ts";

/** Answers every request with the same small HTML page. */
export const application: Application = (_environ, start_response) => {
  start_response("200 OK", [["Content-Type", "text/html"]]);
  return [new TextEncoder().encode("<h1>Hello,web</h1>")];
};
