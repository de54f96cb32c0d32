/**
 * The CLI's server as it was before the dev loop: the gateway serving
 * `examples/hello.ts` in this one process, with the request log on stderr,
 * and with `--record` the inspector recording into its store (its side port
 * open, as the CLI's). The throughput benchmark's `gateway` and `inspector`
 * contenders, against which the supervised CLI (`dev`) is measured.
 *
 * With `--recorder seam`, `copy` or `copy-environ`, one of the ceiling
 * recorders of `ceiling_recorders.ts` instead of the inspector (the
 * contenders of the same names): what the recording seam alone costs, and what any recorder
 * that keeps the exchange must cost.
 *
 * Run by `throughput.ts`:
 * `deno run -A tests/bench/inprocess_server.ts [--record | --recorder seam|copy|copy-environ] [--no-log]`
 * (`--no-log`: without the request log, the `nolog` contender).
 * Listens on 127.0.0.1 on a free port and prints its URL on stdout.
 *
 * @module
 */

import { serve } from "../../server/serve.ts";
import { createInspector } from "../../inspector/mod.ts";
import { application } from "../../examples/hello.ts";
import { CEILINGS } from "./ceiling_recorders.ts";

const inspector = Deno.args.includes("--record") ? createInspector({ port: 0 }) : undefined;
const at = Deno.args.indexOf("--recorder");
const ceiling = at === -1 ? undefined : Deno.args[at + 1] ?? "";
if (ceiling !== undefined && !(ceiling in CEILINGS)) {
  console.error(
    `error: --recorder must be one of ${Object.keys(CEILINGS)} (got ${JSON.stringify(ceiling)})`,
  );
  Deno.exit(2);
}
const server = serve(application, {
  hostname: "127.0.0.1",
  port: 0,
  recorder: inspector?.recorder ?? (ceiling !== undefined ? CEILINGS[ceiling]!() : undefined),
  log: !Deno.args.includes("--no-log"),
});
if (inspector) await inspector.listen(server.url);
console.log(`Serving HTTP on ${server.url}`);
const stop = () => server.shutdown();
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);
await server.finished;
await inspector?.shutdown();
