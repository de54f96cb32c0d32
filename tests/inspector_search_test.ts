/**
 * The search in bodies (`inspector/search.ts`) under hostile input: its
 * work is linear in the bytes scanned whatever the text (counted as reads of
 * the body, not timed), a text has a length limit, and one request has a
 * scan budget that the list answer reports when it runs out.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { ExchangeList } from "../inspector/protocol.ts";
import { bodyFilter, bytesContain, MAX_SEARCH_TEXT_BYTES } from "../inspector/search.ts";
import { echoApp, withInspector } from "./_inspector.ts";

const encoder = new TextEncoder();

/**
 * `bytes` behind a proxy that counts reads of its elements, and throws past
 * `limit` of them (a quadratic search stops at once instead of running for
 * minutes).
 */
function countingReads(
  bytes: Uint8Array,
  limit: number,
): { view: Uint8Array; reads: () => number } {
  let reads = 0;
  const view = new Proxy(bytes, {
    get(target, key) {
      if (typeof key === "string" && key.length > 0 && key.charCodeAt(0) <= 0x39) {
        if (++reads > limit) {
          throw new RangeError(`More than ${limit} reads of a ${target.length}-byte body`);
        }
      }
      return Reflect.get(target, key);
    },
  });
  return { view, reads: () => reads };
}

Deno.test("bytesContain() reads each byte of a 1 MiB body at most once, whatever the text", () => {
  const aaa = new Uint8Array(1 << 20).fill(0x61);
  const abab = encoder.encode("ab".repeat(1 << 19));
  const cases: [string, Uint8Array, string, boolean][] = [
    // The review's needle: a naive search compares 801 bytes at each of the 1 MiB positions.
    ["800 a and a b, in a", aaa, "a".repeat(800) + "b", false],
    ["b and 800 a, in a", aaa, "b" + "a".repeat(800), false],
    ["800 A (any case), in a", aaa, "A".repeat(800), true],
    ["ab 400 times and an a, then c, in abab", abab, "ab".repeat(400) + "ac", false],
    ["a 1023 times and a b at the end, in a", aaa, "a".repeat(1023) + "b", false],
  ];
  for (const [name, hay, text, found] of cases) {
    const { view, reads } = countingReads(hay, 2 * hay.length);
    assert.equal(bytesContain(text)(view), found, name);
    assert.ok(reads() <= hay.length, `${name}: ${reads()} reads of ${hay.length} bytes`);
  }
});

Deno.test("bytesContain() finds exactly what a plain search finds, ASCII letters in any case", () => {
  // A tiny alphabet (with a two-byte letter) makes texts that overlap themselves, where
  // a linear search's shifts can go wrong.
  const letters = ["a", "A", "b", "B", "é", "É"];
  let seed = 7;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return (seed >> 8) % n;
  };
  const word = (length: number) => {
    let text = "";
    for (let i = 0; i < length; i++) text += letters[random(letters.length)];
    return text;
  };
  const fold = (bytes: Uint8Array) => bytes.map((b) => b >= 0x41 && b <= 0x5a ? b + 32 : b);
  const plain = (hay: Uint8Array, needle: Uint8Array) => {
    outer: for (let i = 0; i + needle.length <= hay.length; i++) {
      for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
      return true;
    }
    return false;
  };
  let found = 0;
  for (let round = 0; round < 3000; round++) {
    const hay = encoder.encode(word(random(60)));
    const text = round % 3 === 0 && hay.length > 0
      ? new TextDecoder().decode(hay.subarray(random(hay.length))).slice(0, 1 + random(8))
      : word(1 + random(6));
    const expected = plain(fold(hay), fold(encoder.encode(text)));
    assert.equal(bytesContain(text)(hay), expected, `${JSON.stringify(text)} in ${hay}`);
    if (expected) found++;
  }
  assert.ok(found > 500 && found < 2500, `both answers were checked (${found} found)`);
});

