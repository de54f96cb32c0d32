/**
 * `wsgi.input.read()` against body size: `deno run -A tests/bench/input_read.ts`.
 *
 * For each size (1, 16 and 256 MiB by default) it reads a body of that many
 * bytes, arriving in 64 KiB chunks as a socket delivers them, with
 * `read()` (all at once), `read(65536)` in a loop, and `readline()` on a body
 * with no line feed (one long line), and prints the time and the time per
 * MiB, beside the baseline: the stream alone, its chunks kept but not
 * joined. Linear reads keep the time per MiB flat as the size grows; the
 * quadratic `read()` this replaced took 0.37 s for 8 MiB and 17.9 s for
 * 64 MiB.
 *
 * In memory, no socket: it measures `Input` alone. Pin it to a core for
 * steadier numbers: `taskset -c 1 deno run -A tests/bench/input_read.ts`.
 * Options: `--sizes 1,16,256` (MiB), `--rounds 3` (the best round is shown).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Input } from "../../server/input.ts";

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;

/**
 * A body of `size` bytes in fresh 64 KiB chunks, made as they are pulled and
 * written to (as the kernel writes a socket's bytes), so that the first touch
 * of their memory is counted here, not in the read.
 */
function body(size: number): { body: ReadableStream<Uint8Array> } {
  let left = size;
  return {
    body: new ReadableStream<Uint8Array>({
      pull(controller) {
        if (left === 0) return controller.close();
        const n = Math.min(CHUNK, left);
        left -= n;
        controller.enqueue(new Uint8Array(n).fill(0x61));
      },
    }, { highWaterMark: 0 }),
  };
}

type Source = { body: ReadableStream<Uint8Array> };

const ways: Record<string, (source: Source, size: number) => Promise<number>> = {
  // The baseline: the chunks pulled from the stream and kept, not joined.
  "stream only": async (source) => {
    const reader = source.body.getReader();
    const kept: Uint8Array[] = [];
    let n = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return n;
      kept.push(value);
      n += value.length;
    }
  },
  "read()": async (source, size) => (await new Input(source, size).read()).length,
  "read(65536) loop": async (source, size) => {
    const input = new Input(source, size);
    let n = 0;
    for (;;) {
      const part = await input.read(65536);
      if (part.length === 0) return n;
      n += part.length;
    }
  },
  "readline()": async (source, size) => (await new Input(source, size).readline()).length,
};

const { values } = parseArgs({
  args: Deno.args,
  options: {
    sizes: { type: "string", default: "1,16,256" },
    rounds: { type: "string", default: "3" },
  },
});
const sizes = values.sizes.split(",").map(Number);
const rounds = Number(values.rounds);

console.log("| way | size | best of " + rounds + " | per MiB |");
console.log("|---|---:|---:|---:|");
for (const [name, read] of Object.entries(ways)) {
  for (const mib of sizes) {
    const size = mib * MiB;
    let best = Infinity;
    for (let round = 0; round < rounds; round++) {
      const source = body(size);
      const start = performance.now();
      const got = await read(source, size);
      best = Math.min(best, performance.now() - start);
      if (got !== size) throw new Error(`${name} read ${got} bytes of ${size}`);
    }
    console.log(
      `| ${name} | ${mib} MiB | ${best.toFixed(1)} ms | ${(best / mib).toFixed(2)} ms |`,
    );
  }
}
