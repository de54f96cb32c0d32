/**
 * `wsgi.input` in memory: reads that span chunks, reads that stay linear in
 * the body's size, and the upload limit (issue 8 item 6).
 */

import { deepEqual, equal, ok, rejects } from "node:assert/strict";
import { Input, RequestBodyTooLarge } from "../server/input.ts";

const KiB = 1024;

/** A body of `chunks`, delivered one chunk per read, as a socket does. */
function stream(chunks: Uint8Array[]): { body: ReadableStream<Uint8Array> } {
  let i = 0;
  return {
    body: new ReadableStream<Uint8Array>({
      pull(controller) {
        if (i === chunks.length) controller.close();
        else controller.enqueue(chunks[i++]!);
      },
    }, { highWaterMark: 0 }),
  };
}

/**
 * `total` bytes counting up (mod 251, so that chunk edges never line up, and
 * skipping the line feed), cut into `size`-byte chunks.
 */
function counting(total: number, size: number): { bytes: Uint8Array; chunks: Uint8Array[] } {
  const bytes = Uint8Array.from({ length: total }, (_, i) => i % 251 === 10 ? 11 : i % 251);
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < total; at += size) chunks.push(bytes.slice(at, at + size));
  return { bytes, chunks };
}

const latin1 = (bytes: Uint8Array) => String.fromCharCode(...bytes);
const bytesOf = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

/**
 * Bytes copied by `Uint8Array.prototype.set` while `fn` runs: every join of
 * chunks goes through it, so this counts the work a read does, without a clock.
 */
async function bytesCopied(fn: () => Promise<unknown>): Promise<number> {
  const set = Uint8Array.prototype.set;
  let copied = 0;
  Uint8Array.prototype.set = function (this: Uint8Array, source: ArrayLike<number>, offset) {
    copied += source.length;
    return set.call(this, source, offset);
  } as typeof set;
  try {
    await fn();
  } finally {
    Uint8Array.prototype.set = set;
  }
  return copied;
}

Deno.test("Input reads that span many chunks give the body's bytes exactly", async (t) => {
  const { bytes, chunks } = counting(100 * KiB + 7, 4093);
  await t.step("read()", async () => {
    deepEqual(await new Input(stream(chunks), bytes.length).read(), bytes);
  });
  await t.step("read(n) of odd sizes, to the end", async () => {
    const input = new Input(stream(chunks), bytes.length);
    const parts: number[] = [];
    for (let n = 1;; n = (n * 7 + 3) % 9000) {
      const part = await input.read(n);
      if (part.length === 0 && n > 0) break;
      parts.push(...part);
    }
    deepEqual(Uint8Array.from(parts), bytes);
  });
  await t.step("no Content-Length: read() to the end of the stream", async () => {
    deepEqual(await new Input(stream(chunks), undefined).read(), bytes);
  });
  await t.step("Content-Length shorter than the stream", async () => {
    deepEqual(await new Input(stream(chunks), 50_000).read(), bytes.subarray(0, 50_000));
  });
});

/**
 * A body of `chunks` from a source that, as a socket reader may, fills the
 * same buffer for every chunk: a chunk's bytes are only good until the next
 * pull. A reader that keeps chunks and joins them at the end reads garbage.
 */
function reusing(chunks: Uint8Array[]): { body: ReadableStream<Uint8Array> } {
  const buffer = new Uint8Array(Math.max(...chunks.map((c) => c.length)));
  let i = 0;
  return {
    body: new ReadableStream<Uint8Array>({
      pull(controller) {
        if (i === chunks.length) return controller.close();
        const chunk = chunks[i++]!;
        buffer.set(chunk);
        controller.enqueue(buffer.subarray(0, chunk.length));
      },
    }, { highWaterMark: 0 }),
  };
}

/** Asserts equal bytes (deepEqual takes seconds over megabytes). */
function sameBytes(got: Uint8Array, want: Uint8Array): void {
  equal(got.length, want.length);
  const at = got.findIndex((b, i) => b !== want[i]);
  equal(at, -1, `the bytes differ from offset ${at}`);
}

Deno.test("Input: a large read of a known size copies each chunk into its result as it comes (the body is held once)", async (t) => {
  // Past 1 MiB with a Content-Length: the result is allocated first, and no
  // chunk is kept (before, the chunks were kept until the end and joined,
  // twice the body in memory; a source that reuses its buffer shows it).
  const size = 3 * 1024 * KiB + 5;
  const { bytes, chunks } = counting(size, 64 * KiB);
  await t.step("read()", async () => {
    sameBytes(await new Input(reusing(chunks), size).read(), bytes);
  });
  await t.step("read(n) over 1 MiB, then read() of the rest", async () => {
    const input = new Input(stream(chunks), size);
    sameBytes(await input.read(10), bytes.subarray(0, 10));
    sameBytes(await input.read(2 * 1024 * KiB), bytes.subarray(10, 10 + 2 * 1024 * KiB));
    sameBytes(await input.read(), bytes.subarray(10 + 2 * 1024 * KiB));
    equal((await input.read()).length, 0);
  });
  await t.step("a body shorter than its Content-Length: what came", async () => {
    sameBytes(await new Input(reusing(chunks), size + 1000).read(), bytes);
  });
  await t.step("a body that fails midway: the read throws, what came stays readable", async () => {
    let i = 0;
    const failing = {
      body: new ReadableStream<Uint8Array>({
        pull(controller) {
          if (i === 20) return controller.error(new Error("connection reset"));
          controller.enqueue(chunks[i++]!);
        },
      }, { highWaterMark: 0 }),
    };
    const input = new Input(failing, size);
    await rejects(input.read(), /connection reset/);
    sameBytes(await input.read(20 * 64 * KiB), bytes.subarray(0, 20 * 64 * KiB));
  });
});

