/**
 * mount() and proxyFix(): Werkzeug's `test_dispatcher.py` and
 * `test_proxy_fix.py`, carried to our API, plus the gateway round trip.
 */

import { deepEqual, equal, throws } from "node:assert/strict";
import type { Application, Environ } from "../mod.ts";
import { mount } from "../server/mount.ts";
import { PROXY_FIX_ORIG, proxyFix, type ProxyFixOptions } from "../server/proxy_fix.ts";
import { toFetch } from "../server/gateway.ts";
import { applicationUri, setupTestingDefaults } from "../server/util.ts";

const enc = (text: string) => new TextEncoder().encode(text);

Deno.test("mount(): Werkzeug's test_dispatcher", async () => {
  const nullApplication: Application = (_environ, start_response) => {
    start_response("404 NOT FOUND", [["Content-Type", "text/plain"]]);
    return [enc("NOT FOUND")];
  };
  const dummyApplication: Application = (environ, start_response) => {
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return [enc(environ.SCRIPT_NAME)];
  };
  const app = toFetch(mount({
    "/": nullApplication,
    "/test1": dummyApplication,
    "/test2/very": dummyApplication,
  }));
  const tests: Record<string, string[]> = {
    "/test1": ["/test1", "/test1/asfd", "/test1/very"],
    "/test2/very": ["/test2/very", "/test2/very/long/path/after/script/name"],
  };
  for (const [name, urls] of Object.entries(tests)) {
    for (const p of urls) {
      const response = await app(new Request(`http://localhost${p}`));
      equal(response.status, 200, p);
      equal(await response.text(), name, p);
    }
  }
  const missing = await app(new Request("http://localhost/missing"));
  equal(missing.status, 404);
  equal(await missing.text(), "NOT FOUND");
});

Deno.test("mount() moves the prefix to SCRIPT_NAME, segment-wise, nested, 404 without a root", async () => {
  const echo: Application = (environ, start_response) => {
    start_response("200 OK", [["Content-Type", "application/json"]]);
    return [enc(JSON.stringify([environ.SCRIPT_NAME, environ.PATH_INFO]))];
  };
  const app = toFetch(mount({ "/blog/": echo, "/api": mount({ "/v1": echo }) }));
  const get = async (path: string) => {
    const r = await app(new Request(`http://localhost${path}`));
    return [r.status, r.status === 200 ? await r.json() : await r.text()];
  };
  deepEqual(await get("/blog/2024/hi"), [200, ["/blog", "/2024/hi"]]);
  deepEqual(await get("/blog"), [200, ["/blog", ""]]);
  deepEqual(await get("/blog/"), [200, ["/blog", "/"]]);
  deepEqual(await get("/api/v1/users"), [200, ["/api/v1", "/users"]]);
  const [status, text] = await get("/blogger");
  equal(status, 404);
  equal(text, '404 Not Found\n\nNo application is mounted at "/blogger".\n');
  throws(() => mount({ blog: echo }), /a prefix starts with "\/"/);
});