Deno.test("GET /api/exchanges?body= takes texts up to 1024 bytes of UTF-8, refuses longer ones with 400", async () => {
  await withInspector(echoApp, async ({ app, origin }) => {
    const big = "a".repeat(1 << 20);
    for (const [path, body] of [["/aaa", big], ["/aaab", big.slice(1) + "b"]]) {
      const response = await fetch(`${app.url}${path}`, { method: "POST", body });
      await response.arrayBuffer();
    }
    const list = async (text: string) => {
      const response = await fetch(`${origin}/api/exchanges?body=${encodeURIComponent(text)}`);
      return { status: response.status, body: await response.json() };
    };
    const targets = async (text: string) => {
      const { status, body } = await list(text);
      assert.equal(status, 200, body.error);
      return (body as ExchangeList).exchanges.map((e) => e.target);
    };
    assert.equal(MAX_SEARCH_TEXT_BYTES, 1024);
    // The longest texts there are: hostile ones against 1 MiB bodies, found only where they are.
    assert.deepEqual(await targets("a".repeat(1023) + "b"), ["/aaab"]);
    assert.deepEqual(await targets("A".repeat(1024)), ["/aaab", "/aaa"]);
    assert.deepEqual(await targets("b" + "a".repeat(1023)), []);
    assert.deepEqual(await targets("é".repeat(512)), []);
    // One byte more is refused, counted in UTF-8 bytes (513 "é" are 1026).
    for (
      const [text, bytes] of [["a".repeat(1024) + "b", 1025], ["é".repeat(513), 1026]] as const
    ) {
      const { status, body } = await list(text);
      assert.equal(status, 400);
      assert.match(body.error, /^Cannot search bodies: body must be at most 1024 bytes of UTF-8/);
      assert.match(body.error, new RegExp(`got ${bytes} bytes`));
    }
    // The server goes on serving.
    assert.equal((await list("aaab")).body.total, 1);
  });
});

Deno.test("bodyFilter() stops at its scan budget, and the list says at which exchange", async () => {
  await withInspector(echoApp, async ({ app, inspector }) => {
    // Five exchanges, each 10,000 bytes in and the same out, "needle" at the end of both.
    const body = "x".repeat(10_000 - 6) + "needle";
    for (let i = 1; i <= 5; i++) {
      const response = await fetch(`${app.url}/e${i}`, { method: "POST", body });
      await response.arrayBuffer();
    }
    const store = inspector.store;
    // By default the budget is far from reached.
    const whole = store.list({ match: bodyFilter(["needle"]) });
    assert.equal(whole.total, 5);
    assert.equal(whole.searchCut, undefined);
    // 25 KiB: exchanges 5 and 4 are found in their request bodies (10,000 bytes read each);
    // exchange 3 cannot be searched to the end, so it and older ones are left out.
    const cut = store.list({ match: bodyFilter(["NEEDLE"], { maxScanBytes: 25 * 1024 }) });
    assert.deepEqual(cut.exchanges.map((e) => e.target), ["/e5", "/e4"]);
    assert.equal(cut.total, 2);
    assert.equal(cut.searchCut?.seq, 3);
    assert.match(
      cut.searchCut.message,
      /stopped at exchange 3: it and older ones were not searched/,
    );
    assert.match(cut.searchCut.message, /at most 25 KiB of bodies/);
    // A text found at once costs little: the same budget searches every exchange.
    const early = store.list({ match: bodyFilter(["xx"], { maxScanBytes: 25 * 1024 }) });
    assert.equal(early.total, 5);
    assert.equal(early.searchCut, undefined);
    // A text that is nowhere reads both bodies of each exchange: cut sooner.
    const absent = store.list({ match: bodyFilter(["zz"], { maxScanBytes: 25 * 1024 }) });
    assert.equal(absent.total, 0);
    assert.equal(absent.searchCut?.seq, 4);
  });
});
