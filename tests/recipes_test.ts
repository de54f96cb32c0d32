/**
 * The recipes in examples/ (query strings, cookies, JSON, multipart uploads,
 * redirects), each exercised through the test client as a user would test
 * their own app, and once over a real socket.
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import { Client } from "../server/client.ts";
import { application as query } from "../examples/query.ts";
import { application as cookies, parseCookies } from "../examples/cookies.ts";
import { application as json } from "../examples/json.ts";
import { application as upload } from "../examples/upload.ts";
import { application as redirect } from "../examples/redirect.ts";
import { mount } from "../server/mount.ts";
import { withServer } from "./_helpers.ts";

Deno.test("examples/query.ts: decoded values, repeated keys, order", async () => {
  const client = new Client(query);
  const r = await client.get("/?q=caf%C3%A9", { query: { tag: ["a", "b"], n: 1 } });
  equal(r.status, 200);
  deepEqual(r.json(), {
    q: "café",
    tags: ["a", "b"],
    pairs: [["q", "café"], ["tag", "a"], ["tag", "b"], ["n", "1"]],
  });
  await withServer(query, async (server) => {
    const body = await (await fetch(`${server.url}/?tag=x&tag=y`)).json();
    deepEqual(body.tags, ["x", "y"]);
  });
});

Deno.test("examples/cookies.ts: a visit counter in a cookie, and deleting it", async () => {
  const client = new Client(cookies);
  equal((await client.get("/")).text, "Visit number 1.\n");
  equal((await client.get("/")).text, "Visit number 2.\n");
  equal(client.getCookie("visits")?.value, "2");
  equal(client.getCookie("visits")?.httpOnly, true);
  const forget = await client.get("/forget");
  equal(forget.text, "Forgotten.\n");
  equal(client.getCookie("visits"), undefined, "Max-Age=0 deleted it");
  equal((await client.get("/")).text, "Visit number 1.\n");
  deepEqual([...parseCookies("a=1; b=x%20y; a=2; junk")], [["a", "1"], ["b", "x y"]]);
});

Deno.test("examples/json.ts: 201 with the item, 400 and 415 that say why, 405 with Allow", async () => {
  const client = new Client(json);
  const created = await client.post("/items", { json: { name: "cup" } });
  equal(created.status, 201);
  deepEqual(created.json(), { id: 1, name: "cup" });
  match(created.location!, /^\/items\/1$/);
  deepEqual((await client.get("/items")).json(), [{ id: 1, name: "cup" }]);
  const bad = await client.post("/items", {
    body: "{nope",
    headers: { "Content-Type": "application/json" },
  });
  equal(bad.status, 400);
  match(bad.json<{ error: string }>().error, /the body is not JSON/);
  const form = await client.post("/items", { form: { name: "cup" } });
  equal(form.status, 415);
  match(form.json<{ error: string }>().error, /application\/x-www-form-urlencoded/);
  const put = await client.put("/items");
  equal(put.status, 405);
  equal(put.headers.get("allow"), "GET, POST");
});

Deno.test("examples/upload.ts: multipart fields and files through Request.formData()", async () => {
  const client = new Client(upload);
  const page = await client.get("/");
  match(page.text, /enctype="multipart\/form-data"/);
  const r = await client.post("/", {
    form: { title: "My <CV>" },
    files: {
      file: [
        new File(["hello, upload"], "a.txt", { type: "text/plain" }),
        { name: "b.bin", content: new Uint8Array([0, 1, 2]), type: "application/octet-stream" },
      ],
    },
  });
  equal(r.status, 200);
  match(r.text, /<li>title = My &lt;CV&gt;<\/li>/);
  match(
    r.text,
    /<li>file: file a\.txt, 13 bytes, text\/plain, starts &quot;hello, upload&quot;<\/li>/,
  );
  match(r.text, /<li>file: file b\.bin, 3 bytes, application\/octet-stream/);
  match(r.environ!.CONTENT_TYPE!, /^multipart\/form-data; boundary=/);
  const broken = await client.post("/", {
    body: "not multipart",
    headers: { "Content-Type": "multipart/form-data; boundary=x" },
  });
  equal(broken.status, 400);
  match(broken.text, /Cannot read the form/);
});

Deno.test("examples/redirect.ts: Post/Redirect/Get and a moved page, also when mounted", async () => {
  const client = new Client(redirect);
  const posted = await client.post("/submit");
  equal(posted.status, 303);
  equal(posted.location, "/done");
  const followed = await client.post("/submit", { followRedirects: true });
  equal(followed.status, 200);
  match(followed.text, /Thank you/);
  deepEqual(followed.history.map((r) => r.status), [303]);
  equal(followed.environ!.REQUEST_METHOD, "GET", "a 303 is followed with a GET");
  const moved = await client.get("/old", { followRedirects: true });
  match(moved.text, /The new page/);
  equal(moved.url, "http://localhost/new");
  const mounted = new Client(mount({ "/app": redirect }));
  equal((await mounted.post("/app/submit")).location, "/app/done");
  ok((await mounted.get("/app/old", { followRedirects: true })).text.includes("The new page"));
});
