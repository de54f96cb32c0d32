/**
 * The tutorial's `server.py`, line for line:
 *
 * ```python
 * from wsgiref.simple_server import make_server
 * from app import application
 *
 * httpd = make_server("", 8000, application)
 * print("Serving HTTP on port 8000...")
 * httpd.serve_forever()
 * ```
 *
 * Run: `deno run -A examples/server.ts` (then Ctrl-C). A port and a host may
 * be given as arguments (`deno run -A examples/server.ts 0 127.0.0.1`).
 *
 * @module
 */

import { make_server } from "../mod.ts";
import { application } from "./hello.ts";

const [port = "8000", host = ""] = Deno.args; // optional overrides: PORT HOST
const httpd = make_server(host, Number(port), application);
console.log(`Serving HTTP on port ${httpd.server_port}...`);
Deno.addSignalListener("SIGINT", () => httpd.shutdown());
await httpd.serve_forever();
