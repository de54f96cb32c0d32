/**
 * A read upload must not hold the client (issue 8 item 7): after the
 * application returns, the client has the end of the response within 100 ms,
 * whether the application read the request body in full, in part or not at
 * all, and the connection then serves the next request (keep-alive).
 *
 * The cause was `wsgi.input`'s reader: it locked the request body stream and
 * never finished or cancelled it, and Deno keeps a connection open for as
 * long as such a stream lives, which is until it is garbage collected
 * (8-30 s). The gateway now lets the body go when the response is complete.
 *
 * The bound is measured from the application's return to the moment the
 * client holds the last byte of the response (both clocks are this
 * process's), not as the wall time of the test, so that a loaded machine
 * slows the upload without failing the test.
 */

import { equal, ok } from "node:assert/strict";
import type { Application } from "../mod.ts";
import { withServer } from "./_helpers.ts";
import { readResponse, within } from "./_http.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const BOUND_MS = 100;
const encoder = new TextEncoder();

/** How much of the body the application reads. */
type Mode = "full" | "part" | "none";

/** Writes `size` bytes of body after `head`, in 1 MiB pieces; stops quietly if the server closes. */
async function writeBody(conn: Deno.Conn, head: string, size: number): Promise<void> {
  const piece = new Uint8Array(Math.min(size, MiB)).fill(0x61);
  try {
    await conn.write(encoder.encode(head));
    let left = size;
    while (left > 0) {
      const n = await conn.write(piece.subarray(0, Math.min(left, piece.length)));
      left -= n;
    }
  } catch {
    // The server may close while the rest of the body is on its way.
  }
}

/**
 * Serves an application that reads the request body in `mode`, uploads
 * `size` bytes to it over a raw socket, and checks the bound and keep-alive.
 */
async function check(size: number, mode: Mode, streamed = false): Promise<void> {
  let returned = 0;
  let read = -1;
  const app: Application = async (environ, start_response) => {
    if (environ.PATH_INFO === "/second") {
      start_response("200 OK", [["Content-Type", "text/plain"]]);
      return [encoder.encode("second")];
    }
    const input = environ["wsgi.input"];
    if (mode === "full") read = (await input.read()).length;
    else if (mode === "part") read = (await input.read(1000)).length;
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    if (streamed) {
      return (async function* () {
        yield encoder.encode("o");
        yield encoder.encode("k");
        returned = performance.now();
      })();
    }
    returned = performance.now();
    return [encoder.encode("ok")];
  };
  await withServer(app, async (server) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    try {
      const writing = writeBody(
        conn,
        `POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`,
        size,
      );
      const rest = { bytes: new Uint8Array(0) };
      const first = await within(readResponse(conn, rest), 20_000, "the response");
      equal(first.status, 200);
      equal(first.body, "ok");
      equal(read, mode === "full" ? size : mode === "part" ? Math.min(1000, size) : -1);
      const gap = first.end - returned;
      ok(
        gap < BOUND_MS,
        `the client had the end of the response ${gap.toFixed(1)} ms after the app returned`,
      );
      ok(first.keepAlive, "the server keeps the connection open for the next request");
      await within(writing, 20_000, "the upload");
      await conn.write(encoder.encode("GET /second HTTP/1.1\r\nHost: x\r\n\r\n"));
      const second = await within(readResponse(conn, rest), 5_000, "the second response");
      equal(second.status, 200);
      equal(second.body, "second");
    } finally {
      conn.close();
    }
  }, { maxRequestBody: 0 });
}

for (const [name, size] of [["4 KiB", 4 * KiB], ["1 MiB", MiB], ["256 MiB", 256 * MiB]] as const) {
  Deno.test(`a ${name} upload: the client has the end of the response within ${BOUND_MS} ms of the app's return, then keep-alive`, async (t) => {
    await t.step("read in full", () => check(size, "full"));
    await t.step("read in part", () => check(size, "part"));
    await t.step("not read at all", () => check(size, "none"));
  });
}

Deno.test("a streamed response after an upload read in full also ends at once and keeps the connection", async (t) => {
  await t.step("4 KiB", () => check(4 * KiB, "full", true));
  await t.step("1 MiB", () => check(MiB, "full", true));
});
