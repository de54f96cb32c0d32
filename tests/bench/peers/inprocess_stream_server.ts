/**
 * The streaming rows' in-process contender for `tests/bench/peers.ts`: the
 * gateway serving `stream_app.ts` in this one process, as an app process of
 * the CLI serves it (the validator in front, the request log on, no upload
 * limit), without the dev loop's supervisor and channel. With `--record` the
 * inspector records into its store in this same process. Separates the
 * gateway's cost (`inprocess` against raw `Deno.serve`) from the dev loop's
 * (the CLI against `inprocess --record`).
 *
 * `deno run -A tests/bench/peers/inprocess_stream_server.ts [--record] [--no-validate]`
 * listens on 127.0.0.1 on a free port and prints its URL on stdout.
 *
 * @module
 */

import { serve } from "../../../server/serve.ts";
import { validator } from "../../../server/validate.ts";
import { createInspector } from "../../../inspector/mod.ts";
import { application } from "./stream_app.ts";

const inspector = Deno.args.includes("--record") ? createInspector({ port: 0 }) : undefined;
const app = Deno.args.includes("--no-validate") ? application : validator(application);
const server = serve(app, {
  hostname: "127.0.0.1",
  port: 0,
  recorder: inspector?.recorder,
  log: true,
  maxRequestBody: 0,
});
if (inspector) await inspector.listen(server.url);
console.log(`Serving HTTP on ${server.url}`);
const stop = () => server.shutdown();
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
await server.finished;
await inspector?.shutdown();
