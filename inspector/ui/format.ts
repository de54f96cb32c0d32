/**
 * How the page writes numbers: sizes, durations, clock times, status classes.
 * Pure functions, no DOM.
 *
 * @module
 */

/**
 * A byte count for people: `512 B`, `1.5 KiB`, `2.0 MiB`.
 *
 * @example
 * ```ts
 * import { formatBytes } from "./format.ts";
 * console.assert(formatBytes(1536) === "1.5 KiB");
 * ```
 */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

/**
 * Milliseconds for people: `0.42 ms`, `12.3 ms`, `125 ms`, `1.25 s`.
 *
 * @example
 * ```ts
 * import { formatMs } from "./format.ts";
 * console.assert(formatMs(1250) === "1.25 s");
 * ```
 */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "…";
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(2)} s`;
}

/** An epoch time as the local wall clock with milliseconds: `14:03:07.123`. */
export function formatClock(epochMs: number): string {
  const d = new Date(epochMs);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${
    String(d.getMilliseconds()).padStart(3, "0")
  }`;
}

/** The CSS class of a status code's family: `s2`, `s4`, ... or `pending`. */
export function statusClass(status: number | null): string {
  return status === null ? "pending" : `s${Math.floor(status / 100)}`;
}

/** A header's value by (case-insensitive) name, or undefined. */
export function headerValue(headers: [string, string][], name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find(([n]) => n.toLowerCase() === lower)?.[1];
}

/** A value from the environ snapshot as one line of text. */
export function showValue(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return `[${value.map(showValue).join(", ")}]`;
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}
