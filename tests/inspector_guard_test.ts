/**
 * The side port's guard over raw sockets: what `fetch` would rewrite (the
 * target's form, `Host`, `Sec-Fetch-*`) is written byte for byte.
 *
 * @module
 */

import { equal, match, ok } from "node:assert/strict";
import { bindWarning } from "../inspector/guard.ts";
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

Deno.test("the side port refuses state changes from another site even with its own Origin", async () => {
  await withInspector(textApp, async ({ app, inspector }) => {
    const port = inspector.port!;
    const host = `Host: 127.0.0.1:${port}`;
    const origin = `Origin: http://127.0.0.1:${port}`;
    await (await fetch(app.url)).text();
    for (const site of ["same-site", "cross-site"]) {
      for (const path of ["/api/clear", "/api/exchanges/1/replay"]) {
        const response = await send(
          port,
          `POST ${path} HTTP/1.1`,
          [host, origin, `Sec-Fetch-Site: ${site}`, "Sec-Fetch-Mode: cors"],
          "{}",
        );
        equal(response.status, 403, `${site} ${path}`);
        match(text(response.body), new RegExp(`Sec-Fetch-Site: ${site}`));
      }
      // Reads from another site's page (a script, an image, a no-cors fetch) are refused too;
      // a top-level navigation (a link the user follows) is not.
      const read = await send(port, "GET /api/exchanges HTTP/1.1", [
        host,
        `Sec-Fetch-Site: ${site}`,
        "Sec-Fetch-Mode: no-cors",
        "Sec-Fetch-Dest: script",
      ]);
      equal(read.status, 403, `${site} read`);
      const visit = await send(port, "GET / HTTP/1.1", [
        host,
        `Sec-Fetch-Site: ${site}`,
        "Sec-Fetch-Mode: navigate",
        "Sec-Fetch-Dest: document",
      ]);
      equal(visit.status, 200, `${site} navigation`);
    }
    const list = await send(port, "GET /api/exchanges HTTP/1.1", [host]);
    equal((JSON.parse(text(list.body)) as ExchangeList).total, 1, "nothing was cleared");
    // The page's own requests (same-origin) and tools without fetch metadata still work.
    for (const extra of [["Sec-Fetch-Site: same-origin", "Sec-Fetch-Mode: cors"], []]) {
      const cleared = await send(port, "POST /api/clear HTTP/1.1", [host, origin, ...extra], "{}");
      equal(cleared.status, 200, extra.join(", "));
    }
  });
});

Deno.test("the side port lets another site's navigation open its page only, never its API", async () => {
  await withInspector(textApp, async ({ app, inspector }) => {
    const port = inspector.port!;
    const host = `Host: 127.0.0.1:${port}`;
    await (await fetch(app.url)).text();
    const navigate = (target: string, site: string) =>
      send(port, `GET ${target} HTTP/1.1`, [
        host,
        `Sec-Fetch-Site: ${site}`,
        "Sec-Fetch-Mode: navigate",
        "Sec-Fetch-Dest: document",
        "Sec-Fetch-User: ?1",
      ]);
    const search = `/api/exchanges?body=${"a".repeat(800)}b`;
    for (const site of ["cross-site", "same-site"]) {
      // A link on any page (or the app's own, same-site) must not make the inspector search or serve data.
      for (
        const target of [search, "/api/exchanges", "/api/exchanges/1", "/api/har", "/api/nothing"]
      ) {
        const response = await navigate(target, site);
        equal(response.status, 403, `${site} ${target.slice(0, 40)}`);
        const { error } = JSON.parse(text(response.body));
        match(
          error,
          new RegExp(`navigation from another site's page \\(Sec-Fetch-Site: ${site}\\)`),
        );
        match(error, /may open only the inspector's page/);
      }
      for (const target of ["/", "/index.html", "/app.js"]) {
        equal((await navigate(target, site)).status, 200, `${site} ${target}`);
      }
    }
    // The API's URL typed in the address bar, and a link in the inspector's own page, still work.
    for (const site of ["none", "same-origin"]) {
      const response = await navigate(search, site);
      equal(response.status, 200, site);
      equal((JSON.parse(text(response.body)) as ExchangeList).total, 0, site);
      const list = await navigate("/api/exchanges", site);
      equal((JSON.parse(text(list.body)) as ExchangeList).total, 1, site);
    }
  });
});

Deno.test("the side port's answers forbid other origins to load them", async () => {
  await withInspector(textApp, async ({ app, inspector }) => {
    const port = inspector.port!;
    const host = `Host: 127.0.0.1:${port}`;
    await (await fetch(app.url)).text();
    const answers = {
      list: await send(port, "GET /api/exchanges HTTP/1.1", [host]),
      detail: await send(port, "GET /api/exchanges/1 HTTP/1.1", [host]),
      har: await send(port, "GET /api/har HTTP/1.1", [host]),
      "not found": await send(port, "GET /api/nothing HTTP/1.1", [host]),
      refused: await send(port, "GET /api/exchanges HTTP/1.1", [`Host: evil.example:${port}`]),
      page: await send(port, "GET / HTTP/1.1", [host]),
      script: await send(port, "GET /app.js HTTP/1.1", [host]),
    };
    for (const [name, response] of Object.entries(answers)) {
      equal(response.headers.get("cross-origin-resource-policy"), "same-origin", name);
      equal(response.headers.get("x-content-type-options"), "nosniff", name);
    }
    const csp = answers.page.headers.get("content-security-policy") ?? "";
    const directives = new Map(
      csp.split(";").map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]),
    );
    equal(directives.get("default-src")?.join(" "), "'none'", csp);
    equal(directives.get("script-src")?.join(" "), "'self'", csp);
    equal(directives.get("frame-ancestors")?.join(" "), "'none'", csp);
    equal(directives.get("base-uri")?.join(" "), "'none'", csp);
    equal(directives.get("object-src"), undefined, "default-src 'none' covers it");
    for (const values of directives.values()) {
      for (const value of values) {
        equal(
          ["'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:"].includes(value),
          false,
          csp,
        );
      }
    }
  });
});

Deno.test("bindWarning() is one line for every interface beyond loopback, none on loopback", async () => {
  for (const host of ["0.0.0.0", "::", "192.168.1.5", "10.0.0.2", "my-laptop.local"]) {
    const line = bindWarning(host);
    ok(line !== undefined, host);
    match(
      line,
      new RegExp(`^Warning: the inspector listens on ${host.replaceAll(".", "\\.")}, beyond`),
    );
    equal(line.includes("\n"), false);
  }
  for (const host of ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"]) {
    equal(bindWarning(host), undefined, host);
  }
  // On loopback, listening prints nothing.
  const printed: string[] = [];
  await withInspector(textApp, () => Promise.resolve(), { warn: (line) => printed.push(line) });
  equal(printed.length, 0);
});
