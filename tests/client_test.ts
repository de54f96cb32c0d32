/**
 * The test client: requests, bodies, the cookie jar, redirects, captured
 * wsgi.errors, the environ seen, in the spirit of Werkzeug's test_test.py.
 */

import { deepEqual, equal, match, ok, rejects, throws } from "node:assert/strict";
import type { Application } from "../mod.ts";
import { Client, parseSetCookie } from "../server/client.ts";

const enc = (text: string) => new TextEncoder().encode(text);

/** Echoes the request: method, path, query, headers it cares about, and the body. */
const echo: Application = async (environ, start_response) => {
  const body = new TextDecoder().decode(await environ["wsgi.input"].read());
  start_response("200 OK", [["Content-Type", "application/json"]]);
  return [enc(JSON.stringify({
    method: environ.REQUEST_METHOD,
    path: environ.PATH_INFO,
    query: environ.QUERY_STRING,
    type: environ.CONTENT_TYPE ?? null,
    host: environ.HTTP_HOST ?? null,
    cookie: environ.HTTP_COOKIE ?? null,
    custom: environ.HTTP_X_CUSTOM ?? null,
    remote: environ.REMOTE_ADDR ?? null,
    body,
  }))];
};

Deno.test("Client: get() with query and headers; every method; one body kind at a time", async () => {
  const client = new Client(echo);
  const r = await client.get("/search?x=0", {
    query: { q: "a b", tag: ["1", "2"] },
    headers: { "X-Custom": "yes" },
  });
  deepEqual(r.json(), {
    method: "GET",
    path: "/search",
    query: "x=0&q=a+b&tag=1&tag=2",
    type: null,
    host: "localhost",
    cookie: null,
    custom: "yes",
    remote: "127.0.0.1",
    body: "",
  });
  for (const method of ["put", "patch", "delete", "options"] as const) {
    equal((await client[method]("/")).json<{ method: string }>().method, method.toUpperCase());
  }
  const head = await client.head("/");
  equal(head.status, 200);
  equal(head.body.length, 0);
  await rejects(
    () => client.post("/", { json: 1, body: "x" }),
    /give one of json, form\/files and body/,
  );
  throws(() => new Client(42 as never), /must be a function/);
});

Deno.test("Client: post() with json, form, body and files", async () => {
  const client = new Client(echo);
  const json = (await client.post("/", { json: { a: [1, "é"] } })).json<
    { type: string; body: string }
  >();
  equal(json.type, "application/json");
  equal(json.body, '{"a":[1,"é"]}');
  const form = (await client.post("/", { form: { name: "Ada Lovelace", x: ["1", "2"] } }))
    .json<{ type: string; body: string }>();
  equal(form.type, "application/x-www-form-urlencoded");
  equal(form.body, "name=Ada+Lovelace&x=1&x=2");
  const raw = (await client.post("/", { body: "raw", headers: { "Content-Type": "text/x-raw" } }))
    .json<{ type: string; body: string }>();
  deepEqual([raw.type, raw.body], ["text/x-raw", "raw"]);
  const files = (await client.post("/", {
    form: { title: "t" },
    files: { doc: { name: "d.txt", content: "file body", type: "text/plain" } },
  })).json<{ type: string; body: string }>();
  match(files.type, /^multipart\/form-data; boundary=/);
  match(files.body, /name="title"\r\n\r\nt\r\n/);
  match(
    files.body,
    /name="doc"; filename="d\.txt"\r\nContent-Type: text\/plain\r\n\r\nfile body\r\n/,
  );
});

