/**
 * The inspector page in a real browser: headless Chromium (Debian's
 * `/usr/bin/chromium`, driven by `npm:playwright-core`) opens the page served
 * by the real side port (`createInspector` + `serve`, no mocks), while the
 * test makes requests to the app. It checks that exchanges appear live, that
 * a click shows the environ, the start_response call and the body, that the
 * stepper walks a streaming response chunk by chunk, and the rest of the
 * page's features. It saves screenshots to `tests/artifacts/` (light and
 * dark) for a person to look at.
 *
 * Without Chromium the test is skipped with a warning, except on CI
 * (`CI=true`), where it fails.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Page } from "playwright-core";
import type { Application } from "../mod.ts";
import { sleep } from "./_helpers.ts";
import {
  ARTIFACTS,
  type Browser,
  byTestId,
  launchChromium,
  requireChromium,
  row,
  serveInspected,
  skipWithoutChromium,
  text,
  until,
  watchPage,
} from "./_chromium.ts";

const WHAT = "the inspector's browser test";
const skip = skipWithoutChromium(WHAT);

const encoder = new TextEncoder();
/** The streaming route's chunks, in order. */
const CHUNKS = ["alpha\n", "beta beta\n", "gamma gamma gamma\n"];

/** The app under inspection: HTML, a streaming body, an echo that reads wsgi.input, a failure. */
const app: Application = async (environ, start_response) => {
  const path = environ.PATH_INFO;
  if (path === "/stream") {
    const delay = Number(new URLSearchParams(environ.QUERY_STRING).get("delay") ?? 15);
    start_response("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
    return (async function* () {
      for (const chunk of CHUNKS) {
        await sleep(delay);
        yield encoder.encode(chunk);
      }
    })();
  }
  if (path === "/echo") {
    const body = await environ["wsgi.input"].read();
    environ["wsgi.errors"].write(`echo: read ${body.length} bytes\n`);
    start_response("201 Created", [["Content-Type", "application/json"]]);
    return [encoder.encode(JSON.stringify({ got: new TextDecoder().decode(body), n: [1, 2] }))];
  }
  if (path === "/boom") throw new Error("Boom from the test app");
  if (path === "/partial") {
    // Reads the first 5 bytes of the body and leaves the rest.
    const head = await environ["wsgi.input"].read(5);
    start_response("200 OK", [["Content-Type", "text/plain"]]);
    return [head];
  }
  start_response("200 OK", [["Content-Type", "text/html; charset=utf-8"], ["X-Test", "yes"]]);
  return [encoder.encode(`<!doctype html><h1>Hello, ${path}</h1>`)];
};

/** The stepper's "Step i of n", as numbers. */
async function position(page: Page): Promise<[number, number]> {
  const m = (await text(byTestId(page, "step-position"))).match(/Step (\d+) of (\d+)/);
  assert.ok(m, "the stepper shows its position");
  return [Number(m[1]), Number(m[2])];
}

Deno.test({
  name: "inspector page: live list, exchange detail and timeline stepper in headless Chromium",
  ignore: skip,
  async fn(t) {
    requireChromium(WHAT);
    const { inspector, server, url } = await serveInspected(app, { maxExchanges: 5000 });
    let browser: Browser | undefined;
    const get = async (path: string, init?: RequestInit) => {
      const response = await fetch(server.url + path, init);
      return { status: response.status, body: await response.text() };
    };
    try {
      browser = await launchChromium({ viewport: { width: 1440, height: 900 } });
      const page = browser.page;
      const { errors: pageErrors } = await watchPage(page);
      const visit = await page.goto(url);
      await byTestId(page, "stream-status").and(page.locator('[data-status="live"]')).waitFor();
      await byTestId(page, "list-empty").waitFor();

      await t.step("the page runs under its strict Content-Security-Policy", async () => {
        const csp = (await visit?.allHeaders())?.["content-security-policy"] ?? "";
        assert.match(csp, /default-src 'none'; script-src 'self'; style-src 'sha256-/);
        // The inline stylesheet is allowed by its hash: the layout is the styled one.
        assert.equal(
          await page.locator(".panes").evaluate((el) => getComputedStyle(el).display),
          "grid",
        );
        // An inline script, as an injected one would be, does not run.
        const logged = pageErrors.length;
        await page.evaluate(() => {
          const script = document.createElement("script");
          script.textContent = "document.body.dataset.injected = 'ran'";
          document.body.append(script);
        });
        assert.equal(
          await page.evaluate(() => document.body.dataset.injected ?? "blocked"),
          "blocked",
        );
        assert.deepEqual(
          await page.evaluate(() =>
            (globalThis as unknown as { cspViolations: string[] }).cspViolations.splice(0)
          ),
          ["script-src-elem inline"],
          "only the injected script was refused",
        );
        // Chromium logs the refusal; that one error is this step's own.
        await until(() => Promise.resolve(pageErrors.length > logged), "Chromium logs the refusal");
        for (const error of pageErrors.splice(logged)) {
          assert.match(error, /inline script violates .*script-src 'self'/);
        }
      });

      await t.step(
        "requests made to the app appear in the list live, without a reload",
        async () => {
          assert.equal((await get("/hello?x=1")).status, 200);
          assert.equal((await get("/echo", { method: "POST", body: "name=Ada" })).status, 201);
          assert.equal((await get("/boom")).status, 500);
          await row(page, "/hello?x=1").waitFor();
          await row(page, "/echo").waitFor();
          await row(page, "/boom").waitFor();
          assert.equal(await byTestId(page, "exchange-row").count(), 3);
          // Newest first, with method, status, size.
          assert.equal(await text(byTestId(page, "row-target").first()), "/boom");
          const echo = row(page, "/echo");
          assert.equal(await text(byTestId(echo, "row-method")), "POST");
          assert.match(await text(echo), /201/);
          assert.match(await text(byTestId(echo, "row-size")), /\d+ B/);
        },
      );

      await t.step("a click shows the environ, the start_response call and the body", async () => {
        await row(page, "/hello?x=1").click();
        await byTestId(page, "exchange-view").waitFor();
        assert.equal(await text(byTestId(page, "detail-target")), "/hello?x=1");

        await byTestId(page, "tab-environ").click();
        const cgi = byTestId(page, "environ-cgi");
        assert.match(await text(cgi.locator('tr[data-key="PATH_INFO"]')), /\/hello/);
        assert.match(await text(cgi.locator('tr[data-key="QUERY_STRING"]')), /x=1/);
        assert.match(await text(cgi.locator('tr[data-key="REQUEST_METHOD"]')), /GET/);
        assert.match(await text(byTestId(page, "environ-http")), /HTTP_HOST/);
        assert.match(await text(byTestId(page, "environ-wsgi")), /wsgi\.url_scheme\s*http/);
        assert.match(await text(byTestId(page, "environ-wsgi")), /wsgi\.input/);

        await byTestId(page, "tab-response").click();
        assert.equal(await text(byTestId(page, "start-response-status")), "200 OK");
        const headers = await text(byTestId(page, "start-response-headers"));
        assert.match(headers, /Content-Type\s*text\/html; charset=utf-8/);
        assert.match(headers, /X-Test\s*yes/);
        assert.match(
          await text(byTestId(page, "response-body").locator('[data-testid="body-text"]')),
          /<h1>Hello, \/hello<\/h1>/,
        );

        await byTestId(page, "response-mode-html").click();
        const frame = byTestId(page, "body-html");
        assert.equal(await frame.getAttribute("sandbox"), "", "the preview runs sandboxed");
        assert.match((await frame.getAttribute("srcdoc")) ?? "", /<h1>Hello/);
        assert.equal(
          await page.frameLocator('[data-testid="body-html"]').locator("h1").textContent(),
          "Hello, /hello",
        );

        await byTestId(page, "response-mode-hex").click();
        const first = await text(byTestId(page, "hex-line").first());
        assert.match(first, /^00000000\s*3c 21 64 6f 63/, "offset, then the bytes in hex");
        assert.match(first, /<!doctype/);
      });

      await t.step(
        "JSON, the request body as read, wsgi.errors and errors with stacks",
        async () => {
          await row(page, "/echo").click();
          await byTestId(page, "tab-response").click();
          const json = await text(byTestId(page, "body-json"));
          assert.match(json, /"got": "name=Ada"/, "pretty-printed JSON");
          await byTestId(page, "tab-request").click();
          assert.match(
            await text(byTestId(page, "request-body").locator('[data-testid="body-text"]')),
            /name=Ada/,
          );
          await byTestId(page, "tab-errors").click();
          assert.match(await text(byTestId(page, "errors-text")), /echo: read 8 bytes/);

          await row(page, "/boom").click();
          await until(
            async () => (await text(byTestId(page, "detail-target"))) === "/boom",
            "the failed exchange opens",
          );
          const item = byTestId(page, "error-item").first();
          assert.match(await text(item), /Boom from the test app/);
          assert.match(await text(item.locator("pre.stack")), /at /, "the stack is shown");
        },
      );

      await t.step(
        "the Request tab shows the body as sent, and which part the app read",
        async () => {
          assert.equal(
            (await get("/partial", { method: "POST", body: "first-then-the-rest" })).body,
            "first",
          );
          await row(page, "/partial").click();
          await until(
            async () => (await text(byTestId(page, "detail-target"))) === "/partial",
            "the partly read exchange opens",
          );
          await byTestId(page, "tab-request").click();
          // The rest is drained after the response; the open exchange shows it when it comes.
          await until(
            async () =>
              (await text(byTestId(page, "request-body").locator('[data-testid="body-text"]'))) ===
                "first-then-the-rest",
            "the whole body, as the client sent it",
          );
          assert.match(
            await text(byTestId(page, "request-read")),
            /The app read the first 5 B; the other 14 B were drained after the response\./,
          );
          await Deno.mkdir(ARTIFACTS, { recursive: true });
          await page.screenshot({ path: new URL("inspector-request.png", ARTIFACTS).pathname });
        },
      );

      await t.step("copy as curl gives a command that sends the request again", async () => {
        await row(page, "/echo").click();
        await byTestId(page, "copy-curl").click();
        const command = await text(byTestId(page, "curl-command"));
        // To the app's own URL (the page learns it from GET /api/server), never the Host's.
        assert.ok(
          command.startsWith(`curl -q -X POST ${server.url}/ --request-target /echo -H `),
          command,
        );
        assert.match(command, / -H 'content-type: text\/plain;charset=UTF-8'/);
        assert.match(command, /--data-raw name=Ada/);
      });

      await t.step("the stepper walks a streaming response chunk by chunk", async () => {
        assert.equal((await get("/stream")).body, CHUNKS.join(""));
        await row(page, "/stream").click();
        await byTestId(page, "tab-timeline").click();
        await until(
          async () => (await text(byTestId(page, "detail-target"))) === "/stream",
          "the streaming exchange opens",
        );
        await until(
          async () => (await byTestId(page, "step").count()) > 0,
          "the timeline is shown",
        );
        // Opened on its last step, with the whole body.
        const [last, count] = await position(page);
        assert.equal(last, count);
        await page.keyboard.press("Home");
        assert.deepEqual(await position(page), [1, count]);
        assert.equal(await byTestId(page, "step-change").getAttribute("data-type"), "request");
        assert.match(await text(byTestId(page, "state-status")), /not been called yet/);

        const seen: string[] = [];
        let chunks = 0;
        for (let i = 2; i <= count; i++) {
          // Alternate the arrow key and the button: both walk the same way.
          if (i % 2 === 0) await page.keyboard.press("ArrowRight");
          else await byTestId(page, "step-next").click();
          assert.deepEqual(await position(page), [i, count]);
          const type = (await byTestId(page, "step-change").getAttribute("data-type"))!;
          seen.push(type);
          assert.match(await text(byTestId(page, "step-time")), /^at \d+(\.\d+)? m?s$/);
          if (type === "start_response") {
            assert.match(await text(byTestId(page, "state-status-line")), /200 OK/);
          }
          if (type === "chunk") {
            chunks++;
            const soFar = CHUNKS.slice(0, chunks).join("");
            const body = byTestId(page, "state-body").locator('[data-testid="body-text"]');
            assert.equal(await text(body), soFar, `the body so far after chunk ${chunks}`);
            assert.match(
              await text(byTestId(page, "state-body-size")),
              new RegExp(`^${soFar.length} B, ${chunks} chunks?$`),
            );
            assert.match(await text(byTestId(page, "step-summary")), /chunk #\d+: \d+ B/);
          }
        }
        assert.equal(chunks, CHUNKS.length, "every chunk was a step");
        for (const type of ["environ", "call", "start_response", "headers_sent", "close", "end"]) {
          assert.ok(
            seen.includes(type),
            `the timeline has a ${type} step (saw ${seen.join(", ")})`,
          );
        }
        assert.ok(seen.indexOf("start_response") < seen.indexOf("chunk"));
        assert.equal(await byTestId(page, "step-next").isDisabled(), true);

        // Back one step with the arrow key and the button.
        await page.keyboard.press("ArrowLeft");
        assert.deepEqual(await position(page), [count - 1, count]);
        await byTestId(page, "step-prev").click();
        assert.deepEqual(await position(page), [count - 2, count]);

        // The hex dump marks where each chunk began.
        const secondChunk = await byTestId(page, "step").evaluateAll((items) =>
          items.findIndex((item, i) =>
            item.getAttribute("data-type") === "chunk" &&
            items.slice(0, i).filter((x) => x.getAttribute("data-type") === "chunk").length === 1
          )
        );
        await byTestId(page, "step").nth(secondChunk).click();
        await byTestId(page, "step-mode-hex").click();
        assert.equal(
          await byTestId(page, "step-body").locator('[data-testid="chunk-mark"]').count(),
          1,
          "after two chunks, one boundary inside the body",
        );
        await byTestId(page, "step-mode-text").click();
      });

      await t.step("screenshots (tests/artifacts/inspector.png, inspector-dark.png)", async () => {
        await Deno.mkdir(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: new URL("inspector.png", ARTIFACTS).pathname });
        await page.emulateMedia({ colorScheme: "dark" });
        await page.screenshot({ path: new URL("inspector-dark.png", ARTIFACTS).pathname });
        await page.emulateMedia({ colorScheme: "light" });
      });

      await t.step("an open exchange follows its stream live", async () => {
        const pending = get("/stream?delay=300");
        await row(page, "/stream?delay=300").click();
        await byTestId(page, "tab-timeline").click();
        await pending;
        await until(
          async () =>
            (await text(byTestId(page, "state-body").locator('[data-testid="body-text"]'))) ===
              CHUNKS.join("") &&
            (await byTestId(page, "step-change").getAttribute("data-type")) === "end",
          "the open exchange shows every chunk and its end",
        );
      });

      await t.step("arrow keys move through the list; the filter narrows it", async () => {
        await row(page, "/echo").click();
        await page.keyboard.press("ArrowDown");
        await until(
          async () => (await text(byTestId(page, "detail-target"))) === "/hello?x=1",
          "ArrowDown opens the next (older) exchange",
        );
        assert.equal(await row(page, "/hello?x=1").getAttribute("data-selected"), "true");
        await page.keyboard.press("ArrowUp");
        await until(
          async () => (await text(byTestId(page, "detail-target"))) === "/echo",
          "ArrowUp opens the previous (newer) exchange",
        );

        await byTestId(page, "filter").fill("POST");
        assert.equal(await byTestId(page, "exchange-row").count(), 2); // /echo and /partial
        await byTestId(page, "filter").fill("5xx");
        assert.equal(await text(byTestId(page, "row-target")), "/boom");
        await byTestId(page, "filter").fill("/stream -delay");
        assert.equal(await byTestId(page, "exchange-row").count(), 1);
        await byTestId(page, "filter").fill("");
        assert.equal(await byTestId(page, "exchange-row").count(), 6);
      });

      await t.step("replay sends the request again and opens the new exchange", async () => {
        await row(page, "/echo").click();
        const original = await byTestId(page, "exchange-view").getAttribute("data-id");
        await byTestId(page, "replay").click();
        await until(
          async () => (await byTestId(page, "exchange-view").getAttribute("data-id")) !== original,
          "the replay opens",
        );
        assert.equal(await text(byTestId(page, "detail-target")), "/echo");
        assert.match(await text(byTestId(page, "detail-status")), /201/);
        assert.equal(await text(byTestId(page, "replay-changes")), "Replayed exactly as recorded.");
        await byTestId(page, "tab-request").click();
        assert.match(
          await text(byTestId(page, "request-body").locator('[data-testid="body-text"]')),
          /name=Ada/,
        );
        await until(async () => (await row(page, "/echo").count()) === 2, "the replay is listed");
        await byTestId(page, "replay-of").click();
        await until(
          async () => (await byTestId(page, "exchange-view").getAttribute("data-id")) === original,
          "the replay links back to its original",
        );

        // Edited: another path.
        await byTestId(page, "replay-edit").click();
        await byTestId(page, "replay-target").fill("/hello?edited=1");
        await byTestId(page, "replay-method").fill("GET");
        await byTestId(page, "replay-body").fill("");
        await byTestId(page, "replay-send").click();
        await until(
          async () => (await text(byTestId(page, "detail-target"))) === "/hello?edited=1",
          "the edited replay opens",
        );
        // The server's list of what the replay changed, framing repairs included.
        assert.deepEqual(await byTestId(page, "replay-change").allTextContents(), [
          "method: POST → GET",
          "target: /echo → /hello?edited=1",
          "header content-length: 8 → 0",
          "body: 8 B → 0 B",
        ]);
        await Deno.mkdir(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: new URL("inspector-replay.png", ARTIFACTS).pathname });
      });

      await t.step("HAR export links to the side port's HAR", async () => {
        const href = await byTestId(page, "export-har").getAttribute("href");
        const response = await fetch(new URL(href!, url));
        const har = await response.json();
        assert.equal(har.log.version, "1.2");
        assert.ok(har.log.entries.length >= 6);
      });

      await t.step("thousands of exchanges: only the rows in view are rendered", async () => {
        const before = await byTestId(page, "exchange-row").count();
        const n = 1500;
        for (let i = 0; i < n; i += 50) {
          await Promise.all(
            Array.from({ length: Math.min(50, n - i) }, (_, j) => get(`/many?i=${i + j}`)),
          );
        }
        await until(
          async () => (await text(byTestId(page, "exchange-count"))).startsWith(`${n + before} `),
          `${n + before} exchanges are listed`,
          20_000,
        );
        const rendered = await byTestId(page, "exchange-row").count();
        assert.ok(rendered > 10 && rendered < 100, `rendered ${rendered} rows of ${n + before}`);
        // Scrolled to the bottom, the oldest exchange is there.
        await byTestId(page, "exchange-list").evaluate((el) => el.scrollTop = el.scrollHeight);
        await row(page, "/hello?x=1").waitFor();
        assert.ok((await byTestId(page, "exchange-row").count()) < 100);
        await byTestId(page, "filter").fill("i=1499");
        assert.equal(await byTestId(page, "exchange-row").count(), 1);
        await byTestId(page, "filter").fill("");
      });

      await t.step("clear empties the list", async () => {
        await byTestId(page, "clear").click();
        await byTestId(page, "list-empty").waitFor();
        assert.equal(await byTestId(page, "exchange-row").count(), 0);
        assert.equal((await get("/hello?after=clear")).status, 200);
        await row(page, "/hello?after=clear").waitFor();
      });

      assert.deepEqual(
        await page.evaluate(() =>
          (globalThis as unknown as { cspViolations: string[] }).cspViolations
        ),
        [],
        "nothing the page did broke its Content-Security-Policy",
      );
      assert.deepEqual(
        pageErrors,
        [],
        "the page logged no errors",
      );
    } finally {
      await browser?.close();
      await server.shutdown();
      await inspector.shutdown();
    }
  },
});
