/**
 * Token mode: the inspector's access token never lands in what it records
 * and exports. In Chromium, through the real page: the page keeps the token
 * out of cookies (so the browser never sends it to the app's port) and
 * sends it as a header, the live stream included. Over HTTP: a token that
 * reaches the app anyway is redacted from every record, while the app still
 * gets its request unchanged; under the CLI's supervisor too, where no app
 * process is given the token and the error pages link to the inspector
 * without it.
 *
 * Without Chromium the browser test is skipped with a warning, except on CI
 * (`CI=true`), where it fails.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Application } from "../mod.ts";
import { createInspector } from "../inspector/mod.ts";
import type { ExchangeDetail, ExchangeList } from "../inspector/protocol.ts";
import { REDACTED } from "../inspector/redact.ts";
import { curlCommand } from "../inspector/ui/curl.ts";
import { openExchange } from "../inspector/ui/open_exchange.ts";
import { serve } from "../server/serve.ts";
import { MemorySink } from "./_helpers.ts";
import {
  ARTIFACTS,
  type Browser,
  byTestId,
  launchChromium,
  requireChromium,
  skipWithoutChromium,
  until,
  watchPage,
} from "./_chromium.ts";
import { environOf, stateOf, withInspector } from "./_inspector.ts";
import { eventually, get, helloApp, pidsWith } from "./_dev.ts";
import { Supervisor } from "../server/dev/supervisor.ts";

const WHAT = "the token-mode browser test";
const skip = skipWithoutChromium(WHAT);

const encoder = new TextEncoder();

/** Answers what it got: method, path, query, the Cookie and Authorization headers, the body. */
const echoHeaders: Application = async (environ, start_response) => {
  const body = new TextDecoder().decode(await environ["wsgi.input"].read());
  start_response("200 OK", [["Content-Type", "text/plain; charset=utf-8"]]);
  return [
    encoder.encode(
      [
        `${environ.REQUEST_METHOD} ${environ.PATH_INFO}?${environ.QUERY_STRING}`,
        `cookie: ${environ.HTTP_COOKIE ?? ""}`,
        `authorization: ${environ.HTTP_AUTHORIZATION ?? ""}`,
        `body: ${body}`,
      ].join("\n"),
    ),
  ];
};

const count = (text: string, token: string) => text.split(token).length - 1;

/** Every text the inspector offers about its exchanges: details, both HAR exports, curl. */
async function everything(origin: string, token: string): Promise<Record<string, string>> {
  const headers = { authorization: `Bearer ${token}` };
  const get = async (path: string) => {
    const response = await fetch(`${origin}${path}`, { headers });
    assert.equal(response.status, 200, path);
    return await response.text();
  };
  const list = JSON.parse(await get("/api/exchanges")) as ExchangeList;
  const out: Record<string, string> = {
    list: JSON.stringify(list),
    "/api/har": await get("/api/har"),
  };
  for (const { id } of list.exchanges) {
    const detail = await get(`/api/exchanges/${id}`);
    out[`/api/exchanges/${id}`] = detail;
    out[`/api/exchanges/${id}/har`] = await get(`/api/exchanges/${id}/har`);
    const open = openExchange(JSON.parse(detail) as ExchangeDetail);
    out[`curl of ${id}`] = curlCommand({
      state: open.state,
      body: open.request.bytes(),
      appUrl: "http://127.0.0.1:8000",
    });
  }
  return out;
}

