/**
 * Who may see the server's internals: the developer's own machine.
 *
 * The dev loop's error pages show source code, stacks and file paths: the
 * load-error page (`./load_error.ts`) and the debug page (`./debug_page.ts`).
 * Both show them only to a loopback client (`REMOTE_ADDR` in 127.0.0.0/8, or
 * `::1`), as Werkzeug's debugger is meant for the developer's own browser;
 * any other client gets the bare `500 Internal Server Error` that
 * `toFetch()` answers by default, which names nothing. `--debug-any-client`
 * (`anyClient`) shows them to everyone, for a network the user trusts.
 *
 * @module
 */

import type { Environ } from "../types.ts";

/** Whether the client is this machine. */
export function isLoopback(address: unknown): boolean {
  return typeof address === "string" &&
    (address.startsWith("127.") || address === "::1" || address.startsWith("::ffff:127."));
}

/**
 * Whether the client of `environ` may see the internals: a loopback client,
 * or anyone when `anyClient`. No environ (the request failed before it was
 * built): no one.
 */
export function showsInternals(
  environ: Environ | undefined,
  anyClient = false,
): environ is Environ {
  return environ !== undefined && (anyClient || isLoopback(environ.REMOTE_ADDR));
}
