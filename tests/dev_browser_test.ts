/**
 * The dev loop in headless Chromium (Debian's `/usr/bin/chromium`, driven by
 * `npm:playwright-core`), through the real CLI on an app in a temporary
 * folder: the inspector's reload divider between generations, its banner
 * while the module cannot be served, and the error pages a browser gets (the
 * load error's code frame with its caret, the debug page of a runtime error).
 * Screenshots go to `tests/artifacts/dev-*.png` for a person to look at.
 *
 * Without Chromium the test is skipped with a warning, except on CI
 * (`CI=true`), where it fails.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  ARTIFACTS,
  type Browser,
  launchChromium,
  requireChromium,
  skipWithoutChromium,
} from "./_chromium.ts";
import { eventually, get, helloApp, startDev } from "./_dev.ts";

const WHAT = "the dev loop's browser test";
const skip = skipWithoutChromium(WHAT);

const BROKEN =
  `export const application = (_e: unknown, start_response: (s: string, h: [string, string][]) => void) => {
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode("hello" +)];
};
`;

const REJECTING =
  `export const application = (environ: Record<string, unknown>, start_response: (s: string, h: [string, string][]) => void) => {
  if (environ.PATH_INFO === "/later") setTimeout(() => { Promise.reject(new Error("lost in a timer")); }, 10);
  start_response("200 OK", [["Content-Type", "text/plain"]]);
  return [new TextEncoder().encode("ok")];
};
`;

const FAILING = `function findUser(id: string): never {
  throw new Error("no user " + id);
}

export const application = (_environ: unknown, _start_response: unknown) => {
  return findUser("42");
};
`;

Deno.test({
  name:
    "dev loop in Chromium: reload divider, broken-module banner, error page code frame, debug page",
  ignore: skip,
  async fn(t) {
    requireChromium(WHAT);
    await Deno.mkdir(ARTIFACTS, { recursive: true });
    const dev = await startDev({ "app.ts": helloApp("first version") });
    let browser: Browser | undefined;
    try {
      for (const path of ["/", "/about", "/items?page=2"]) await get(dev.url + path);
      await dev.write("app.ts", helloApp("second version"));
      await eventually(async () => (await get(dev.url)).text === "second version", "the reload");
      for (const path of ["/", "/items?page=3"]) await get(dev.url + path);
      browser = await launchChromium({ viewport: { width: 1280, height: 720 } });
      const { context, page } = browser;
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));

      await t.step("the list shows a divider where the app was reloaded", async () => {
        await page.goto(dev.inspector + "/");
        const divider = page.getByTestId("reload-divider");
        await divider.first().waitFor({ timeout: 15_000 });
        assert.equal(await divider.count(), 1);
        assert.match(
          await divider.first().textContent() ?? "",
          /reloaded \(app\.ts changed\) · generation 2/,
        );
        await page.screenshot({ path: new URL("dev-reload-divider.png", ARTIFACTS).pathname });
      });

      await t.step("a broken module: the banner in the inspector, live", async () => {
        await dev.write("app.ts", BROKEN);
        const banner = page.getByTestId("load-error-banner");
        await banner.waitFor({ timeout: 15_000 });
        const text = await banner.textContent() ?? "";
        assert.match(text, /Cannot serve app\.ts \(syntax error\)/);
        assert.match(text, /app\.ts:3:\d+/);
        assert.match(await page.getByTestId("banner-frame").textContent() ?? "", /\^/);
        await page.screenshot({ path: new URL("dev-load-error-banner.png", ARTIFACTS).pathname });
      });

      await t.step("the browser gets the error page with the code frame and a caret", async () => {
        const app = await context.newPage();
        const response = await app.goto(dev.url + "/");
        assert.equal(response?.status(), 500);
        const frame = app.getByTestId("code-frame");
        await frame.waitFor();
        assert.match(
          await frame.textContent() ?? "",
          /return \[new TextEncoder\(\)\.encode\("hello" \+\)\];/,
        );
        assert.match(await app.locator(".caret").textContent() ?? "", /\^/);
        assert.match(await app.getByTestId("location").textContent() ?? "", /app\.ts:3:\d+/);
        await app.screenshot({ path: new URL("dev-error-page.png", ARTIFACTS).pathname });
        await app.close();
      });

      await t.step(
        "fixed: the banner goes; a fault no exchange caught shows as a server event",
        async () => {
          await dev.write("app.ts", REJECTING);
          await page.getByTestId("load-error-banner").waitFor({
            state: "detached",
            timeout: 15_000,
          });
          await eventually(
            async () => (await get(dev.url + "/later")).text === "ok",
            "the fixed app",
          );
          const faults = page.getByTestId("server-faults");
          await faults.waitFor({ timeout: 15_000 });
          assert.match(
            await faults.textContent() ?? "",
            /Unhandled promise rejection: Error: lost in a timer/,
          );
          await faults.locator("summary").click();
          assert.match(
            await page.getByTestId("fault-stack").first().textContent() ?? "",
            /app\.ts:2:/,
          );
          await page.screenshot({ path: new URL("dev-server-fault.png", ARTIFACTS).pathname });
          await page.getByTestId("dismiss-faults").click();
          await faults.waitFor({ state: "detached" });
        },
      );

      await t.step("a runtime error is the debug page", async () => {
        await dev.write("app.ts", FAILING);
        const app = await context.newPage();
        await eventually(async () => {
          // A kept-alive connection to the process the reload retires may be closed under the
          // request (README: clients reconnect): that is one more try, not a failure.
          const response = await app.goto(dev.url + "/").catch(() => null);
          return response?.status() === 500 &&
            (await app.getByTestId("debug-error").count()) === 1;
        }, "the debug page");
        assert.match(
          await app.getByTestId("app-frame").first().textContent() ?? "",
          /findUser — app\.ts:2:9/,
        );
        await app.screenshot({
          path: new URL("dev-debug-page.png", ARTIFACTS).pathname,
          fullPage: true,
        });
        // Its link opens the exchange in the inspector.
        const href = await app.getByTestId("inspector-link").getAttribute("href");
        assert.match(href ?? "", /#ref=\d+\.\d+\.\d+$/);
        await app.goto(href!);
        await app.locator('[data-testid="exchange-row"][data-selected="true"]').waitFor({
          timeout: 15_000,
        });
        await app.close();
      });
      assert.deepEqual(errors, []);
    } finally {
      await browser?.close();
      await dev.cleanup();
    }
  },
});