Deno.test("token mode: a token that reaches the app is redacted from every record, not from the app", async () => {
  // What the app saw, kept here: its answer must not echo the token (that would be the app's doing).
  const seen: string[] = [];
  const keep: Application = async (environ, start_response) => {
    const body = new TextDecoder().decode(await environ["wsgi.input"].read());
    seen.push(
      `${environ.QUERY_STRING} ${environ.HTTP_COOKIE} ${environ.HTTP_AUTHORIZATION} ${environ.HTTP_X_COPIED} ${body}`,
    );
    start_response("204 No Content", []);
    return [];
  };
  await withInspector(keep, async ({ app, origin, inspector }) => {
    const token = inspector.token!;
    const response = await fetch(`${app.url}/pasted?token=${token}&x=1`, {
      method: "POST",
      headers: {
        cookie: `wsgi_inspector_8001=${token}; theme=dark`,
        authorization: `Bearer ${token}`,
        "x-copied": `a ${token} b ${token}`,
      },
      body: "plain body",
    });
    await response.body?.cancel();
    assert.equal(seen.length, 1);
    assert.equal(count(seen[0]!, token), 5, "the app got its request unchanged");
    const texts = await everything(origin, token);
    assert.ok(Object.keys(texts).length >= 5);
    for (const [what, text] of Object.entries(texts)) {
      assert.equal(count(text, token), 0, `the token in ${what}`);
    }
    const detail = JSON.parse(texts["/api/exchanges/1"]!) as ExchangeDetail;
    assert.equal(detail.target, `/pasted?token=${REDACTED}&x=1`);
    assert.equal(environOf(detail).HTTP_COOKIE, `wsgi_inspector_8001=${REDACTED}; theme=dark`);
    assert.equal(environOf(detail).QUERY_STRING, `token=${REDACTED}&x=1`);
    assert.deepEqual(
      stateOf(detail).request!.headers.find(([name]) => name === "x-copied"),
      ["x-copied", `a ${REDACTED} b ${REDACTED}`],
    );
  }, { token: true });
  // Without a token, the store itself records: nothing is in the way of the hot path.
  const plain = createInspector({ port: 0 });
  assert.equal(plain.recorder, plain.store);
});

Deno.test({
  name: "token mode in Chromium: the page sends its token as a header, never to the app's port",
  ignore: skip,
  async fn(t) {
    requireChromium(WHAT);
    const inspector = createInspector({ port: 0, token: true });
    const server = serve(echoHeaders, {
      port: 0,
      log: false,
      errors: new MemorySink(),
      recorder: inspector.recorder,
    });
    const { url } = await inspector.listen(server.url);
    const token = inspector.token!;
    const origin = new URL(url).origin;
    let browser: Browser | undefined;
    try {
      browser = await launchChromium({ viewport: { width: 1280, height: 800 } });
      const { context, page } = browser;
      const { errors: pageErrors } = await watchPage(page);

      await t.step("logging in through the page shows the live list", async () => {
        await page.goto(url);
        await byTestId(page, "stream-status").and(page.locator('[data-status="live"]')).waitFor();
        await byTestId(page, "list-empty").waitFor();
      });

      const echoed: string[] = [];
      await t.step("requests to the app from the same browser appear live", async () => {
        const appPage = await context.newPage();
        await appPage.goto(`${server.url}/visit?x=1`);
        echoed.push((await appPage.locator("body").textContent()) ?? "");
        echoed.push(
          await appPage.evaluate(async () => {
            const response = await fetch("/xhr", {
              method: "POST",
              body: "hello",
              credentials: "include",
            });
            return await response.text();
          }),
        );
        await appPage.close();
        // The page shows them live: its stream runs on fetch with the header.
        for (const target of ["/visit?x=1", "/xhr"]) {
          await byTestId(page, "row-target").filter({ hasText: target }).first().waitFor();
        }
      });

      await t.step("no detail, HAR export or curl text holds the token", async () => {
        const texts = await everything(origin, token);
        assert.ok(Object.keys(texts).length >= 2 + 2 * 3, Object.keys(texts).join(", "));
        for (const [what, text] of Object.entries(texts)) {
          assert.equal(count(text, token), 0, `the token in ${what}`);
        }
        // Through the page: copy as curl of each exchange, and both HAR downloads.
        const rows = byTestId(page, "exchange-row");
        // The two requests, and the favicon Chromium asked the app for.
        const n = await rows.count();
        assert.ok(n >= 2, `${n} rows`);
        for (let i = 0; i < n; i++) {
          await rows.nth(i).click();
          await byTestId(page, "copy-curl").click();
          const curl = (await byTestId(page, "curl-command").textContent()) ?? "";
          assert.match(curl, /^curl /);
          assert.equal(count(curl, token), 0, `the token in the page's curl ${i}`);
        }
        for (const id of ["export-har", "exchange-har"]) {
          const [download] = await Promise.all([
            page.waitForEvent("download"),
            byTestId(page, id).click(),
          ]);
          const har = await Deno.readTextFile((await download.path())!);
          assert.equal(JSON.parse(har).log.version, "1.2", id);
          assert.ok(JSON.parse(har).log.entries.length >= 1, id);
          assert.equal(count(har, token), 0, `the token in the page's ${id} download`);
        }
      });

      await t.step(
        "the token is in no cookie and no address, and the app never saw it",
        async () => {
          assert.equal(page.url(), `${origin}/`, "the token left the address bar");
          assert.deepEqual(await context.cookies(), [], "no cookie at all");
          assert.equal(
            await page.evaluate(() => sessionStorage.getItem("wsgi-inspector-token")),
            token,
          );
          assert.match(echoed[0]!, /^GET \/visit\?x=1\ncookie: \nauthorization: \nbody: $/);
          assert.match(echoed[1]!, /^POST \/xhr\?\ncookie: \nauthorization: \nbody: hello$/);
          // The inspector's own page cannot reach the app at all: its CSP allows only its origin.
          const blocked = await page.evaluate(async (appUrl) => {
            try {
              await fetch(`${appUrl}/from-inspector`, { mode: "no-cors" });
              return "sent";
            } catch {
              return "blocked";
            }
          }, server.url);
          assert.equal(blocked, "blocked");
          // A reload keeps working: the token comes from sessionStorage.
          await page.reload();
          await byTestId(page, "stream-status").and(page.locator('[data-status="live"]')).waitFor();
        },
      );

      await t.step("replay and clear work with the header", async () => {
        const n = await byTestId(page, "exchange-row").count();
        await byTestId(page, "exchange-row").last().click();
        await byTestId(page, "replay").click();
        await byTestId(page, "replay-changes").waitFor();
        await until(
          async () => (await byTestId(page, "exchange-row").count()) === n + 1,
          "the replay is listed",
        );
        await Deno.mkdir(ARTIFACTS, { recursive: true });
        await page.screenshot({ path: new URL("inspector-token.png", ARTIFACTS).pathname });
        await byTestId(page, "clear").click();
        await byTestId(page, "list-empty").waitFor();
      });

      await t.step("a new tab without the token is refused, and says why", async () => {
        const other = await context.newPage();
        await other.goto(`${origin}/`);
        await other.locator(".note.warn").filter({ hasText: /access token/ }).first().waitFor();
        await other.close();
      });

      assert.deepEqual(
        pageErrors.filter((e) => !/\/from-inspector/.test(e)),
        [],
        "the page logged no errors but the CSP refusal this test asked for",
      );
    } finally {
      await browser?.close();
      await server.shutdown();
      await inspector.shutdown();
    }
  },
});