/** Werkzeug's cases: options, environ, the URL root the app must see (REMOTE_ADDR 192.168.0.1). */
const proxyCases: [string, ProxyFixOptions, Record<string, string>, string][] = [
  ["for", {}, {
    REMOTE_ADDR: "192.168.0.2",
    HTTP_HOST: "spam",
    HTTP_X_FORWARDED_FOR: "192.168.0.1",
    HTTP_X_FORWARDED_PROTO: "https",
  }, "https://spam/"],
  ["proto", { proto: 1 }, { HTTP_HOST: "spam", HTTP_X_FORWARDED_PROTO: "https" }, "https://spam/"],
  ["host", { host: 1 }, { HTTP_HOST: "spam", HTTP_X_FORWARDED_HOST: "eggs" }, "http://eggs/"],
  [
    "port, host without port",
    { port: 1 },
    { HTTP_HOST: "spam", HTTP_X_FORWARDED_PORT: "8080" },
    "http://spam:8080/",
  ],
  [
    "port, host with port",
    { port: 1 },
    { HTTP_HOST: "spam:9000", HTTP_X_FORWARDED_PORT: "8080" },
    "http://spam:8080/",
  ],
  [
    "port, name",
    { port: 1 },
    { SERVER_NAME: "spam", SERVER_PORT: "9000", HTTP_X_FORWARDED_PORT: "8080" },
    "http://spam:8080/",
  ],
  [
    "prefix",
    { prefix: 1 },
    { HTTP_HOST: "spam", HTTP_X_FORWARDED_PREFIX: "/eggs" },
    "http://spam/eggs/",
  ],
  ["all", { for: 1, proto: 1, host: 1, port: 1, prefix: 1 }, {
    REMOTE_ADDR: "192.168.0.2",
    HTTP_HOST: "spam:9000",
    HTTP_X_FORWARDED_FOR: "192.168.0.1",
    HTTP_X_FORWARDED_PROTO: "https",
    HTTP_X_FORWARDED_HOST: "eggs",
    HTTP_X_FORWARDED_PORT: "443",
    HTTP_X_FORWARDED_PREFIX: "/ham",
  }, "https://eggs/ham/"],
  ["multiple for", { for: 2 }, {
    REMOTE_ADDR: "192.168.0.3",
    HTTP_HOST: "spam",
    HTTP_X_FORWARDED_FOR: "192.168.0.1, 192.168.0.2",
  }, "http://spam/"],
  ["ignore 0", { for: 0 }, {
    REMOTE_ADDR: "192.168.0.1",
    HTTP_HOST: "spam",
    HTTP_X_FORWARDED_FOR: "192.168.0.2",
  }, "http://spam/"],
  ["ignore len < trusted", { for: 3 }, {
    REMOTE_ADDR: "192.168.0.1",
    HTTP_HOST: "spam",
    HTTP_X_FORWARDED_FOR: "192.168.0.3, 192.168.0.2",
  }, "http://spam/"],
  ["ignore untrusted", {}, {
    REMOTE_ADDR: "192.168.0.2",
    HTTP_HOST: "spam",
    HTTP_X_FORWARDED_FOR: "192.168.0.3, 192.168.0.1",
  }, "http://spam/"],
  ["ignore empty", { for: 2 }, {
    REMOTE_ADDR: "192.168.0.1",
    HTTP_HOST: "spam",
    HTTP_X_FORWARDED_FOR: ", 192.168.0.3",
  }, "http://spam/"],
  ["prefix < for", { for: 2, prefix: 1 }, {
    REMOTE_ADDR: "192.168.0.2",
    HTTP_HOST: "spam",
    HTTP_X_FORWARDED_FOR: "192.168.0.1, 192.168.0.3",
    HTTP_X_FORWARDED_PREFIX: "/ham, /eggs",
  }, "http://spam/eggs/"],
  [
    "ipv6 host",
    { host: 1 },
    { HTTP_HOST: "spam", HTTP_X_FORWARDED_HOST: "[2001:db8::a]" },
    "http://[2001:db8::a]/",
  ],
  [
    "ipv6 port, host without port",
    { port: 1 },
    { HTTP_HOST: "[2001:db8::a]", HTTP_X_FORWARDED_PORT: "8080" },
    "http://[2001:db8::a]:8080/",
  ],
  [
    "ipv6 - port, host with port",
    { port: 1 },
    { HTTP_HOST: "[2001:db8::a]:9000", HTTP_X_FORWARDED_PORT: "8080" },
    "http://[2001:db8::a]:8080/",
  ],
];

Deno.test("proxyFix(): Werkzeug's test_proxy_fix cases", async (t) => {
  for (const [id, options, base, urlRoot] of proxyCases) {
    await t.step(id, () => {
      let seen: Environ | undefined;
      const app = proxyFix((environ, start_response) => {
        seen = environ;
        start_response("200 OK", [["Content-Type", "text/plain"]]);
        return [];
      }, options);
      const environ: Record<string, unknown> = { REMOTE_ADDR: "192.168.0.1", ...base };
      setupTestingDefaults(environ);
      if (!("HTTP_HOST" in base)) delete environ.HTTP_HOST;
      const before = { ...environ };
      app(environ as Environ, () => () => {});
      equal(seen!.REMOTE_ADDR, "192.168.0.1");
      // Werkzeug's url_root, from wsgiref's application_uri: a trailing "/",
      // and no default port (Werkzeug drops it when it builds a URL).
      const uri = applicationUri(seen!).replace(/^(https:\/\/[^/]+):443\b/, "$1")
        .replace(/^(http:\/\/[^/]+):80\b/, "$1");
      equal(uri.endsWith("/") ? uri : uri + "/", urlRoot);
      const orig = seen![PROXY_FIX_ORIG] as Record<string, unknown>;
      equal(orig.REMOTE_ADDR, before.REMOTE_ADDR);
      equal(orig.HTTP_HOST, before.HTTP_HOST);
    });
  }
});

Deno.test("proxyFix() through the gateway: only the trusted hop's values count", async () => {
  const app = toFetch(proxyFix((environ, start_response) => {
    start_response("200 OK", [["Content-Type", "application/json"]]);
    return [
      enc(JSON.stringify([environ.REMOTE_ADDR, environ["wsgi.url_scheme"], environ.HTTP_HOST])),
    ];
  }));
  const response = await app(
    new Request("http://127.0.0.1:8000/", {
      headers: {
        "X-Forwarded-For": "1.1.1.1, 10.0.0.7",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.example",
        Host: "127.0.0.1:8000",
      },
    }),
    { remoteAddr: { transport: "tcp", hostname: "127.0.0.1", port: 5000 } },
  );
  deepEqual(await response.json(), ["10.0.0.7", "https", "127.0.0.1:8000"]);
  throws(() => proxyFix(() => [], { for: -1 }), RangeError);
});
