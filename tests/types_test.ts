/**
 * Types a user does not fight (the toolkit issue's item 8): these compile, or
 * `deno test` fails at type-checking; each `@ts-expect-error` fails the build
 * if the line it marks stops being an error.
 */

import { equal } from "node:assert/strict";
import type { Application, Environ } from "../mod.ts";
import { toFetch } from "../mod.ts";

Deno.test("Environ: HTTP_* and CGI keys are string | undefined; wsgi.input's bytes go into a Response and a Blob", async () => {
  const app: Application = async (environ: Environ, start_response) => {
    // Request headers: a string, or undefined when not sent. No casts.
    const cookie: string | undefined = environ.HTTP_COOKIE;
    const agent = environ.HTTP_USER_AGENT ?? "unknown";
    // @ts-expect-error -- a header is not a number
    const wrong: number = environ.HTTP_X_COUNT;
    void wrong;
    const type: string | undefined = environ.CONTENT_TYPE;
    const raw: string | undefined = environ.RAW_URI;
    // Bytes from wsgi.input: over a plain ArrayBuffer, so the web APIs take them.
    const bytes = await environ["wsgi.input"].read();
    const echoed = await new Response(bytes).text();
    const blob = new Blob([bytes], { type: type ?? "" });
    const request = new Request("http://localhost/", { method: "POST", body: bytes });
    start_response("200 OK", [["Content-Type", "application/json"]]);
    return [
      new TextEncoder().encode(JSON.stringify({
        cookie,
        agent,
        echoed,
        size: blob.size,
        again: await request.text(),
        raw: typeof raw,
      })),
    ];
  };
  const response = await toFetch(app)(
    new Request("http://localhost/", {
      method: "POST",
      body: "hi",
      headers: { Cookie: "a=1", "User-Agent": "t" },
    }),
  );
  const got = await response.json();
  equal(got.cookie, "a=1");
  equal(got.agent, "t");
  equal(got.echoed, "hi");
  equal(got.size, 2);
  equal(got.again, "hi");
});
