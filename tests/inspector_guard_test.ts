/**
 * The side port's guard over raw sockets: what `fetch` would rewrite (the
 * target's form, `Host`, `Sec-Fetch-*`) is written byte for byte.
 *
 * @module
 */

import { equal, match } from "node:assert/strict";
import type { ExchangeList } from "../inspector/protocol.ts";
import { rawRequest, text } from "./_helpers.ts";
import { textApp, withInspector } from "./_inspector.ts";

/** A raw request to the side port, answered and closed. */
function send(port: number, head: string, headers: string[], body = "") {
  const lines = [head, ...headers, "Connection: close"];
  if (body !== "") lines.push(`Content-Length: ${body.length}`);
  return rawRequest(port, `${lines.join("\r\n")}\r\n\r\n${body}`);
}

Deno.test("the side port refuses absolute-form targets whose authority is not the Host", async () => {
  await withInspector(textApp, async ({ app, inspector }) => {
    const port = inspector.port!;
    const host = `Host: 127.0.0.1:${port}`;
    const origin = `Origin: http://127.0.0.1:${port}`;
    await (await fetch(app.url)).text();
    for (
      const target of [
        "http://evil.example/api/exchanges",
        `http://evil.example:${port}/api/exchanges`,
        `http://user@127.0.0.1:${port}/api/exchanges`,
        `http://localhost:${port}/api/exchanges`,
        "http://127.0.0.1/api/exchanges",
      ]
    ) {
      const response = await send(port, `GET ${target} HTTP/1.1`, [host]);
      equal(response.status, 400, target);
      match(text(response.body), /authority .* differs from its Host header/, target);
    }
    const cleared = await send(port, "POST http://evil.example/api/clear HTTP/1.1", [host, origin]);
    equal(cleared.status, 400);
    // Nothing was cleared.
    const list = await send(port, "GET /api/exchanges HTTP/1.1", [host]);
    equal(list.status, 200);
    equal((JSON.parse(text(list.body)) as ExchangeList).total, 1);
    // An absolute-form target naming the Host itself is the same request.
    const same = await send(port, `GET http://127.0.0.1:${port}/api/exchanges HTTP/1.1`, [host]);
    equal(same.status, 200);
  });
});
