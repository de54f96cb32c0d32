/**
 * The filter box's little language, applied to the exchange list in the page
 * (the list is the store's bounded ring, so filtering locally is instant and
 * keeps working as new exchanges stream in), except for the body search.
 *
 * Words are ANDed: an HTTP method (`GET`, `post`) matches the method, a
 * status (`404`) or status class (`5xx`) matches the status, `body:text`
 * matches text in the request or response body (searched by the side port
 * over the whole store: see {@linkcode bodyTerms}), anything else matches
 * the path and query text, case-insensitively. `-word` excludes. A word may
 * be quoted to hold spaces: `body:"two words"`, `"/a b"`.
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

/** One word of the filter: its text, and whether it excludes. */
interface Word {
  text: string;
  negate: boolean;
}

/**
 * Splits filter text into words: whitespace separates, double quotes hold
 * spaces (`body:"a b"` is one word, `body:a b`), `-` before a word excludes.
 *
 * @example
 * ```ts
 * import { filterWords } from "./filter.ts";
 * const words = filterWords('GET -"/a b" body:"x y"');
 * console.assert(words.length === 3 && words[1]?.negate && words[2]?.text === "body:x y");
 * ```
 */
export function filterWords(text: string): Word[] {
  const words: Word[] = [];
  const re = /(-?)((?:[^\s"]|"[^"]*"?)+)/g;
  for (const m of text.matchAll(re)) {
    const raw = m[2]!;
    const word = raw.replace(/"([^"]*)"?/g, "$1");
    if (word === "" || (m[1] === "" && raw === "-")) continue;
    words.push({ text: word, negate: m[1] === "-" });
  }
  return words;
}

const isBodyWord = (word: Word) => /^body:/i.test(word.text);

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
 * Compiles filter text into a predicate (the body words aside: see
 * {@linkcode bodyTerms}); `undefined` when nothing else is left.
 *
 * @example
 * ```ts
 * import { compileFilter } from "./filter.ts";
 * const test = compileFilter("GET 2xx /api body:x")!;
 * const e = { method: "GET", status: 200, target: "/api/x" };
 * console.assert(test(e as Parameters<typeof test>[0]));
 * ```
 */
export function compileFilter(text: string): Test | undefined {
  const tests = filterWords(text).filter((w) => !isBodyWord(w)).map((word): Test => {
    const test = termTest(word.text);
    return word.negate ? (e) => !test(e) : test;
  });
  if (tests.length === 0) return undefined;
  return (e) => tests.every((test) => test(e));
}

/** The body words of filter text: texts every body must hold, and texts none may. */
export interface BodyTerms {
  include: string[];
  exclude: string[];
}

/**
 * The `body:` words of filter text (empty ones dropped), for the side port's
 * search (`GET /api/exchanges?body=`).
 *
 * @example
 * ```ts
 * import { bodyTerms } from "./filter.ts";
 * const terms = bodyTerms('body:"hello web" -body:secret POST');
 * console.assert(terms.include[0] === "hello web" && terms.exclude[0] === "secret");
 * ```
 */
export function bodyTerms(text: string): BodyTerms {
  const terms: BodyTerms = { include: [], exclude: [] };
  for (const word of filterWords(text)) {
    if (!isBodyWord(word)) continue;
    const term = word.text.slice(5);
    if (term !== "") (word.negate ? terms.exclude : terms.include).push(term);
  }
  return terms;
}

/** The exchanges that match the filter text (body words aside), in their order. */
export function filterExchanges(list: ExchangeSummary[], text: string): ExchangeSummary[] {
  const test = compileFilter(text);
  return test ? list.filter(test) : list;
}
