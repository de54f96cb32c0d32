/**
 * The inspector page's newer views in headless Chromium, against the real
 * side port and a real app server (no mocks): search in bodies, the pending
 * timer, the event-stream and multipart views, a JSON request body, the
 * Errors badge, the hex dump at 1280 and 1920 px wide (its ASCII column
 * measured against its box), a client that went away, compare, export as a
 * test, and HAR import by dropping a file. Each view is saved as a
 * screenshot in `tests/artifacts/inspector-*.png` for a person to look at.
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
import { noise } from "./_inspector.ts";
import {
  type Browser,
  byTestId,
  cspViolations,
  launchChromium,
  requireChromium,
  row,
  screenshot,
  serveInspected,
  skipWithoutChromium,
  text,
  until,
  watchPage,
} from "./_chromium.ts";

const WHAT = "the inspector page's views test";
const skip = skipWithoutChromium(WHAT);
const encoder = new TextEncoder();
const BINARY = noise(200, 3);

const EVENTS = [
  ": keep-alive\n\n",
  "retry: 3000\nid: 1\nevent: greeting\ndata: hello\n\n",
  "data: line one\ndata: line two\n\n",
  'id: 2\nevent: update\ndata: {"n": 2}\n\n',
];

/** Holds `/gated` between its two chunks until the test opens it. */
let openGate: () => void = () => {};

const app: Application = async (environ, start_response) => {
  const path = environ.PATH_INFO;
  const query = new URLSearchParams(environ.QUERY_STRING);
  switch (path) {
    case "/slow": {
      await sleep(Number(query.get("ms") ?? 1500));
      start_response("200 OK", [["Content-Type", "text/plain"]]);
      return [encoder.encode("finally")];
    }
    case "/events":
      start_response("200 OK", [["Content-Type", "text/event-stream"], [
        "Cache-Control",
        "no-cache",
      ]]);
      return (async function* () {
        for (const event of EVENTS) {
          await sleep(10);
          yield encoder.encode(event);
        }
      })();
    case "/upload":
    case "/json": {
      const body = await environ["wsgi.input"].read();
      start_response("200 OK", [["Content-Type", "application/json"]]);
      return [encoder.encode(JSON.stringify({ received: body.length }))];
    }
    case "/bin":
      start_response("200 OK", [["Content-Type", "application/octet-stream"]]);
      return [BINARY];
    case "/logs":
      environ["wsgi.errors"].write("just a log line, not an error\n");
      start_response("200 OK", [["Content-Type", "text/plain"]]);
      return [encoder.encode("logged")];
    case "/boom":
      environ["wsgi.errors"].write("about to fail\n");
      throw new Error("Boom for the badge");
    case "/forever":
      start_response("200 OK", [["Content-Type", "text/plain"]]);
      return (async function* () {
        yield encoder.encode("first part\n");
        await sleep(1500);
        yield encoder.encode("nobody reads this\n");
      })();
    case "/gated": {
      const gate = new Promise<void>((resolve) => openGate = resolve);
      start_response("200 OK", [["Content-Type", "text/plain"]]);
      return (async function* () {
        yield encoder.encode("before the gate\n");
        await gate;
        yield encoder.encode("after the gate\n");
      })();
    }
    case "/page": {
      const v = query.get("v") ?? "1";
      start_response("200 OK", [["Content-Type", "text/plain; charset=utf-8"], ["X-Version", v]]);
      return [
        encoder.encode(`title\nversion ${v}\ncommon line\n${v === "2" ? "only in two\n" : ""}`),
      ];
    }
    default:
      start_response("200 OK", [["Content-Type", "text/plain"]]);
      return [encoder.encode(`plain ${path} needle-${query.get("n") ?? "none"}`)];
  }
};

/** The exchange view of `target` (clicked in the list, then waited for). */
async function open(page: Page, target: string): Promise<void> {
  await row(page, target).first().click();
  await until(
    async () => (await text(byTestId(page, "detail-target"))) === target,
    `${target} opens`,
  );
}

