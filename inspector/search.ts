/**
 * Search in bodies: the list route's `body` parameter (`GET
 * /api/exchanges?body=text`), which the page's `body:text` filter word
 * sends. Runs over every kept exchange in the store, newest first, not only
 * those the page has listed: each exchange's two captured streams (the
 * request body as the client sent it, every byte the app produced) are
 * searched as bytes for the text's UTF-8 bytes, ASCII letters in any case.
 * Only what was kept (the first `--max-body-bytes` of each stream) can be
 * found.
 *
 * The search runs on the inspector's thread (the CLI's supervisor), so its
 * work is bounded whatever the request asks:
 *
 * - It is linear: Knuth-Morris-Pratt over the case-folded bytes reads each
 *   body byte once, and its fallbacks in the text never outnumber the bytes
 *   read, however the text repeats itself (a naive search of `aaa…ab` in
 *   `aaa…a` compares the whole text at every position).
 * - A text is at most {@linkcode MAX_SEARCH_TEXT_BYTES} bytes of UTF-8;
 *   a longer one is refused (the API answers 400).
 * - One request scans at most {@linkcode MAX_SEARCH_SCAN_BYTES} body bytes,
 *   every text counted: as much as the default store (64 MiB) holds, so a
 *   one-word search of a default store is never cut. When the budget runs
 *   out the search stops at that exchange, newest first: it and every older
 *   one are left out, and the list says so (`ExchangeList.searchCut`). A
 *   dev server's user expects every kept exchange searched, and an answer
 *   in tenths of a second at worst: the first holds for the default store,
 *   the second for any (`--inspector-memory` can be far larger).
 *
 * @module
 */

import type { SearchCut } from "./protocol.ts";
import type { KeptExchange } from "./store.ts";

/** The longest text one body search looks for: 1 KiB of UTF-8. */
export const MAX_SEARCH_TEXT_BYTES = 1024;

/** The most body bytes one list request scans, every text counted: 64 MiB. */
export const MAX_SEARCH_SCAN_BYTES = 64 * 1024 * 1024;

const FOLD = new Uint8Array(256);
for (let i = 0; i < 256; i++) FOLD[i] = i >= 0x41 && i <= 0x5a ? i + 32 : i;

/** What is left of one request's scan budget, in bytes; searches take from it. */
interface ScanBudget {
  left: number;
}

/**
 * A compiled text to look for: its folded UTF-8 bytes and their
 * Knuth-Morris-Pratt failure table (`next[k]`: the length of the longest
 * proper border of the text's first `k + 1` bytes).
 */
class Pattern {
  readonly #needle: Uint8Array;
  readonly #next: Int32Array;

  constructor(text: string) {
    const needle = new TextEncoder().encode(text).map((b) => FOLD[b]!);
    const next = new Int32Array(needle.length);
    for (let i = 1, k = 0; i < needle.length; i++) {
      while (k > 0 && needle[i] !== needle[k]) k = next[k - 1]!;
      if (needle[i] === needle[k]) k++;
      next[i] = k;
    }
    this.#needle = needle;
    this.#next = next;
  }

  /**
   * Looks for the text in the first `end` bytes of `hay`, ASCII letters in
   * any case. Reads each of those bytes at most once, and stops at the
   * first match.
   *
   * @returns how many bytes of `hay` were read (`end`) when the text is not
   * there; when it is, `-1 - read` (so `-4`: found, ending at byte 3), and
   * `-1` for an empty text
   */
  scan(hay: Uint8Array, end: number): number {
    const needle = this.#needle;
    const next = this.#next;
    const m = needle.length;
    if (m === 0) return -1;
    const first = needle[0]!;
    let k = 0;
    for (let i = 0; i < end; i++) {
      const c = FOLD[hay[i]!]!;
      if (k === 0) {
        if (c !== first) continue;
      } else {
        // Each step back undoes one step forward: at most one per byte read, over the scan.
        while (k > 0 && needle[k] !== c) k = next[k - 1]!;
        if (k === 0 && c !== first) continue;
      }
      if (++k === m) return -2 - i;
    }
    return end;
  }
}

