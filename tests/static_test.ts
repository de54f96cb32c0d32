/**
 * staticFiles(): conditional requests, ranges, index files, listings, and no
 * way out of the root. Traversal attempts go over raw sockets (`fetch` would
 * normalise `..` and `%2e%2e` before sending), and each must give 0 bytes of
 * the secret next to the root.
 */

import { deepEqual, equal, match, ok } from "node:assert/strict";
import type { Application } from "../mod.ts";
import { parseRange, safeSegments, staticFiles } from "../server/static.ts";
import { rawRequest, text, withServer } from "./_helpers.ts";

const SECRET = "TOP-SECRET-0123";

/** A temporary tree: `root/` served, `secret.txt` beside it, symlinks in and out. */
async function withTree(fn: (root: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "wsgi-static-" });
  try {
    const root = `${dir}/root`;
    await Deno.mkdir(`${root}/sub/deeper`, { recursive: true });
    await Deno.mkdir(`${root}/evil.example`);
    await Deno.mkdir(`${root}/plain`);
    await Deno.mkdir(`${root}/.git`);
    await Deno.writeTextFile(`${dir}/secret.txt`, SECRET);
    await Deno.writeTextFile(`${dir}/rootless.txt`, SECRET);
    await Deno.writeTextFile(`${root}/index.html`, "<h1>home</h1>");
    await Deno.writeTextFile(`${root}/a.txt`, "0123456789abcdefghij");
    await Deno.writeTextFile(`${root}/style.css`, "body{}");
    await Deno.writeTextFile(`${root}/data.json`, "{}");
    await Deno.writeTextFile(`${root}/caf\u00e9.txt`, "accent");
    await Deno.writeTextFile(`${root}/.env`, SECRET);
    await Deno.writeTextFile(`${root}/.git/config`, SECRET);
    await Deno.writeTextFile(`${root}/sub/index.html`, "<h1>sub</h1>");
    await Deno.writeTextFile(`${root}/sub/deeper/b.txt`, "b");
    await Deno.writeTextFile(`${root}/plain/<x>.txt`, "x");
    await Deno.symlink(`${dir}/secret.txt`, `${root}/link-out.txt`);
    await Deno.symlink(dir, `${root}/dir-out`);
    await Deno.symlink(`${root}/a.txt`, `${root}/link-in.txt`);
    await fn(root);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function get(port: number, target: string, headers: Record<string, string> = {}, method = "GET") {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  return rawRequest(
    port,
    `${method} ${target} HTTP/1.1\r\nHost: x\r\n${lines}Connection: close\r\n\r\n`,
  );
}

Deno.test("staticFiles(): no way out of the root, over raw sockets; 0 bytes of the secret", async (t) => {
  await withTree(async (root) => {
    // With dotfiles served too: the ".." rule must hold on its own.
    for (const options of [{}, { dotfiles: true }]) {
      await withServer(staticFiles(root, options), async (server) => {
        const targets = [
          "/../secret.txt",
          "/../../../../../../etc/passwd",
          "/%2e%2e/secret.txt",
          "/%2E%2E/secret.txt",
          "/.%2e/secret.txt",
          "/..%2fsecret.txt",
          "/%2e%2e%2fsecret.txt",
          "/sub/../../secret.txt",
          "/sub/%2e%2e/%2e%2e/secret.txt",
          "/sub/..%2f..%2fsecret.txt",
          "/..\\secret.txt",
          "/%5c..%5csecret.txt",
          "/sub%5c..%5c..%5csecret.txt",
          "/a.txt%00.html",
          "/%00../secret.txt",
          "/link-out.txt",
          "/dir-out/secret.txt",
          "/.env",
          "/.git/config",
          "/%2eenv",
          "//../secret.txt",
          "/%ff%fe.txt",
          `/${"../".repeat(3)}rootless.txt`,
        ];
        for (const target of targets) {
          if (options.dotfiles && /^\/(\.|%2e)(env|git)/.test(target)) continue;
          await t.step(`${target}${options.dotfiles ? " (dotfiles served)" : ""}`, async () => {
            const r = await get(server.port, target);
            ok(!r.text.includes(SECRET), `${target} leaked the secret:\n${r.text}`);
            ok([400, 404].includes(r.status), `${target}: ${r.statusLine}`);
          });
        }
        await t.step(
          `a symlink that stays inside is served ${JSON.stringify(options)}`,
          async () => {
            const r = await get(server.port, "/link-in.txt");
            equal(r.status, 200);
            equal(text(r.body), "0123456789abcdefghij");
          },
        );
      });
    }
  });
});

Deno.test("staticFiles(): a directory redirects to its slash form, never to a protocol-relative Location", async () => {
  await withTree(async (root) => {
    await withServer(staticFiles(root), async (server) => {
      for (
        const [target, location] of [
          ["/sub", "/sub/"],
          ["//evil.example", "/evil.example/"],
          ["///evil.example", "/evil.example/"],
          ["/./evil.example", "/evil.example/"],
          ["/sub/deeper", "/sub/deeper/"],
          ["/%2fevil.example", "/evil.example/"],
        ]
      ) {
        const r = await get(server.port, target!);
        equal(r.status, 301, target);
        equal(r.headers.get("location"), location, target);
        ok(!r.headers.get("location")!.startsWith("//"), target);
      }
      const index = await get(server.port, "/sub/");
      equal(index.status, 200);
      equal(text(index.body), "<h1>sub</h1>");
      equal(index.headers.get("content-type"), "text/html; charset=utf-8");
      const home = await get(server.port, "/");
      equal(text(home.body), "<h1>home</h1>");
    });
  });
});

Deno.test("staticFiles(): content types, ETag and Last-Modified, 304, HEAD", async () => {
  await withTree(async (root) => {
    await withServer(staticFiles(root), async (server) => {
      const types: [string, string][] = [
        ["/a.txt", "text/plain; charset=utf-8"],
        ["/style.css", "text/css; charset=utf-8"],
        ["/data.json", "application/json; charset=utf-8"],
        ["/caf%C3%A9.txt", "text/plain; charset=utf-8"],
      ];
      for (const [target, type] of types) {
        const r = await get(server.port, target);
        equal(r.status, 200, target);
        equal(r.headers.get("content-type"), type, target);
      }
      const first = await get(server.port, "/a.txt");
      const etag = first.headers.get("etag")!;
      const modified = first.headers.get("last-modified")!;
      match(etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
      equal(first.headers.get("content-length"), "20");
      equal(first.headers.get("accept-ranges"), "bytes");
      equal(first.headers.get("cache-control"), "no-cache");
      for (
        const headers of [
          { "If-None-Match": etag } as Record<string, string>,
          { "If-None-Match": `"other", W/${etag}` },
          { "If-None-Match": "*" },
          { "If-Modified-Since": modified },
        ]
      ) {
        const r = await get(server.port, "/a.txt", headers);
        equal(r.status, 304, JSON.stringify(headers));
        equal(r.body.length, 0);
        equal(r.headers.get("etag"), etag);
      }
      equal((await get(server.port, "/a.txt", { "If-None-Match": '"stale"' })).status, 200);
      const old = new Date(Date.parse(modified) - 60_000).toUTCString();
      equal((await get(server.port, "/a.txt", { "If-Modified-Since": old })).status, 200);
      const head = await get(server.port, "/a.txt", {}, "HEAD");
      equal(head.status, 200);
      equal(head.headers.get("content-length"), "20");
      equal(head.body.length, 0);
      const post = await get(server.port, "/a.txt", { "Content-Length": "0" }, "POST");
      equal(post.status, 405);
      equal(post.headers.get("allow"), "GET, HEAD");
    });
  });
});

Deno.test("staticFiles(): Range gives 206 with Content-Range, 416 past the end, If-Range", async () => {
  await withTree(async (root) => {
    await withServer(staticFiles(root), async (server) => {
      const cases: [string, number, string, string | undefined][] = [
        ["bytes=0-3", 206, "0123", "bytes 0-3/20"],
        ["bytes=10-", 206, "abcdefghij", "bytes 10-19/20"],
        ["bytes=-5", 206, "fghij", "bytes 15-19/20"],
        ["bytes=18-100", 206, "ij", "bytes 18-19/20"],
        ["bytes=0-0", 206, "0", "bytes 0-0/20"],
        ["bytes=0-1,5-6", 200, "0123456789abcdefghij", undefined],
        ["items=0-1", 200, "0123456789abcdefghij", undefined],
        ["bytes=5-2", 200, "0123456789abcdefghij", undefined],
      ];
      for (const [range, status, body, contentRange] of cases) {
        const r = await get(server.port, "/a.txt", { Range: range });
        equal(r.status, status, range);
        equal(text(r.body), body, range);
        equal(r.headers.get("content-range"), contentRange, range);
        equal(r.headers.get("content-length"), String(body.length), range);
      }
      const past = await get(server.port, "/a.txt", { Range: "bytes=20-" });
      equal(past.status, 416);
      equal(past.headers.get("content-range"), "bytes */20");
      const etag = (await get(server.port, "/a.txt")).headers.get("etag")!;
      const fresh = await get(server.port, "/a.txt", { Range: "bytes=0-1", "If-Range": etag });
      equal(fresh.status, 206);
      const stale = await get(server.port, "/a.txt", { Range: "bytes=0-1", "If-Range": '"old"' });
      equal(stale.status, 200);
      equal(stale.body.length, 20);
    });
  });
});

Deno.test("staticFiles(): listing is opt-in, escaped; dotfiles hidden; prefix and fallback", async () => {
  await withTree(async (root) => {
    await withServer(staticFiles(root), async (server) => {
      equal((await get(server.port, "/plain/")).status, 404, "no listing by default");
    });
    await withServer(staticFiles(root, { listing: true }), async (server) => {
      const r = await get(server.port, "/plain/");
      equal(r.status, 200);
      const html = text(r.body);
      match(html, /<a href="\.\/%3Cx%3E\.txt">&#60;x&#62;\.txt<\/a>/);
      ok(!html.includes("<x>"), "names are escaped");
      const top = text((await get(server.port, "/evil.example/")).body);
      match(top, /<a href="\.\.\/">/);
    });
    const app: Application = (environ, start_response) => {
      start_response("200 OK", [["Content-Type", "text/plain"]]);
      return [new TextEncoder().encode(`app ${environ.PATH_INFO}`)];
    };
    await withServer(staticFiles(root, { prefix: "/static", fallback: app }), async (server) => {
      equal(text((await get(server.port, "/static/a.txt")).body), "0123456789abcdefghij");
      equal(text((await get(server.port, "/static/missing")).body), "app /static/missing");
      equal(text((await get(server.port, "/a.txt")).body), "app /a.txt");
      equal(text((await get(server.port, "/staticky")).body), "app /staticky");
      equal((await get(server.port, "/static")).headers.get("location"), "/static/");
    });
  });
});

Deno.test("safeSegments() and parseRange(): the rules, in memory", () => {
  deepEqual(safeSegments("/a/./b//c/"), ["a", "b", "c"]);
  equal(safeSegments("/a/../b"), undefined);
  equal(safeSegments("/a\\b"), undefined);
  equal(safeSegments("/a\0"), undefined);
  equal(safeSegments("/.hidden"), undefined);
  deepEqual(safeSegments("/.hidden", true), [".hidden"]);
  deepEqual(safeSegments("/caf\xc3\xa9"), ["café"]);
  equal(safeSegments("/\xff"), undefined, "not UTF-8");
  deepEqual(parseRange("bytes=0-9", 5), { start: 0, end: 4 });
  equal(parseRange("bytes=-0", 5), "unsatisfiable");
  equal(parseRange("bytes=-", 5), undefined);
  deepEqual(parseRange("bytes=-10", 5), { start: 0, end: 4 });
});