/** The right edges of the hex dump's box and of every rendered ASCII column, in px. */
function hexBoxes(page: Page, scope: string) {
  return page.locator(`${scope} [data-testid="hex-dump"]`).first().evaluate((dump) => {
    const box = dump.getBoundingClientRect();
    // The box's inner right edge: its left plus its client width (no scrollbar, no border).
    const inner = box.left + dump.clientLeft + dump.clientWidth;
    const ascii = [...dump.querySelectorAll('[data-testid="hex-ascii"]')].map((el) =>
      el.getBoundingClientRect().right
    );
    return {
      inner,
      ascii,
      scrolls: dump.scrollWidth > dump.clientWidth,
      perLine: Number(dump.parentElement?.getAttribute("data-bytes-per-line")),
    };
  });
}

Deno.test({
  name:
    "inspector page views in Chromium: search, pending timer, SSE, multipart, compare, export, HAR drop",
  ignore: skip,
  async fn(t) {
    requireChromium(WHAT);
    const { inspector, server, url } = await serveInspected(app);
    const get = async (path: string, init?: RequestInit) => {
      const response = await fetch(server.url + path, init);
      return { status: response.status, body: await response.text() };
    };
    let browser: Browser | undefined;
    try {
      browser = await launchChromium({ viewport: { width: 1440, height: 900 } });
      const page = browser.page;
      const { errors } = await watchPage(page);
      const streams: string[] = [];
      page.on("request", (request) => {
        const path = new URL(request.url()).pathname;
        if (path.endsWith("/stream")) streams.push(request.url());
      });
      await page.goto(url);
      await byTestId(page, "stream-status").and(page.locator('[data-status="live"]')).waitFor();

      await t.step(
        "search in bodies: body:word asks the side port, over every exchange",
        async () => {
          for (let n = 0; n < 4; n++) await get(`/plain/${n}?n=${n % 2 ? "odd" : "even"}`);
          await get("/json", {
            method: "POST",
            headers: { "content-type": "text/plain" },
            body: JSON.stringify({ secret: "Haystack-Needle", list: [1, 2, 3] }),
          });
          await row(page, "/json").waitFor();
          await byTestId(page, "filter").fill("body:needle-odd");
          await until(async () => (await byTestId(page, "exchange-row").count()) === 2, "two odd");
          // Case does not matter, and request bodies are searched too.
          await byTestId(page, "filter").fill('body:"haystack-NEEDLE"');
          await until(
            async () =>
              (await byTestId(page, "exchange-row").count()) === 1 &&
              (await row(page, "/json").count()) === 1,
            "the JSON request found by its body",
          );
          // With other words, and negated.
          await byTestId(page, "filter").fill("GET -body:needle-odd /plain");
          await until(async () => (await byTestId(page, "exchange-row").count()) === 2, "two even");
          assert.match(await text(byTestId(page, "search-state")), /bodies searched/);
          // A new exchange that matches shows up while the search is on.
          await get("/plain/new?n=even");
          await row(page, "/plain/new?n=even").waitFor();
          await screenshot(page, "inspector-search.png");
          await byTestId(page, "filter").fill("");
          await until(async () => (await byTestId(page, "exchange-row").count()) === 6, "all six");
        },
      );

      await t.step("a JSON request body opens as JSON, whatever its content type", async () => {
        await open(page, "/json");
        await byTestId(page, "tab-request").click();
        assert.equal(await byTestId(page, "request-body").getAttribute("data-mode"), "json");
        assert.match(await text(byTestId(page, "body-json")), /"secret": "Haystack-Needle"/);
      });

      await t.step("a pending exchange shows its elapsed time, live", async () => {
        const slow = get("/slow?ms=2500");
        await row(page, "/slow?ms=2500").waitFor();
        const elapsed = byTestId(row(page, "/slow?ms=2500"), "row-elapsed");
        const ms = async () => {
          const m = (await text(elapsed)).match(/^([\d.]+) (m?s)$/);
          assert.ok(m, `an elapsed time (got ${await text(elapsed)})`);
          return Number(m[1]) * (m[2] === "s" ? 1000 : 1);
        };
        const first = await ms();
        await sleep(600);
        const second = await ms();
        assert.ok(second > first + 300, `the timer runs (${first} then ${second})`);
        await open(page, "/slow?ms=2500");
        assert.match(await text(byTestId(page, "detail-elapsed")), /\d/);
        await screenshot(page, "inspector-pending.png");
        assert.equal((await slow).body, "finally");
        await until(
          async () => (await byTestId(row(page, "/slow?ms=2500"), "row-duration").count()) === 1,
          "the finished exchange shows its duration",
        );
        assert.match(await text(byTestId(row(page, "/slow?ms=2500"), "row-duration")), /[\d.]+ s/);
      });

      await t.step(
        "a pending exchange opened streams its own events live; the list has none",
        async () => {
          const gated = get("/gated");
          try {
            await row(page, "/gated").waitFor();
            await open(page, "/gated");
            await byTestId(page, "tab-timeline").click();
            const steps = byTestId(page, "step");
            const count = (type: string) =>
              page.locator(`[data-testid="step"][data-type="${type}"]`).count();
            await until(async () => (await count("chunk")) === 1, "the first chunk");
            assert.equal(await count("end"), 0, "still pending");
            assert.match(await text(byTestId(page, "detail-elapsed")), /\d/);
            const before = await steps.count();
            openGate();
            assert.equal((await gated).body, "before the gate\nafter the gate\n");
            await until(async () => (await count("end")) === 1, "the end, live");
            assert.equal(await count("chunk"), 2);
            assert.equal(await steps.count(), before + 3, "chunk, close and end appended");
          } finally {
            openGate();
            await gated;
          }
          const id = await page.evaluate(() => location.hash);
          // The list's stream carries no timeline events; the open pending exchange has its own.
          const list = streams.filter((u) => new URL(u).pathname === "/api/stream");
          assert.ok(list.length > 0, "the list's stream was opened");
          for (const u of list) {
            assert.equal(new URL(u).searchParams.get("events"), "none", u);
          }
          const own = streams.filter((u) =>
            /\/api\/exchanges\/[^/]+\/stream$/.test(new URL(u).pathname)
          );
          assert.ok(own.length >= 1, `the exchange's own stream (${streams.join(", ")}; ${id})`);
          // Complete exchanges opened before (/json) needed none: every own stream was a pending one's.
          assert.ok(
            own.length <= 2,
            `one own stream per pending exchange opened (${own.join(", ")})`,
          );
        },
      );

      await t.step("a text/event-stream response shows its parsed events", async () => {
        assert.equal((await get("/events")).body, EVENTS.join(""));
        await open(page, "/events");
        await byTestId(page, "tab-response").click();
        const panel = byTestId(page, "response-body");
        assert.equal(await panel.getAttribute("data-mode"), "events");
        assert.match(
          await text(byTestId(page, "sse-count")),
          /^3 events dispatched, 1 other block/,
        );
        const rows = byTestId(page, "sse-event");
        assert.equal(await rows.count(), 4);
        const cells = async (i: number) =>
          await Promise.all(
            ["sse-event-type", "sse-event-id", "sse-event-retry"].map((id) =>
              text(byTestId(rows.nth(i), id))
            ),
          );
        assert.deepEqual(await cells(1), ["greeting", "1", "3000"]);
        assert.deepEqual(await cells(2), ["message", "1 (last)", ""]);
        assert.equal(await text(byTestId(rows.nth(2), "sse-event-data")), "line one\nline two");
        assert.deepEqual(await cells(3), ["update", "2", ""]);
        assert.match(await text(rows.nth(0)), /: keep-alive/);
        // Each event says when its chunk came.
        assert.match(await text(rows.nth(3).locator("td").nth(1)), /\d+(\.\d+)? ms/);
        await screenshot(page, "inspector-sse.png");
      });

      await t.step("a multipart request shows its parts", async () => {
        const form = new FormData();
        form.append("title", "Grüße & more");
        form.append("photo", new Blob([BINARY], { type: "image/png" }), "tiny photo.png");
        form.append("notes", new Blob(["plain text\nfile"], { type: "text/plain" }), "notes.txt");
        assert.equal((await get("/upload", { method: "POST", body: form })).status, 200);
        await open(page, "/upload");
        await byTestId(page, "tab-request").click();
        const panel = byTestId(page, "request-body");
        assert.equal(await panel.getAttribute("data-mode"), "parts");
        assert.match(await text(byTestId(page, "parts-count")), /^3 parts · boundary/);
        const parts = byTestId(page, "part");
        assert.deepEqual(await byTestId(page, "part-name").allTextContents(), [
          "title",
          "photo",
          "notes",
        ]);
        assert.equal(await text(byTestId(parts.nth(0), "part-text")), "Grüße & more");
        assert.equal(await text(byTestId(parts.nth(1), "part-filename")), "file: tiny photo.png");
        assert.match(await text(byTestId(parts.nth(1), "part-size")), /200 B · image\/png/);
        assert.equal(await byTestId(parts.nth(1), "hex-dump").count(), 1, "binary as hex");
        assert.equal(await text(byTestId(parts.nth(2), "part-text")), "plain text\nfile");
        await screenshot(page, "inspector-multipart.png");
      });

      await t.step("the Errors badge counts exceptions, not wsgi.errors text", async () => {
        await get("/logs");
        await get("/boom");
        await open(page, "/logs");
        assert.equal(await byTestId(page, "tab-errors").locator(".count").count(), 0);
        await byTestId(page, "tab-errors").click();
        assert.match(await text(byTestId(page, "errors-text")), /just a log line/);
        await open(page, "/boom");
        assert.equal(await text(byTestId(page, "tab-errors").locator(".count")), "1");
      });

      await t.step("a client that went away is said, with how long the app went on", async () => {
        const controller = new AbortController();
        const response = await fetch(server.url + "/forever", { signal: controller.signal });
        const reader = response.body!.getReader();
        await reader.read();
        controller.abort();
        await reader.cancel().catch(() => {});
        await open(page, "/forever");
        await until(
          async () => /went on for/.test(await text(byTestId(page, "client-left"))),
          "the note on the client that left, once the app is done",
        );
        assert.match(
          await text(byTestId(page, "client-left")),
          /^The client went away at [\d.]+ m?s, while the response was being sent\. The app went on for [\d.]+ m?s after it/,
        );
        await byTestId(page, "tab-timeline").click();
        const types = await byTestId(page, "step").evaluateAll((items) =>
          items.map((item) => item.getAttribute("data-type"))
        );
        assert.ok(types.indexOf("abort") < types.lastIndexOf("chunk"), types.join(", "));
        await screenshot(page, "inspector-client-left.png");
      });

      for (const width of [1280, 1920]) {
        await t.step(`the hex dump's ASCII column is not cut off at ${width} px`, async () => {
          await page.setViewportSize({ width, height: 900 });
          await get("/bin");
          await open(page, "/bin");
          for (const where of ["response", "timeline"] as const) {
            await byTestId(page, `tab-${where}`).click();
            const scope = where === "response"
              ? '[data-testid="response-body"]'
              : '[data-testid="state-body"]';
            const name = where === "response" ? "response" : "step";
            if ((await byTestId(page, `${name}-body`).getAttribute("data-mode")) !== "hex") {
              await byTestId(page, `${name}-mode-hex`).click();
            }
            await page.locator(`${scope} [data-testid="hex-ascii"]`).first().waitFor();
            const boxes = await hexBoxes(page, scope);
            assert.ok(boxes.ascii.length > 0);
            for (const right of boxes.ascii) {
              assert.ok(
                right <= boxes.inner + 0.5,
                `${where} at ${width} px: an ASCII column ends at ${right}, past the box's ${boxes.inner} (${boxes.perLine} bytes a line)`,
              );
            }
            assert.equal(boxes.scrolls, false, `${where} at ${width} px: no sideways scrolling`);
            if (width === 1920) assert.equal(boxes.perLine, 16, "16 bytes a line where they fit");
            await screenshot(page, `inspector-hex-${where}-${width}.png`);
          }
        });
      }
      await page.setViewportSize({ width: 1440, height: 900 });

      await t.step("compare two exchanges side by side", async () => {
        await get("/page?v=1");
        await get("/page?v=2");
        await open(page, "/page?v=1");
        await byTestId(page, "compare").click();
        await byTestId(page, "compare-picking").waitFor();
        await row(page, "/page?v=2").click();
        await byTestId(page, "compare-view").waitFor();
        const changedNames = async (section: string) =>
          await byTestId(page, section).locator('[data-testid="diff-row"]').evaluateAll((rows) =>
            rows.map((r) => r.getAttribute("data-name"))
          );
        const environ = await changedNames("compare-environ");
        assert.ok(environ.includes("QUERY_STRING"), environ.join());
        assert.ok(environ.includes("REMOTE_PORT") || environ.length >= 1);
        assert.deepEqual(await changedNames("compare-response-headers"), ["x-version"]);
        assert.equal(
          await byTestId(page, "compare-request-body").getAttribute("data-kind"),
          "equal",
        );
        const body = byTestId(page, "compare-response-body");
        assert.equal(await body.getAttribute("data-kind"), "text");
        assert.deepEqual(await byTestId(body, "diff-removed").allTextContents(), ["− version 1\n"]);
        assert.deepEqual(await byTestId(body, "diff-added").allTextContents(), [
          "+ version 2\n",
          "+ only in two\n",
        ]);
        assert.equal(await byTestId(page, "compare-timeline").getAttribute("data-changed"), "0");
        await screenshot(page, "inspector-compare.png");
        await byTestId(page, "compare-swap").click();
        assert.deepEqual(await byTestId(body, "diff-added").allTextContents(), ["+ version 1\n"]);
        await byTestId(page, "compare-close").click();
        await byTestId(page, "exchange-view").waitFor();
      });

      await t.step("export as test downloads a deno test file of the exchange", async () => {
        await open(page, "/json");
        const [download] = await Promise.all([
          page.waitForEvent("download"),
          byTestId(page, "export-test").click(),
        ]);
        assert.match(download.suggestedFilename(), /^exchange_\d+_test\.ts$/);
        const path = await download.path();
        const file = await Deno.readTextFile(path);
        assert.match(file, /^\/\/ A test of exchange #\d+ recorded by the wsgi-deno inspector/);
        assert.match(file, /method: "POST",/);
        assert.match(file, /assert\.equal\(response\.status, 200\);/);
        assert.match(file, /assert\.equal\(await response\.text\(\), "\{\\"received\\":\d+\}"\);/);
        await screenshot(page, "inspector-export-test.png");
      });

      await t.step("a HAR file dropped on the page is imported, to view and replay", async () => {
        const har = await (await fetch(new URL("/api/har", url))).text();
        await byTestId(page, "clear").click();
        await byTestId(page, "list-empty").waitFor();
        // A real drag of a file: a DataTransfer holding it, over the page, then dropped.
        const transfer = await page.evaluateHandle((content) => {
          const data = new DataTransfer();
          data.items.add(new File([content], "session.har", { type: "application/json" }));
          return data;
        }, har);
        await page.dispatchEvent(".app", "dragenter", { dataTransfer: transfer });
        await page.dispatchEvent(".app", "dragover", { dataTransfer: transfer });
        await byTestId(page, "drop-zone").waitFor();
        await screenshot(page, "inspector-har-drop.png");
        await page.dispatchEvent(".app", "drop", { dataTransfer: transfer });
        await until(
          async () =>
            /^Imported \d+ exchanges from session\.har/.test(
              await text(byTestId(page, "import-result")),
            ),
          "the import is reported",
        );
        assert.equal(await byTestId(page, "drop-zone").count(), 0);
        const count = JSON.parse(har).log.entries.length;
        assert.match(
          await text(byTestId(page, "import-result")),
          new RegExp(`^Imported ${count} `),
        );
        await until(
          async () => (await byTestId(page, "row-imported").count()) > 0,
          "imported rows are marked",
        );
        // The newest imported exchange opens, marked, with its body as recorded.
        await byTestId(page, "imported").waitFor();
        await open(page, "/page?v=2");
        await byTestId(page, "tab-response").click();
        assert.match(await text(byTestId(page, "response-body")), /only in two/);
        await screenshot(page, "inspector-har-imported.png");
        // And it replays through the app.
        await byTestId(page, "replay").click();
        await until(
          async () =>
            (await text(byTestId(page, "replay-changes"))) === "Replayed exactly as recorded.",
          "the imported exchange replays",
        );
      });

      assert.deepEqual(await cspViolations(page), [], "nothing broke the page's CSP");
      assert.deepEqual(errors, [], "the page logged no errors");
    } finally {
      await browser?.close();
      await server.shutdown();
      await inspector.shutdown();
    }
  },
});
