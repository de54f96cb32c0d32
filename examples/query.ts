/**
 * Recipe: query strings. `QUERY_STRING` is the raw query, still
 * percent-encoded; `URLSearchParams` decodes it (as UTF-8), keeps the order,
 * and gives every value of a repeated key.
 *
 * Run: `deno run -A mod.ts examples/query.ts`, then open
 * `http://127.0.0.1:8000/?q=caf%C3%A9&tag=a&tag=b`.
 *
 * @module
 */

import type { Application } from "../mod.ts";

/** Answers the parsed query as JSON: `q`, every `tag`, and all pairs in order. */
export const application: Application = (environ, start_response) => {
  const params = new URLSearchParams(environ.QUERY_STRING);
  const body = JSON.stringify({
    q: params.get("q"), // the first value, or null
    tags: params.getAll("tag"), // every value of a repeated key
    pairs: [...params], // all of them, in order
  });
  start_response("200 OK", [["Content-Type", "application/json"]]);
  return [new TextEncoder().encode(body)];
};
