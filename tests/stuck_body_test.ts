/**
 * `close()` when the body is stuck (issue 8 item 8): a client that goes away
 * mid-stream while the body iterable is blocked in an `await` gets `close()`
 * called exactly once, at once, even though a `next()` is still pending; a body that
 * has no `close()` (an async generator, whose `return()` JavaScript queues
 * behind the pending `next()`) gets a `lint` event that says so, and its
 * `close` event when it is finally finalized.
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import type { Application, ResponseBody } from "../mod.ts";
import { EventLog, sleep, waitFor, withServer } from "./_helpers.ts";
import { latin1 } from "./_http.ts";

const encoder = new TextEncoder();

/** A promise the test settles by hand. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

/**
 * A body with a `close()`: yields `before` chunks, then its next `next()`
 * waits for `stuck` (the client leaves meanwhile), then ends.
 */
function stuckBody(before: number, stuck: Promise<void>) {
  const seen = { closes: 0, nexts: 0 };
  let i = 0;
  const body: ResponseBody = {
    [Symbol.asyncIterator]() {
      return {
        async next() {
          seen.nexts++;
          if (i < before) return { done: false, value: encoder.encode(`chunk ${i++}\n`) };
          await stuck;
          return { done: true, value: undefined };
        },
      };
    },
    close() {
      seen.closes++;
    },
  };
  return { body, seen };
}

/** Sends a GET, waits until `received` came in the answer, then leaves. */
async function leaveAfter(port: number, received: string): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(latin1("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  let text = "";
  const buffer = new Uint8Array(4096);
  while (!text.includes(received)) {
    const n = await conn.read(buffer);
    if (n === null) break;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  conn.close();
}

Deno.test("close() is called once, at once, when the client leaves mid-stream while next() is pending", async () => {
  const stuck = gate();
  const { body, seen } = stuckBody(1, stuck.opened);
  const log = new EventLog();
  const app: Application = (_environ, start_response) => {
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return body;
  };
  await withServer(app, async (server) => {
    await leaveAfter(server.port, "chunk 0\n");
    await waitFor(() => seen.closes > 0, 3000, "close() to be called");
    equal(seen.closes, 1);
    // The stuck next() settles later: close() must not be called again.
    stuck.open();
    await sleep(50);
    equal(seen.closes, 1, "close() exactly once");
  }, { recorder: log });
  const types = log.types(0);
  equal(types.filter((t) => t === "close").length, 1, `${types}`);
  ok(types.includes("abort"), `${types}`);
  deepEqual(log.of("close", 0), [{ called: true }]);
  deepEqual(log.of("lint", 0), [], "a body with close() needs no warning");
});

Deno.test("an async generator stuck in an await: a lint event says return() is queued, and close is recorded once it runs", async () => {
  const stuck = gate();
  let finalized = 0;
  const app: Application = (_environ, start_response) => {
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return (async function* () {
      try {
        yield encoder.encode("chunk 0\n");
        await stuck.opened;
        yield encoder.encode("never sent\n");
      } finally {
        finalized++;
      }
    })();
  };
  const log = new EventLog();
  await withServer(app, async (server) => {
    await leaveAfter(server.port, "chunk 0\n");
    await waitFor(() => log.of("lint", 0).length > 0, 3000, "the lint event");
    equal(finalized, 0, "JavaScript has not run the generator's finally yet");
    const [lint] = log.of("lint", 0);
    equal(lint!.rule, "close.queued");
    match(lint!.message, /queues return\(\) on an async generator/);
    deepEqual(log.of("close", 0), [], "no close yet: the generator is not finalized");
    stuck.open();
    await waitFor(() => log.of("close", 0).length > 0, 3000, "the close event");
    equal(finalized, 1);
    deepEqual(log.of("close", 0), [{ called: false }]);
  }, { recorder: log });
});
