/**
 * The seam between the validator (or any middleware that checks the spec)
 * and the inspector: how a broken rule becomes a `lint` event.
 *
 * When an exchange is recorded, the gateway puts a report function in the
 * environ under {@linkcode LINT_KEY} (a server-defined key, as PEP 3333 asks:
 * prefixed with the server's name). Whoever holds the environ calls
 * `report(rule, message)`; the gateway records `lint: { rule, message }` in
 * that exchange's timeline, once per rule per exchange. Without a recorder the
 * key is absent and nothing is built: checking for it is the only cost.
 *
 * The function travels with the environ through any middleware that passes
 * the same object on (`mount`, `proxyFix`, ...), and is never called by the
 * gateway's own code path when no rule is broken.
 *
 * @example
 * ```ts
 * import { lint } from "./lint.ts";
 * // In a middleware, on finding a broken rule:
 * lint({}, "headers.status", "The Status header cannot be used"); // no recorder: does nothing
 * ```
 *
 * @module
 */

/** The environ key of the per-exchange report function. */
export const LINT_KEY = "wsgi_deno.lint";

/** Reports one broken rule of the spec: a short stable id and a message for people. */
export type LintReport = (rule: string, message: string) => void;

/**
 * Reports a broken rule to the exchange's recorder, if the environ carries
 * one (a recorded exchange under our gateway); otherwise does nothing.
 */
export function lint(environ: Record<string, unknown>, rule: string, message: string): void {
  const report = environ[LINT_KEY];
  if (typeof report === "function") (report as LintReport)(rule, message);
}