Deno.test("Client: the cookie jar keeps, matches domain and path, expires, and can be turned off", async () => {
  const setter: Application = (environ, start_response) => {
    const headers: [string, string][] = [["Content-Type", "text/plain"]];
    if (environ.PATH_INFO === "/set") {
      headers.push(["Set-Cookie", "session=abc; Path=/; HttpOnly"]);
      headers.push(["Set-Cookie", "admin=1; Path=/admin"]);
      headers.push(["Set-Cookie", "other=1; Domain=other.example; Path=/"]);
      headers.push(["Set-Cookie", "short=1; Path=/; Max-Age=0"]);
      headers.push(["Set-Cookie", "old=1; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"]);
    }
    if (environ.PATH_INFO === "/logout") {
      headers.push(["Set-Cookie", "session=; Path=/; Max-Age=0"]);
    }
    start_response("200 OK", headers);
    return [enc(environ.HTTP_COOKIE ?? "")];
  };
  const client = new Client(setter);
  await client.get("/set");
  equal((await client.get("/")).text, "session=abc");
  equal((await client.get("/admin/users")).text, "admin=1; session=abc", "longer path first");
  equal((await client.get("/administrator")).text, "session=abc", "a path matches by segment");
  equal(client.getCookie("session")?.httpOnly, true);
  equal(client.getCookie("short"), undefined);
  equal(client.getCookie("old"), undefined);
  client.setCookie("pref", "dark");
  equal((await client.get("/")).text, "session=abc; pref=dark");
  client.deleteCookie("pref");
  await client.get("/logout");
  equal((await client.get("/")).text, "");
  const noJar = new Client(setter, { cookies: false });
  await noJar.get("/set");
  equal((await noJar.get("/")).text, "");
  throws(() => noJar.getCookie("session"), /cookies: false/);
  const parsed = parseSetCookie(
    "a=b; Domain=.Example.com; Secure",
    new URL("http://x.example.com/p/q"),
  );
  deepEqual(parsed, {
    name: "a",
    value: "b",
    domain: "example.com",
    path: "/p",
    hostOnly: false,
    secure: true,
    httpOnly: false,
  });
});

Deno.test("Client: redirects are followed on request, with history; loops and other hosts throw", async () => {
  const app: Application = async (environ, start_response) => {
    const body = new TextDecoder().decode(await environ["wsgi.input"].read());
    const go = (status: string, to: string) => {
      start_response(status, [["Location", to], ["Content-Type", "text/plain"]]);
      return [];
    };
    switch (environ.PATH_INFO) {
      case "/a":
        return go("302 Found", "/b");
      case "/b":
        return go("301 Moved Permanently", "http://localhost/c");
      case "/keep":
        return go("307 Temporary Redirect", "/c");
      case "/loop":
        return go("302 Found", "/loop");
      case "/away":
        return go("302 Found", "http://elsewhere.example/");
    }
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return [enc(`${environ.REQUEST_METHOD} ${environ.PATH_INFO} ${body}`)];
  };
  const client = new Client(app);
  equal((await client.get("/a")).status, 302, "not followed unless asked");
  const followed = await client.post("/a", { body: "data", followRedirects: true });
  equal(followed.text, "GET /c ");
  deepEqual(followed.history.map((r) => [r.status, r.location]), [[302, "/b"], [
    301,
    "http://localhost/c",
  ]]);
  const kept = await client.post("/keep", { body: "data", followRedirects: true });
  equal(kept.text, "POST /c data", "307 keeps the method and the body");
  await rejects(() => client.get("/loop", { followRedirects: true }), /Redirect loop/);
  await rejects(
    () => client.get("/away", { followRedirects: true }),
    /only follows redirects within http:\/\/localhost/,
  );
  const always = new Client(app, { followRedirects: true });
  equal((await always.get("/a")).text, "GET /c ");
});

Deno.test("Client: wsgi.errors is captured per response and for the client; the environ is kept", async () => {
  const app: Application = (environ, start_response) => {
    environ["wsgi.errors"].write(`warning for ${environ.PATH_INFO}\n`);
    if (environ.PATH_INFO === "/boom") throw new Error("kaput");
    environ.SCRIPT_NAME = "/changed";
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return [enc("ok")];
  };
  const client = new Client(app);
  const r = await client.get("/one");
  equal(r.errors, "warning for /one\n");
  equal(r.environ!.SCRIPT_NAME, "/changed", "the environ as the app left it");
  const boom = await client.get("/boom");
  equal(boom.status, 500);
  match(boom.text, /Error: kaput/);
  match(boom.errors, /warning for \/boom\n[^]*Error in application \(GET \/boom\): Error: kaput/);
  ok(client.errors.startsWith("warning for /one\nwarning for /boom\n"));
});

Deno.test("Client: a response cut after its headers throws, naming the cut", async () => {
  const app: Application = (_environ, start_response) => {
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return (async function* () {
      yield enc("half");
      throw new Error("broke midway");
    })();
  };
  await rejects(
    () => new Client(app).get("/"),
    /The response to GET \/ was cut after the headers were sent/,
  );
});