/**
 * A byte stream, as Deno's request bodies are: a read into the reader's own
 * array fills it with as much as is there, across the chunks given, as a
 * socket does; a read without one gets the next chunk.
 */
function byteStream(chunks: Uint8Array[]): { body: ReadableStream<Uint8Array> } {
  let i = 0;
  let at = 0;
  return {
    body: new ReadableStream({
      type: "bytes",
      pull(controller) {
        if (i === chunks.length) {
          controller.close();
          controller.byobRequest?.respond(0);
          return;
        }
        const request = controller.byobRequest;
        if (!request?.view) {
          controller.enqueue(chunks[i++]!.slice(at));
          at = 0;
          return;
        }
        const view = new Uint8Array(
          request.view.buffer,
          request.view.byteOffset,
          request.view.byteLength,
        );
        let filled = 0;
        while (filled < view.length && i < chunks.length) {
          const chunk = chunks[i]!;
          const n = Math.min(view.length - filled, chunk.length - at);
          view.set(chunk.subarray(at, at + n), filled);
          filled += n;
          at += n;
          if (at === chunk.length) (i++, at = 0);
        }
        request.respond(filled);
      },
    }) as ReadableStream<Uint8Array>,
  };
}

Deno.test("Input over a byte stream (a request body under Deno.serve) reads into arrays of its own", async (t) => {
  const { bytes } = counting(20 * 64 * KiB + 1000, 64 * KiB);
  const chunks = [bytes.slice(0, 1000)];
  for (let at = 1000; at < bytes.length; at += 64 * KiB) {
    chunks.push(bytes.slice(at, at + 64 * KiB));
  }
  await t.step(
    "read(65536) in a loop: the bytes exactly, each read a whole array of its own",
    async () => {
      const input = new Input(byteStream(chunks), bytes.length);
      const parts: Uint8Array[] = [];
      for (;;) {
        const part = await input.read(65536);
        if (part.length === 0) break;
        parts.push(part);
      }
      sameBytes(concat(parts), bytes);
      // Each read is an array of its own, read from the "socket" as it is (the
      // last, short one is the front of the array its read was given).
      const own = parts.map((p) => p.byteOffset === 0 && p.buffer.byteLength === p.length);
      deepEqual(own, [...Array(parts.length - 1).fill(true), false]);
    },
  );
  await t.step("read(), readline() and read(n) mixed", async () => {
    const input = new Input(byteStream(chunks), bytes.length);
    const a = await input.read(10);
    const b = await input.readline();
    const c = await input.read(70_000);
    const d = await input.read();
    sameBytes(concat([a, b, c, d]), bytes);
  });
  await t.step("a limit is honoured", async () => {
    const input = new Input(byteStream(chunks), undefined, { limit: 100_000 });
    sameBytes(await input.read(65536), bytes.subarray(0, 65536));
    await rejects(input.read(65536), RequestBodyTooLarge);
  });
});

const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), at += p.length);
  return out;
};

Deno.test("Input readline() finds line feeds across chunk edges and honours its size", async (t) => {
  const text = "first line\n" + "x".repeat(10_000) + "\nshort\nno end";
  const chunks = counting(0, 1).chunks;
  for (let at = 0; at < text.length; at += 333) chunks.push(bytesOf(text.slice(at, at + 333)));
  await t.step("lines", async () => {
    const input = new Input(stream(chunks), text.length);
    equal(latin1(await input.readline()), "first line\n");
    equal((await input.readline()).length, 10_001);
    equal(latin1(await input.readline()), "short\n");
    equal(latin1(await input.readline()), "no end");
    equal((await input.readline()).length, 0);
  });
  await t.step("readline(size) stops at size, the next call goes on", async () => {
    const input = new Input(stream(chunks), text.length);
    equal(latin1(await input.readline(5)), "first");
    equal(latin1(await input.readline()), " line\n");
    equal((await input.readline(4000)).length, 4000);
    equal((await input.readline(6001)).length, 6001);
    equal(latin1(await input.readline(100)), "short\n");
  });
  await t.step("readlines() and iteration", async () => {
    const lines = await new Input(stream(chunks), text.length).readlines();
    deepEqual(lines.map((l) => l.length), [11, 10_001, 6, 6]);
    const iterated: number[] = [];
    for await (const line of new Input(stream(chunks), text.length)) iterated.push(line.length);
    deepEqual(iterated, [11, 10_001, 6, 6]);
  });
});

