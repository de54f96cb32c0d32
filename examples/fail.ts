/**
 * An application that throws: the server answers a 500, logs the stack to
 * stderr, and keeps serving. Under the CLI the 500 is the debug page (the
 * error, the app's frames with their source); `serve()` and `toFetch()`
 * answer a bare 500 unless `debug: true`.
 *
 * `/` throws before `start_response`; `/late` throws from the body iterable
 * after the first chunk went out (the connection is cut: the client must not
 * mistake half a page for a whole one).
 *
 * Run: `deno run -A mod.ts examples/fail.ts`.
 *
 * @module
 */

import type { Application } from "../mod.ts";

/** Fails, early or late depending on the path. */
export const application: Application = (environ, start_response) => {
  if (environ.PATH_INFO === "/late") {
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return (function* () {
      yield new TextEncoder().encode("first part\n");
      throw new Error("The page broke halfway");
    })();
  }
  throw new Error("Something went wrong in the application");
};
