import { equal } from "node:assert/strict";
import { toFetch } from "../mod.ts";
import { application } from "../examples/hello.ts";
import { withServer } from "./_helpers.ts";

Deno.test("examples/hello.ts answers <h1>Hello,web</h1> in memory", async () => {
  const response = await toFetch(application)(new Request("http://localhost/"));
  equal(response.status, 200);
  equal(response.headers.get("content-type"), "text/html");
  equal(await response.text(), "<h1>Hello,web</h1>");
});

Deno.test("examples/hello.ts answers <h1>Hello,web</h1> over a socket", async () => {
  await withServer(application, async (server) => {
    const response = await fetch(server.url + "/anything");
    equal(response.status, 200);
    equal(await response.text(), "<h1>Hello,web</h1>");
  });
});
