/**
 * The memory benchmark's body app: reads the whole request body from
 * `wsgi.input` and answers it back (`deno run -A mod.ts tests/bench/echo_app.ts`).
 *
 * @module
 */

import type { Application } from "../../server/types.ts";

export const application: Application = async (environ, start_response) => {
  const body = await environ["wsgi.input"].read();
  start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
  return [body];
};
