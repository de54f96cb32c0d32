/**
 * Recipe: a JSON API. The body is read from `wsgi.input` (never past
 * `CONTENT_LENGTH`), parsed, and answered as JSON; a body that is not JSON,
 * or not JSON at all by its `Content-Type`, is a 400 or 415 that says why, and
 * any other method a 405 with `Allow`.
 *
 * `POST /items` with `{"name": "cup"}` answers `201` with the new item.
 * Run: `deno run -A mod.ts examples/json.ts`, then
 * `curl -d '{"name":"cup"}' -H 'Content-Type: application/json' http://127.0.0.1:8000/items`.
 *
 * @module
 */

import type { Application, StartResponse } from "../mod.ts";

const encoder = new TextEncoder();

function json(
  start_response: StartResponse,
  status: string,
  value: unknown,
  extra: [string, string][] = [],
) {
  const body = encoder.encode(JSON.stringify(value));
  start_response(status, [["Content-Type", "application/json"], ...extra]);
  return [body];
}

const items: { id: number; name: string }[] = [];

/** `GET /items` lists, `POST /items` adds one. */
export const application: Application = async (environ, start_response) => {
  if (environ.PATH_INFO !== "/items") {
    return json(start_response, "404 Not Found", { error: "no such route" });
  }
  if (environ.REQUEST_METHOD === "GET") return json(start_response, "200 OK", items);
  if (environ.REQUEST_METHOD !== "POST") {
    return json(start_response, "405 Method Not Allowed", { error: "use GET or POST" }, [[
      "Allow",
      "GET, POST",
    ]]);
  }
  if (!/^application\/json\b/.test(environ.CONTENT_TYPE ?? "")) {
    return json(start_response, "415 Unsupported Media Type", {
      error: `send Content-Type: application/json (got ${
        JSON.stringify(environ.CONTENT_TYPE ?? null)
      })`,
    });
  }
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder().decode(await environ["wsgi.input"].read()));
  } catch (error) {
    return json(start_response, "400 Bad Request", {
      error: `the body is not JSON: ${(error as Error).message}`,
    });
  }
  const name = (data as { name?: unknown } | null)?.name;
  if (typeof name !== "string" || name === "") {
    return json(start_response, "400 Bad Request", { error: 'expected {"name": "..."}' });
  }
  const item = { id: items.length + 1, name };
  items.push(item);
  return json(start_response, "201 Created", item, [[
    "Location",
    `${environ.SCRIPT_NAME}/items/${item.id}`,
  ]]);
};
