/**
 * Search in bodies: the list route's `body` parameter (`GET
 * /api/exchanges?body=text`), which the page's `body:text` filter word
 * sends. Runs over every kept exchange in the store, not only those the page
 * has listed: each exchange's two captured streams (the request body as the
 * client sent it, every byte the app produced) are searched as bytes for the
 * text's UTF-8 bytes, ASCII letters in any case. Only what was kept (the
 * first `--max-body-bytes` of each stream) can be found.
 *
 * @module
 */

import type { KeptExchange } from "./store.ts";

const FOLD = new Uint8Array(256);
for (let i = 0; i < 256; i++) FOLD[i] = i >= 0x41 && i <= 0x5a ? i + 32 : i;

/**
 * Whether `needle` (already folded) occurs in `hay`, ASCII letters compared
 * in any case.
 */
function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  const n = needle.length;
  if (n === 0) return true;
  const first = needle[0]!;
  const last = hay.length - n;
  outer: for (let i = 0; i <= last; i++) {
    if (FOLD[hay[i]!] !== first) continue;
    for (let j = 1; j < n; j++) if (FOLD[hay[i + j]!] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

/**
 * A test of bytes for `text`: its UTF-8 bytes anywhere in them, ASCII
 * letters in any case.
 *
 * @example
 * ```ts
 * import { bytesContain } from "./search.ts";
 * const test = bytesContain("Hello");
 * console.assert(test(new TextEncoder().encode('{"greeting":"hello, web"}')));
 * ```
 */
export function bytesContain(text: string): (bytes: Uint8Array) => boolean {
  const needle = new TextEncoder().encode(text).map((b) => FOLD[b]!);
  return (bytes) => contains(bytes, needle);
}

/**
 * A list filter that keeps the exchanges whose request or response body
 * contains every one of `texts` (each in either body).
 *
 * @throws {RangeError} for an empty text
 */
export function bodyFilter(texts: string[]): (exchange: KeptExchange) => boolean {
  for (const text of texts) {
    if (text === "") {
      throw new RangeError(
        'Cannot search bodies: body must be some text to look for (got "")',
      );
    }
  }
  const tests = texts.map(bytesContain);
  return (exchange) => {
    const { request, response } = exchange.bodies();
    return tests.every((test) => test(request) || test(response));
  };
}
