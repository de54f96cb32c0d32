/**
 * The page's note after a HAR import: how many exchanges were loaded (and
 * their ids), the entries skipped and why, and, as a warning, the exchanges
 * the store evicted to make room for them.
 *
 * @module
 */

import type { ImportResult } from "../protocol.ts";

/** Skipped entries whose reason the note spells out; the rest are counted. */
const REASONS_SHOWN = 3;

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/**
 * The note of one file's import: its text, and whether it warns (entries
 * skipped, or exchanges evicted).
 *
 * @example
 * ```ts
 * import { describeImport } from "./import_note.ts";
 * const note = describeImport("a.har", {
 *   ids: ["31", "32"],
 *   skipped: [],
 *   evicted: { recorded: 2, imported: 0 },
 * });
 * console.assert(note.warn && note.text.startsWith("Imported 2 exchanges from a.har (#31–#32)"));
 * ```
 */
export function describeImport(
  file: string,
  result: ImportResult,
): { text: string; warn: boolean } {
  const { ids, skipped } = result;
  let text = `Imported ${plural(ids.length, "exchange")} from ${file}`;
  if (ids.length > 0) text += ids.length === 1 ? ` (#${ids[0]})` : ` (#${ids[0]}–#${ids.at(-1)})`;
  const { recorded, imported } = result.evicted;
  const evicted = recorded + imported;
  if (evicted > 0) {
    const which = [
      recorded > 0 ? `${recorded} recorded` : "",
      imported > 0 ? `${imported} imported before` : "",
    ].filter(Boolean).join(", ");
    text += `; to make room, ${
      evicted === 1 ? "the oldest exchange was" : `the ${evicted} oldest exchanges were`
    } evicted (${which})`;
  }
  // The answer lists the first skipped entries and counts the rest.
  const skippedAll = skipped.length + (result.skippedMore ?? 0);
  if (skippedAll > 0) {
    const reasons = skipped.slice(0, REASONS_SHOWN);
    const shown = reasons.map((s) => s.error).join("; ");
    const more = skippedAll - reasons.length;
    text += `; skipped ${skippedAll}: ${shown}${more > 0 ? `; and ${more} more` : ""}`;
  }
  return { text, warn: evicted > 0 || skippedAll > 0 };
}
