/**
 * What differs between two exchanges, for the compare view: their environs,
 * request and response headers (as tables of names with the value on each
 * side), their bodies (a line diff of text, or where binary bodies first
 * differ) and their timelines (step by step). Pure functions over the shared
 * reducer's state and the captured bytes; the line diff is jsdiff's, bounded
 * (see {@linkcode MAX_DIFF_EDITS}): it runs on the page's main thread.
 *
 * @module
 */

import { diffLines } from "diff";
import type { Pair, WireEvent } from "../protocol.ts";
import { isText, utf8Text } from "./bytes.ts";
import { showValue } from "./format.ts";

/** One name of a side-by-side table, with its value on each side (undefined: absent there). */
export interface DiffRow {
  name: string;
  left: string | undefined;
  right: string | undefined;
  same: boolean;
}

/** The rows of two name/value maps, by name in the order first seen (left, then right). */
function rowsOf(left: Map<string, string>, right: Map<string, string>): DiffRow[] {
  const names = [...new Set([...left.keys(), ...right.keys()])];
  return names.map((name) => {
    const l = left.get(name);
    const r = right.get(name);
    return { name, left: l, right: r, same: l === r };
  });
}

/** Header pairs by lower-case name, repeated ones joined with ", " (as HTTP reads them). */
function headerMap(headers: Pair[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const [name, value] of headers) {
    const key = name.toLowerCase();
    const had = map.get(key);
    map.set(key, had === undefined ? value : `${had}, ${value}`);
  }
  return map;
}

/**
 * Two header lists side by side.
 *
 * @example
 * ```ts
 * import { diffHeaders } from "./compare.ts";
 * const rows = diffHeaders([["Accept", "a"], ["X", "1"]], [["accept", "a"], ["X", "2"]]);
 * console.assert(rows[0]?.same === true && rows[1]?.same === false);
 * ```
 */
export function diffHeaders(left: Pair[], right: Pair[]): DiffRow[] {
  return rowsOf(headerMap(left), headerMap(right));
}

/** Two environs side by side, keys sorted. */
export function diffEnviron(
  left: Record<string, unknown> | null,
  right: Record<string, unknown> | null,
): DiffRow[] {
  const map = (environ: Record<string, unknown> | null) =>
    new Map(Object.entries(environ ?? {}).map(([k, v]) => [k, showValue(v)]));
  return rowsOf(map(left), map(right)).sort((a, b) => a.name < b.name ? -1 : 1);
}

/** One run of a line diff: lines on both sides, or only on one. */
export interface DiffPart {
  kind: "same" | "removed" | "added";
  text: string;
  /** Lines in it. */
  lines: number;
}

/** How two bodies compare. */
export type BodyDiff =
  | { kind: "equal"; size: number }
  | { kind: "text"; parts: DiffPart[] }
  | { kind: "binary"; left: number; right: number; firstDifference: number }
  /** Both text, but the line diff gave up (see {@linkcode MAX_DIFF_EDITS}). */
  | { kind: "too-different"; left: number; right: number; firstDifference: number };

/** Bodies up to this many bytes a side get a line diff; larger ones say where they first differ. */
export const MAX_TEXT_DIFF = 256 * 1024;

/**
 * The most lines the line diff lets change before it gives up. jsdiff's
 * Myers diff costs about (N + M) · D steps for D changed lines, so two
 * bodies that share nothing cost the square of their lines: 16 KiB of
 * `a\n` against 16 KiB of `b\n` took 10 s on the page's main thread, and
 * 256 KiB a side would take hours. With `maxEditLength` the work stays
 * about D² for such bodies (well under a second for 1,000), and a diff with
 * more changed lines than this would not be read line by line anyway.
 */
export const MAX_DIFF_EDITS = 1000;

/**
 * Milliseconds the line diff may run before it gives up (jsdiff's
 * `timeout`): a backstop for what {@linkcode MAX_DIFF_EDITS} leaves, long
 * runs of equal lines between the changes on a slow machine.
 */
export const MAX_DIFF_MS = 500;

/**
 * How two bodies differ: not at all, by lines (both text), or from a byte
 * offset on (binary, or too large for a line diff); or, both text, too much
 * to diff line by line within {@linkcode MAX_DIFF_EDITS} and
 * {@linkcode MAX_DIFF_MS}.
 *
 * @example
 * ```ts
 * import { diffBodies } from "./compare.ts";
 * const e = new TextEncoder();
 * const diff = diffBodies(e.encode("a\nb\n"), e.encode("a\nc\n"));
 * console.assert(diff.kind === "text" && diff.parts.map((p) => p.kind).join() === "same,removed,added");
 * ```
 */
export function diffBodies(left: Uint8Array, right: Uint8Array): BodyDiff {
  let first = 0;
  const n = Math.min(left.length, right.length);
  while (first < n && left[first] === right[first]) first++;
  if (first === left.length && first === right.length) return { kind: "equal", size: n };
  if (
    left.length <= MAX_TEXT_DIFF && right.length <= MAX_TEXT_DIFF && isText(left) &&
    isText(right)
  ) {
    const changes = diffLines(utf8Text(left), utf8Text(right), {
      maxEditLength: MAX_DIFF_EDITS,
      timeout: MAX_DIFF_MS,
    });
    if (changes === undefined) {
      return {
        kind: "too-different",
        left: left.length,
        right: right.length,
        firstDifference: first,
      };
    }
    const parts = changes.map((change): DiffPart => ({
      kind: change.added ? "added" : change.removed ? "removed" : "same",
      text: change.value,
      lines: change.count ?? change.value.split("\n").length,
    }));
    return { kind: "text", parts };
  }
  return { kind: "binary", left: left.length, right: right.length, firstDifference: first };
}

/** One step of two timelines, side by side. */
export interface StepRow {
  index: number;
  left: { type: WireEvent["type"]; t: number } | undefined;
  right: { type: WireEvent["type"]; t: number } | undefined;
  /** Both sides have a step of the same type here. */
  same: boolean;
}

/** Two timelines step by step (index by index). */
export function diffTimelines(left: WireEvent[], right: WireEvent[]): StepRow[] {
  const rows: StepRow[] = [];
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    const l = left[i];
    const r = right[i];
    rows.push({
      index: i,
      left: l && { type: l.type, t: l.t },
      right: r && { type: r.type, t: r.t },
      same: l !== undefined && r !== undefined && l.type === r.type,
    });
  }
  return rows;
}