Deno.test("Input reads are linear: each byte is copied at most once, however many chunks came", async (t) => {
  // 4 MiB in 16 KiB chunks: 256 chunks. Joining the buffer on every chunk (the
  // old read()) copied ~128 times the body.
  const size = 4 * 1024 * KiB;
  const { chunks } = counting(size, 16 * KiB);
  await t.step("read()", async () => {
    const copied = await bytesCopied(() => new Input(stream(chunks), size).read());
    ok(copied <= size, `read() copied ${copied} bytes for a body of ${size}`);
  });
  await t.step("read(65536) in a loop", async () => {
    const input = new Input(stream(chunks), size);
    const copied = await bytesCopied(async () => {
      while ((await input.read(65536)).length > 0);
    });
    ok(copied <= size, `the loop copied ${copied} bytes for a body of ${size}`);
  });
  await t.step("readline() of one long line", async () => {
    let line = 0;
    const copied = await bytesCopied(async () => {
      line = (await new Input(stream(chunks), size).readline()).length;
    });
    equal(line, size);
    ok(copied <= size, `readline() copied ${copied} bytes for a line of ${size}`);
  });
});

Deno.test("Input with a limit: bytes up to it are read, the first read past it throws and names it", async (t) => {
  const { bytes, chunks } = counting(10 * KiB, 1000);
  await t.step("read() of a body over the limit", async () => {
    const input = new Input(stream(chunks), undefined, { limit: 4096 });
    await rejects(input.read(), (error: unknown) => {
      ok(error instanceof RequestBodyTooLarge && error instanceof RangeError);
      equal(error.limit, 4096);
      equal(error.status, 413);
      equal(
        error.message,
        "Cannot read wsgi.input: the request body is larger than the limit of 4096 bytes; raise the limit with --max-request-body N (maxRequestBody in code), or 0 for none",
      );
      return true;
    });
  });
  await t.step("read(n) up to the limit succeeds, the next throws", async () => {
    const input = new Input(stream(chunks), undefined, { limit: 4096 });
    deepEqual(await input.read(4000), bytes.subarray(0, 4000));
    deepEqual(await input.read(96), bytes.subarray(4000, 4096));
    await rejects(input.read(1), RequestBodyTooLarge);
  });
  await t.step("a body exactly at the limit is fine", async () => {
    const input = new Input(stream(chunks), undefined, { limit: bytes.length });
    deepEqual(await input.read(), bytes);
    equal((await input.read()).length, 0);
  });
  await t.step("no limit: 0", async () => {
    deepEqual(await new Input(stream(chunks), undefined, { limit: 0 }).read(), bytes);
  });
});

Deno.test("Input: read(65536) of a body of known length that comes 16 KiB at a time is one read of its own array, not a join of four", async () => {
  const size = 1024 * KiB;
  const { bytes } = counting(size, 64 * KiB);
  let at = 0;
  // A socket that hands over at most 16 KiB at a time, into the reader's array.
  const body = new ReadableStream({
    type: "bytes",
    pull(controller) {
      const request = controller.byobRequest!;
      if (at === size) {
        controller.close();
        request.respond(0);
        return;
      }
      const view = request.view!;
      const n = Math.min(16 * KiB, view.byteLength, size - at);
      new Uint8Array(view.buffer, view.byteOffset, n).set(bytes.subarray(at, at + n));
      at += n;
      request.respond(n);
    },
  }) as ReadableStream<Uint8Array>;
  const parts: Uint8Array[] = [];
  const copied = await bytesCopied(async () => {
    const input = new Input({ body }, size);
    for (;;) {
      const part = await input.read(65536);
      if (part.length === 0) break;
      parts.push(part);
    }
  });
  equal(parts.length, 16);
  ok(parts.every((p) => p.length === 65536));
  sameBytes(concat(parts), bytes);
  // The stream copies each byte into the reader's array once; the reads add nothing.
  ok(copied <= size, `copied ${copied} bytes for a body of ${size}`);
});

Deno.test("Input: read() of a whole body of known length from a Request is the request's own arrayBuffer(), no copy of ours", async () => {
  const size = 4 * 1024 * KiB;
  const { bytes, chunks } = counting(size, 64 * KiB);
  let i = 0;
  const request = new Request("http://x/", {
    method: "POST",
    body: new ReadableStream<Uint8Array>({
      pull(controller) {
        if (i < chunks.length) controller.enqueue(chunks[i++]!);
        else controller.close();
      },
    }),
  });
  let out = new Uint8Array(0);
  const copied = await bytesCopied(async () => {
    out = await new Input(request, size).read();
  });
  sameBytes(out, bytes);
  equal(copied, 0, `copied ${copied} bytes of ${size} in JavaScript`);
});
