/**
 * The CLI's server as it was before the dev loop: the gateway serving
 * `examples/hello.ts` in this one process, with the request log on stderr,
 * and with `--record` the inspector recording into its store (its side port
 * open, as the CLI's). The throughput benchmark's `gateway` and `inspector`
 * contenders, against which the supervised CLI (`dev`) is measured.
 *
 * Run by `throughput.ts`: `deno run -A tests/bench/inprocess_server.ts [--record]`.
 * Listens on 127.0.0.1 on a free port and prints its URL on stdout.
 *
 * @module
 */

import { serve } from "../../server/serve.ts";
import { createInspector } from "../../inspector/mod.ts";
import { application } from "../../examples/hello.ts";

const inspector = Deno.args.includes("--record") ? createInspector({ port: 0 }) : undefined;
const server = serve(application, {
  hostname: "127.0.0.1",
  port: 0,
  recorder: inspector?.recorder,
  log: true,
});
if (inspector) await inspector.listen(server.url);
console.log(`Serving HTTP on ${server.url}`);
const stop = () => server.shutdown();
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
await server.finished;
await inspector?.shutdown();
