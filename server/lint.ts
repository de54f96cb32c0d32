/**
 * The seam between the validator (or any middleware that checks the spec)
 * and the inspector: how a broken rule becomes a `lint` event.
 *
 * When an exchange is recorded, the gateway puts a reporter in the environ
 * under {@linkcode LINT_KEY} (a server-defined key, as PEP 3333 asks:
 * prefixed with the server's name): an object with a `report(rule, message)`
 * method ({@linkcode LintReporter}; the gateway's is the exchange's own
 * `wsgi.errors` stream, an object it makes for that exchange anyway, so that
 * the seam allocates nothing). Whoever holds the environ calls
 * {@linkcode lint}; the gateway records `lint: { rule, message }` in that
 * exchange's timeline, once per rule per exchange. A plain function under
 * the key is called the same way (as a test may set one). Without a
 * recorder the key is absent and nothing is built: checking for it is the
 * only cost.
 *
 * The reporter travels with the environ through any middleware that passes
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

/** The environ key of the per-exchange reporter. */
export const LINT_KEY = "wsgi_deno.lint";

/** Reports one broken rule of the spec: a short stable id and a message for people. */
export type LintReport = (rule: string, message: string) => void;

/** What the gateway puts under {@linkcode LINT_KEY}: an object that reports broken rules. */
export interface LintReporter {
  report: LintReport;
}

/**
 * Reports a broken rule to the exchange's recorder, if the environ carries
 * one (a recorded exchange under our gateway); otherwise does nothing.
 */
export function lint(environ: Record<string, unknown>, rule: string, message: string): void {
  const reporter = environ[LINT_KEY];
  if (typeof reporter === "function") (reporter as LintReport)(rule, message);
  else if (typeof (reporter as Partial<LintReporter> | null)?.report === "function") {
    (reporter as LintReporter).report(rule, message);
  }
}
