/**
 * Compare's body diff (`inspector/ui/compare.ts`) is bounded: two text bodies
 * within its 256 KiB limit that share no line once took seconds to minutes
 * on the page's main thread (jsdiff's Myers diff is quadratic in the lines
 * changed). Past MAX_DIFF_EDITS changed lines it says the bodies differ too
 * much, with their sizes; smaller diffs are the line diffs they were. Pure
 * functions, no browser, no timing: the bound is asserted by its effect.
 *
 * @module
 */

import assert from "node:assert/strict";
import { diffBodies, MAX_DIFF_EDITS, MAX_TEXT_DIFF } from "../inspector/ui/compare.ts";

const encoder = new TextEncoder();

Deno.test("diffBodies() gives up on text bodies that share no line, with their sizes", () => {
  // The review's case at 4 KiB a side: 2,048 lines each, 4,096 changed.
  const left = encoder.encode("a\n".repeat(2048));
  const right = encoder.encode("b\n".repeat(2048));
  assert.ok(2 * 2048 > MAX_DIFF_EDITS);
  assert.deepEqual(diffBodies(left, right), {
    kind: "too-different",
    left: 4096,
    right: 4096,
    firstDifference: 0,
  });
});

Deno.test("diffBodies() gives up at the 256 KiB limit too, and says where they first differ", () => {
  const left = encoder.encode("same\n" + "a\n".repeat((MAX_TEXT_DIFF - 5) / 2));
  const right = encoder.encode("same\n" + "b\n".repeat((MAX_TEXT_DIFF - 5) / 2));
  assert.equal(left.length, MAX_TEXT_DIFF - 1);
  const diff = diffBodies(left, right);
  assert.equal(diff.kind, "too-different");
  assert.equal(diff.kind === "too-different" && diff.firstDifference, 5);
});

Deno.test("diffBodies() still diffs line by line below the bound", () => {
  // 100 of 2,000 lines changed: 200 edits, well under MAX_DIFF_EDITS (and quick).
  const lines = Array.from({ length: 2000 }, (_, i) => `line ${i}`);
  const changed = lines.map((line, i) => i % 20 === 0 ? line.toUpperCase() : line);
  const diff = diffBodies(encoder.encode(lines.join("\n")), encoder.encode(changed.join("\n")));
  assert.equal(diff.kind, "text");
  if (diff.kind !== "text") return;
  const count = (kind: string) =>
    diff.parts.filter((p) => p.kind === kind).reduce((n, p) => n + p.lines, 0);
  assert.equal(count("removed"), 100);
  assert.equal(count("added"), 100);
  assert.equal(count("same"), 1900);
});