/**
 * A test of bytes for `text`: its UTF-8 bytes anywhere in them, ASCII
 * letters in any case. Linear in the bytes searched, whatever the text.
 *
 * @example
 * ```ts
 * import { bytesContain } from "./search.ts";
 * const test = bytesContain("Hello");
 * console.assert(test(new TextEncoder().encode('{"greeting":"hello, web"}')));
 * ```
 */
export function bytesContain(text: string): (bytes: Uint8Array) => boolean {
  const pattern = new Pattern(text);
  return (bytes) => pattern.scan(bytes, bytes.length) < 0;
}

/** `n` bytes for a person: `64 MiB`, `512 KiB`, `100 bytes`. */
function bytesText(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** Options of {@linkcode bodyFilter}. */
export interface BodyFilterOptions {
  /** Body bytes the filter scans at most, over every exchange and text; {@linkcode MAX_SEARCH_SCAN_BYTES} by default. */
  maxScanBytes?: number;
}

/**
 * A list filter that keeps the exchanges whose request or response body
 * contains every one of `texts` (each in either body). For an exchange it
 * could not search to the end within its scan budget (see the module doc)
 * it answers where and why it stopped: the list stops there.
 *
 * @throws {RangeError} for an empty text, or one longer than {@linkcode MAX_SEARCH_TEXT_BYTES}
 *
 * @example
 * ```ts
 * import { bodyFilter } from "./search.ts";
 * try {
 *   bodyFilter(["x".repeat(2000)]);
 * } catch (error) {
 *   console.assert(error instanceof RangeError && /at most 1024 bytes/.test(error.message));
 * }
 * ```
 */
export function bodyFilter(
  texts: string[],
  options: BodyFilterOptions = {},
): (exchange: KeptExchange) => boolean | SearchCut {
  const encoder = new TextEncoder();
  for (const text of texts) {
    if (text === "") {
      throw new RangeError(
        'Cannot search bodies: body must be some text to look for (got "")',
      );
    }
    const bytes = encoder.encode(text).length;
    if (bytes > MAX_SEARCH_TEXT_BYTES) {
      throw new RangeError(
        `Cannot search bodies: body must be at most ${MAX_SEARCH_TEXT_BYTES} bytes of UTF-8 (got ${bytes} bytes, ${
          JSON.stringify(text.slice(0, 20) + "…")
        }); search for a shorter part of it`,
      );
    }
  }
  const patterns = texts.map((text) => new Pattern(text));
  const maxScanBytes = options.maxScanBytes ?? MAX_SEARCH_SCAN_BYTES;
  const budget: ScanBudget = { left: maxScanBytes };
  const cut = (seq: number): SearchCut => ({
    seq,
    message:
      `The body search stopped at exchange ${seq}: it and older ones were not searched (one request scans at most ${
        bytesText(maxScanBytes)
      } of bodies); narrow the search with method, status or path words, or clear old exchanges`,
  });
  /** Whether `pattern` is in `hay`; undefined when the budget ran out first. */
  const find = (pattern: Pattern, hay: Uint8Array): boolean | undefined => {
    const end = Math.min(hay.length, budget.left);
    const scanned = pattern.scan(hay, end);
    if (scanned < 0) {
      budget.left -= -1 - scanned;
      return true;
    }
    budget.left -= scanned;
    return end === hay.length ? false : undefined;
  };
  return (exchange) => {
    if (budget.left <= 0) return cut(exchange.seq);
    const { request, response } = exchange.bodies();
    for (const pattern of patterns) {
      const inRequest = find(pattern, request);
      if (inRequest === true) continue;
      const inResponse = find(pattern, response);
      if (inResponse === true) continue;
      if (inRequest === undefined || inResponse === undefined) return cut(exchange.seq);
      return false;
    }
    return true;
  };
}
