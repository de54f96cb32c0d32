/**
 * The hello application as a fetch handler for `deno serve`:
 *
 * ```sh
 * deno serve -A examples/parallel.ts                 # one process
 * deno serve -A --parallel examples/parallel.ts      # one process per core
 * ```
 *
 * `toFetch` turns any WSGI application into `{ fetch }`; under `--parallel`
 * each process has its own copy of the app, so `wsgi.multiprocess` is true.
 *
 * @module
 */

import { toFetch } from "../mod.ts";
import { application } from "./hello.ts";

export default {
  fetch: toFetch(application, { log: true, multiprocess: true }),
} satisfies Deno.ServeDefaultExport;
