/**
 * The page's views of attacker-controlled bodies (the sandboxed HTML preview,
 * the SSE view, the multipart view, the JSON view, the text and hex views,
 * the environ table) in headless Chromium: recorded markup is shown as text,
 * runs nothing and loads nothing. A canary listener stands for another
 * host: every URL in the hostile bodies points at it, and it must see no
 * connection.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import type { Application } from "../mod.ts";
import {
  type Browser,
  byTestId,
  launchChromium,
  requireChromium,
  row,
  serveInspected,
  skipWithoutChromium,
  text,
  watchPage,
} from "./_chromium.ts";

const WHAT = "the page's hostile-body test";
const skip = skipWithoutChromium(WHAT);
const encoder = new TextEncoder();

/** Markup that would load the canary or run script, were it rendered as HTML. */
function hostile(canary: string): string {
  return `<img src="${canary}/img" onerror="top.pwned=1"><script>top.pwned=2</script>` +
    `<link rel="stylesheet" href="${canary}/css"><style>@import url("${canary}/import");</style>` +
    `<meta http-equiv="refresh" content="0;url=${canary}/refresh">` +
    `<iframe src="${canary}/frame"></iframe><object data="${canary}/object"></object>` +
    `<form action="${canary}/form"><button id="go">go</button></form>` +
    `<a href="javascript:top.pwned=3" id="js">x</a><video src="${canary}/video" autoplay></video>`;
}

Deno.test({
  name: "the page's body views show hostile markup as text: nothing runs, nothing loads",
  ignore: skip,
  async fn(t) {
    requireChromium(WHAT);
    const canaryListener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const canary = `http://127.0.0.1:${canaryListener.addr.port}`;
    const connections: string[] = [];
    const accepting = (async () => {
      for await (const conn of canaryListener) {
        const head = new Uint8Array(2048);
        const n = await conn.read(head).catch(() => null);
        connections.push(new TextDecoder().decode(head.subarray(0, n ?? 0)).split("\r\n")[0]!);
        conn.close();
      }
    })();
    const markup = hostile(canary);
    const app: Application = async (environ, start_response) => {
      const path = environ.PATH_INFO;
      if (path === "/html") {
        start_response("200 OK", [["Content-Type", "text/html"]]);
        return [encoder.encode(markup)];
      }
      if (path === "/sse") {
        start_response("200 OK", [["Content-Type", "text/event-stream"]]);
        const line = markup.replaceAll("\n", " ");
        return [encoder.encode(`event: ${line}\nid: ${line}\n: ${line}\ndata: ${line}\n\n`)];
      }
      if (path === "/json") {
        start_response("200 OK", [["Content-Type", "application/json"]]);
        return [encoder.encode(JSON.stringify({ [markup]: `</script>${markup}` }))];
      }
      // The request body (a multipart form, or JSON) is the hostile part.
      await environ["wsgi.input"].read();
      start_response("200 OK", [["Content-Type", "text/plain"]]);
      return [encoder.encode("ok")];
    };
    const { inspector, server, url } = await serveInspected(app);
    let browser: Browser | undefined;
    try {
      for (const path of ["/html", "/sse", "/json"]) await (await fetch(server.url + path)).text();
      const form = new FormData();
      form.append(markup, new Blob([markup], { type: "text/html" }), markup);
      form.append("field", markup);
      await (await fetch(`${server.url}/parts`, { method: "POST", body: form })).text();
      const jsonTarget = new URL(`${server.url}/jsonreq?${encodeURIComponent(markup)}`);
      await (await fetch(jsonTarget, {
        method: "POST",
        headers: { "content-type": "text/plain", "x-hostile": markup.replaceAll("\n", " ") },
        body: JSON.stringify({ a: markup }),
      })).text();

      browser = await launchChromium();
      const page = browser.page;
      await watchPage(page);
      await page.goto(url);
      /** Opens the exchange of `path`, then each of `name`'s body modes. */
      const view = async (page: Page, path: string, name: string, modes: string[]) => {
        await row(page, path).click();
        await byTestId(page, `tab-${name}`).click();
        for (const mode of modes) {
          await byTestId(page, `${name}-mode-${mode}`).click();
          await byTestId(page, `${name}-body`).and(page.locator(`[data-mode="${mode}"]`))
            .waitFor();
        }
      };
      await t.step("an HTML response, in every mode (the preview is sandboxed)", async () => {
        await view(page, "/html", "response", ["text", "hex", "html"]);
        const frame = page.frameLocator('[data-testid="body-html"]');
        await frame.locator("#go").click({ timeout: 2000 }).catch(() => {});
        await frame.locator("#js").click({ timeout: 2000 }).catch(() => {});
        await view(page, "/html", "response", ["text"]);
      });
      await t.step("a text/event-stream response's events", async () => {
        await view(page, "/sse", "response", ["events", "text"]);
        await view(page, "/sse", "response", ["events"]);
        assert.ok(
          (await text(byTestId(page, "sse-event-data"))).includes(`<img src="${canary}/img"`),
          "the event's data shown as text",
        );
      });
      await t.step("a JSON response", async () => {
        await view(page, "/json", "response", ["json", "text"]);
      });
      await t.step("a multipart request's parts (names, file names, contents)", async () => {
        await view(page, "/parts", "request", ["parts"]);
        assert.ok(
          (await text(byTestId(page, "part-filename").first())).includes("<script>"),
          "the file name shown as text",
        );
        await view(page, "/parts", "request", ["text", "hex", "parts"]);
      });
      await t.step("a JSON request body, its target and headers in the environ", async () => {
        await view(page, jsonTarget.pathname + jsonTarget.search, "request", ["json", "text"]);
        await byTestId(page, "tab-environ").click();
        await byTestId(page, "environ-http").waitFor();
      });
      await t.step("nothing ran, nothing loaded, no element was made of the records", async () => {
        // Give a meta refresh or a lazy load the time to go out, were it allowed.
        await page.waitForTimeout(500);
        assert.equal(
          await page.evaluate(() => (globalThis as unknown as { pwned?: number }).pwned ?? 0),
          0,
        );
        assert.equal(
          await page.evaluate(() =>
            document.querySelectorAll(
              "img, object, video, link[rel=stylesheet], form, iframe:not([data-testid=body-html])",
            ).length
          ),
          0,
          "no element of the recorded markup in the page",
        );
        assert.deepEqual(connections, [], "the canary saw no connection");
      });
    } finally {
      await browser?.close();
      await server.shutdown();
      await inspector.shutdown();
      canaryListener.close();
      await accepting.catch(() => {});
    }
  },
});
