/**
 * `wsgiref.headers.Headers`, in TypeScript: a response header list you can
 * treat like a case-insensitive map, and hand to `start_response` as it is.
 *
 * | here | wsgiref |
 * |---|---|
 * | `new Headers(list?)` | `Headers(headers=None)` (the list is kept, not copied) |
 * | `get(name, default?)`, `has(name)` | `get(name, default=None)`, `name in h`, `h[name]` |
 * | `getAll(name)` | `get_all(name)` |
 * | `set(name, value)` | `h[name] = value` (replaces every occurrence) |
 * | `delete(name)` | `del h[name]` (no error when absent) |
 * | `setdefault(name, value)` | `setdefault(name, value)` |
 * | `addHeader(name, value, params)` | `add_header(_name, _value, **_params)` |
 * | `keys()`, `values()`, `items()`, `length` | the same, and `len(h)` |
 * | `toString()` | `str(h)`: the header block, ending in a blank line |
 *
 * Names and values must be strings without control characters (a tab is
 * allowed in values, not in names), as wsgiref checks since 3.13: they
 * would let a value smuggle a header of its own.
 *
 * The class is named as in wsgiref, so it shadows the fetch API's global
 * `Headers` where it is imported; import it under another name
 * (`import { Headers as HeaderList }`) when a module needs both.
 *
 * @module
 */

import type { Header } from "./types.ts";

// deno-lint-ignore no-control-regex -- finding control characters is the point
const NAME_DISALLOWED = /[\x00-\x1f\x7f]/;
// deno-lint-ignore no-control-regex -- finding control characters is the point
const VALUE_DISALLOWED = /[\x00-\x08\x0a-\x1f\x7f]/;

function checked(value: unknown, what: "name" | "value"): string {
  if (typeof value !== "string") {
    throw new TypeError(
      `Cannot set header: the ${what} must be a string (got ${
        value === null ? "null" : typeof value
      })`,
    );
  }
  if ((what === "name" ? NAME_DISALLOWED : VALUE_DISALLOWED).test(value)) {
    throw new RangeError(
      `Cannot set header: the ${what} ${
        JSON.stringify(value)
      } contains a control character; remove it (a CR or LF would start a header of its own)`,
    );
  }
  return value;
}

/** `key="value"` (always quoted, as wsgiref's `add_header` does), or `key` alone for `null` or `""`. */
function formatParam(key: string, value: string | null): string {
  if (value === null || value.length === 0) return key;
  return `${key}="${value.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/**
 * A list of response headers with case-insensitive lookups.
 *
 * @example
 * ```ts
 * import { Headers } from "./headers.ts";
 * const headers = new Headers([["Content-Type", "text/plain"]]);
 * headers.addHeader("Content-Disposition", "attachment", { filename: "a.txt" });
 * console.assert(headers.get("content-type") === "text/plain");
 * console.assert(headers.get("Content-Disposition") === 'attachment; filename="a.txt"');
 * // start_response("200 OK", headers.items());
 * ```
 */
export class Headers implements Iterable<Header> {
  #list: Header[];

  /**
   * @param headers the list to manage: kept, not copied, so changes show in it
   * @throws {TypeError} unless `headers` is an array of `[name, value]` string pairs
   * @throws {RangeError} for a name or value with a control character
   */
  constructor(headers: Header[] = []) {
    if (!Array.isArray(headers)) {
      throw new TypeError(
        `Cannot make Headers: expected an array of [name, value] pairs (got ${typeof headers})`,
      );
    }
    for (const pair of headers) {
      if (!Array.isArray(pair) || pair.length !== 2) {
        throw new TypeError("Cannot make Headers: each header must be a [name, value] pair");
      }
      checked(pair[0], "name");
      checked(pair[1], "value");
    }
    this.#list = headers;
  }

  /** How many headers, duplicates included (`len(h)`). */
  get length(): number {
    return this.#list.length;
  }

  /** The first value of `name`, or `fallback` (`undefined` by default). */
  get(name: string): string | undefined;
  get<T>(name: string, fallback: T): string | T;
  get<T>(name: string, fallback?: T): string | T | undefined {
    const key = checked(name, "name").toLowerCase();
    for (const [k, v] of this.#list) if (k.toLowerCase() === key) return v;
    return fallback;
  }

  /** Whether a header named `name` is present (`name in h`). */
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Every value of `name`, in order (`get_all`). */
  getAll(name: string): string[] {
    const key = checked(name, "name").toLowerCase();
    return this.#list.filter(([k]) => k.toLowerCase() === key).map(([, v]) => v);
  }

  /** Removes every `name` header; no error when there is none (`del h[name]`). */
  delete(name: string): void {
    const key = checked(name, "name").toLowerCase();
    const kept = this.#list.filter(([k]) => k.toLowerCase() !== key);
    this.#list.length = 0;
    this.#list.push(...kept);
  }

  /** Replaces every `name` header with one, added at the end (`h[name] = value`). */
  set(name: string, value: string): void {
    checked(name, "name");
    checked(value, "value");
    this.delete(name);
    this.#list.push([name, value]);
  }

  /** The first value of `name`; when absent, adds `[name, value]` and returns `value`. */
  setdefault(name: string, value: string): string {
    const found = this.get(name);
    if (found !== undefined) return found;
    this.#list.push([checked(name, "name"), checked(value, "value")]);
    return value;
  }

  /**
   * Adds a header with parameters: `addHeader("Content-Disposition",
   * "attachment", { filename: "a.gif" })` adds `attachment;
   * filename="a.gif"`. A parameter whose value is `null` is added as its name
   * alone; `_` in a parameter name becomes `-`. `value` may be `null` for a
   * header of parameters only.
   */
  addHeader(name: string, value: string | null, params: Record<string, string | null> = {}): void {
    const parts: string[] = [];
    if (value !== null) parts.push(checked(value, "value"));
    for (const [k, v] of Object.entries(params)) {
      const key = checked(k, "name").replaceAll("_", "-");
      parts.push(v === null ? key : formatParam(key, checked(v, "value")));
    }
    this.#list.push([checked(name, "name"), parts.join("; ")]);
  }

  /** Every header name, in order, duplicates included. */
  keys(): string[] {
    return this.#list.map(([k]) => k);
  }

  /** Every value, in order. */
  values(): string[] {
    return this.#list.map(([, v]) => v);
  }

  /** A copy of the `[name, value]` list, ready for `start_response`. */
  items(): Header[] {
    return this.#list.map(([k, v]) => [k, v]);
  }

  /** Iterates the `[name, value]` pairs. */
  [Symbol.iterator](): Iterator<Header> {
    return this.items()[Symbol.iterator]();
  }

  /** The header block for the wire: `Name: value` lines and a blank line, CRLF-separated. */
  toString(): string {
    return [...this.#list.map(([k, v]) => `${k}: ${v}`), "", ""].join("\r\n");
  }
}
