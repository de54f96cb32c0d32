/**
 * The filter box's little language, applied to the exchange list in the page
 * (the list is the store's bounded ring, so filtering locally is instant and
 * keeps working as new exchanges stream in).
 *
 * Words are ANDed: an HTTP method (`GET`, `post`) matches the method, a
 * status (`404`) or status class (`5xx`) matches the status, anything else
 * matches the path and query text, case-insensitively. `-word` excludes.
 *
 * @module
 */

import type { ExchangeSummary } from "../protocol.ts";

const METHODS = new Set([
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
]);

type Test = (exchange: ExchangeSummary) => boolean;

function termTest(term: string): Test {
  const upper = term.toUpperCase();
  if (METHODS.has(upper)) return (e) => e.method.toUpperCase() === upper;
  if (/^\d{3}$/.test(term)) return (e) => e.status === Number(term);
  if (/^[1-5]xx$/i.test(term)) {
    const family = Number(term[0]);
    return (e) => e.status !== null && Math.floor(e.status / 100) === family;
  }
  const lower = term.toLowerCase();
  return (e) => e.target.toLowerCase().includes(lower);
}

/**
 * Compiles filter text into a predicate; `undefined` for an empty filter.
 *
 * @example
 * ```ts
 * import { compileFilter } from "./filter.ts";
 * const test = compileFilter("GET 2xx /api")!;
 * const e = { method: "GET", status: 200, target: "/api/x" };
 * console.assert(test(e as Parameters<typeof test>[0]));
 * ```
 */
export function compileFilter(text: string): Test | undefined {
  const tests = text.trim().split(/\s+/).filter(Boolean).map((word): Test => {
    if (word.startsWith("-") && word.length > 1) {
      const test = termTest(word.slice(1));
      return (e) => !test(e);
    }
    return termTest(word);
  });
  if (tests.length === 0) return undefined;
  return (e) => tests.every((test) => test(e));
}

/** The exchanges that match the filter text, in their order. */
export function filterExchanges(list: ExchangeSummary[], text: string): ExchangeSummary[] {
  const test = compileFilter(text);
  return test ? list.filter(test) : list;
}
