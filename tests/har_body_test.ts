/**
 * A HAR text field as body bytes, decoded only as far as they are kept
 * (`inspector/har_body.ts`): the true size, the first bytes byte for byte,
 * and no buffer the size of the whole body.
 *
 * @module
 */

import assert from "node:assert/strict";
import { base64Size, bodyPrefix } from "../inspector/har_body.ts";
import { utf8Size } from "../inspector/utf8.ts";
import { noise } from "./_inspector.ts";

/** What `Uint8Array.fromBase64` makes of `text`, or `undefined` when it refuses it. */
function decoded(text: string): Uint8Array | undefined {
  try {
    return Uint8Array.fromBase64(text);
  } catch {
    return undefined;
  }
}

/** Checks `bodyPrefix(text, base64, keep)` for every `keep` given against the whole body, cut. */
function checkPrefixes(text: string, base64: boolean, whole: Uint8Array, keeps: number[]): void {
  for (const keep of keeps) {
    const got = bodyPrefix(text, base64, keep);
    assert.ok(got !== undefined, `keep ${keep}`);
    assert.equal(got.size, whole.length, `size, keep ${keep}`);
    assert.deepEqual(got.bytes, whole.slice(0, keep), `bytes, keep ${keep}`);
    // A buffer of their own, as long as they are: never the whole body, cut.
    assert.equal(got.bytes.buffer.byteLength, got.bytes.length, `buffer, keep ${keep}`);
  }
}

Deno.test("base64Size() and bodyPrefix() read base64 as Uint8Array.fromBase64 does, on every short string", () => {
  // Letters whose last chunk has extra bits (Q), padding, whitespace, and what base64 is not.
  const letters = ["A", "Q", "/", "=", " ", "\n", "*", "é"];
  let texts = [""];
  let checked = 0;
  for (let length = 1; length <= 5; length++) {
    texts = texts.flatMap((t) => letters.map((l) => t + l));
    for (const text of texts) {
      const whole = decoded(text);
      assert.equal(base64Size(text), whole?.length, JSON.stringify(text));
      if (whole === undefined) assert.equal(bodyPrefix(text, true, 1), undefined);
      else checkPrefixes(text, true, whole, [0, 1, 2, 3, 4, Infinity]);
      checked++;
    }
  }
  assert.equal(checked, 8 + 8 ** 2 + 8 ** 3 + 8 ** 4 + 8 ** 5);
});

Deno.test("bodyPrefix() decodes only the kept bytes of base64 with 0, 1 and 2 padding characters, and gives the true size", async (t) => {
  for (const [size, padding] of [[3000, 0], [3002, 1], [3001, 2]] as const) {
    await t.step(`${size} bytes, ${padding} padding`, () => {
      const whole = noise(size, size);
      const text = whole.toBase64();
      assert.equal(text.length - text.replace(/=+$/, "").length, padding);
      assert.equal(base64Size(text), size);
      const keeps = [0, 1, 2, 3, 4, 5, 6, 1000, 1001, 1002, size - 2, size - 1, size, size + 9];
      checkPrefixes(text, true, whole, keeps);
      // Broken into lines, as MIME writes it: the same bytes and size.
      const lines = text.replace(/.{76}/g, "$&\r\n");
      assert.equal(base64Size(lines), size);
      checkPrefixes(lines, true, whole, keeps);
    });
  }
  await t.step("a body far bigger than what is kept", () => {
    const text = "QUJD".repeat(2 * 1024 * 1024) + "QQ==";
    const got = bodyPrefix(text, true, 10)!;
    assert.equal(got.size, 6 * 1024 * 1024 + 1);
    assert.equal(new TextDecoder().decode(got.bytes), "ABCABCABCA");
    assert.equal(got.bytes.buffer.byteLength, 10);
  });
});

Deno.test("bodyPrefix() cuts text by its UTF-8 bytes, a character straddling the cut giving its first bytes", () => {
  // 1, 2, 3 and 4 bytes (a surrogate pair), a lone surrogate (U+FFFD: 3), at either end too.
  const text = "a\u00e9\u20ac\u{1f600}\ud800z\u{1f600}\udc00\u{10ffff}\u00e9\ud83d";
  const whole = new TextEncoder().encode(text);
  assert.equal(utf8Size(text), whole.length);
  checkPrefixes(text, false, whole, Array.from({ length: whole.length + 2 }, (_, i) => i));
  assert.equal(utf8Size(""), 0);
  checkPrefixes("", false, new Uint8Array(0), [0, 1]);

  const big = "\u20ac".repeat(3 * 1024 * 1024);
  const got = bodyPrefix(big, false, 1000)!;
  assert.equal(got.size, 9 * 1024 * 1024);
  assert.deepEqual(got.bytes, new TextEncoder().encode("\u20ac".repeat(334)).slice(0, 1000));
  assert.equal(got.bytes.buffer.byteLength, 1000);
});