Deno.test("under the CLI's supervisor in token mode: no app process gets the token, records hide it, the load error page does not show it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wsgi-token-dev-" });
  await Deno.writeTextFile(`${dir}/app.ts`, helloApp("hi"));
  const inspector = createInspector({ port: 0, token: true });
  const token = inspector.token!;
  const supervisor = new Supervisor({
    module: `file://${dir}/app.ts`,
    shown: "app.ts",
    hostname: "127.0.0.1",
    port: 0,
    reload: true,
    timeout: 30,
    workers: 1,
    log: false,
    inspector,
    print: () => {},
    printError: () => {},
  });
  try {
    await supervisor.start();
    assert.match(supervisor.inspectorUrl!, new RegExp(`\\?token=${token}$`));
    assert.deepEqual(pidsWith(token), [], "no process's command line carries the token");
    const answer = await get(`${supervisor.url}/?t=${token}`, { headers: { "x-t": `a ${token}` } });
    assert.equal(answer.text, "hi");
    await eventually(
      () => inspector.store.get("1")?.detail().state === "complete",
      "the exchange recorded",
    );
    const detail = inspector.store.get("1")!.detail();
    assert.ok(!JSON.stringify(detail).includes(token), JSON.stringify(detail));
    assert.equal(detail.target, `/?t=${REDACTED}`);
    assert.equal(environOf(detail).HTTP_X_T, `a ${REDACTED}`);
    // A broken module is served as an error page to any client: it links to the inspector, bare.
    await Deno.writeTextFile(`${dir}/app.ts`, "export const application = (;\n");
    await eventually(
      async () => (await get(supervisor.url, { headers: { accept: "text/html" } })).status === 500,
      "the load error page",
    );
    const page = (await get(supervisor.url, { headers: { accept: "text/html" } })).text;
    assert.match(page, /The inspector: <a href="http:\/\/127\.0\.0\.1:\d+\/">/);
    assert.ok(!page.includes(token), page);
  } finally {
    await supervisor.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
