/**
 * Headless Chromium for the browser tests: Debian's `/usr/bin/chromium` (or
 * `CHROMIUM_PATH`), driven by `npm:playwright-core`, never a browser a tool
 * downloads. One place says whether it is there, skips a browser test loudly
 * when it is not (and fails it on CI, `CI=true`), launches it in a throwaway
 * profile, and holds the small helpers the page tests share.
 *
 * @module
 */

import { type BrowserContext, chromium, type Locator, type Page } from "playwright-core";
import type { Application } from "../mod.ts";
import { serve, type Server } from "../server/serve.ts";
import { createInspector, type Inspector, type InspectorOptions } from "../inspector/mod.ts";
import { MemorySink, sleep } from "./_helpers.ts";

/** The Chromium the tests drive. */
export const CHROMIUM = Deno.env.get("CHROMIUM_PATH") ?? "/usr/bin/chromium";

/** Flags for a quiet headless run that reaches nothing outside the machine. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** Where browser tests save screenshots for a person to look at. */
export const ARTIFACTS = new URL("./artifacts/", import.meta.url);

/** Why Chromium cannot run here, or undefined when it can. */
export const chromiumMissing: string | undefined = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile ? undefined : `${CHROMIUM} is not a file`;
  } catch {
    return `${CHROMIUM} does not exist`;
  }
})();

/** Whether this run is CI's (`CI=true`), where a missing Chromium fails instead of skipping. */
export const onCi = Deno.env.get("CI") === "true";

/**
 * The `ignore` value of a browser test named `what`: true (with a loud
 * warning) when Chromium is missing off CI. On CI the test runs and
 * {@linkcode requireChromium} fails it.
 */
export function skipWithoutChromium(what: string): boolean {
  if (chromiumMissing === undefined || onCi) return false;
  console.warn(
    `\n!!! SKIPPING ${what}: Chromium not found (${chromiumMissing}).\n` +
      `!!! Install it (apt-get install chromium) or set CHROMIUM_PATH. On CI (CI=true) this fails.\n`,
  );
  return true;
}

/** Throws when Chromium is missing (a browser test on CI). */
export function requireChromium(what: string): void {
  if (chromiumMissing !== undefined) {
    throw new Error(
      `Chromium is required on CI for ${what}: ${chromiumMissing}; install it (apt-get install chromium)`,
    );
  }
}

/** A launched browser: its context, its first page, and the way to close both. */
export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Closes the browser and removes its profile folder. */
  close(): Promise<void>;
}

/** Options of {@linkcode launchChromium}. */
export interface LaunchOptions {
  viewport?: { width: number; height: number };
  colorScheme?: "light" | "dark";
  /** Lets the page save downloads (read them with `page.waitForEvent("download")`). */
  acceptDownloads?: boolean;
}

/** Launches headless Chromium in a fresh profile. */
export async function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  const userDataDir = await Deno.makeTempDir({ prefix: "inspector-chromium-" });
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: options.viewport ?? { width: 1440, height: 900 },
      colorScheme: options.colorScheme ?? "light",
      acceptDownloads: options.acceptDownloads ?? true,
    });
  } catch (error) {
    await Deno.remove(userDataDir, { recursive: true }).catch(() => {});
    throw error;
  }
  const page = context.pages()[0] ?? await context.newPage();
  page.setDefaultTimeout(10_000);
  return {
    context,
    page,
    async close() {
      await context.close().catch(() => {});
      await Deno.remove(userDataDir, { recursive: true }).catch(() => {});
    },
  };
}

/** Saves a screenshot of the page as `tests/artifacts/NAME`; returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  const path = new URL(name, ARTIFACTS).pathname;
  await page.screenshot({ path });
  return path;
}

/** Polls `check` until it returns true, or fails saying what it waited for. */
export async function until(
  check: () => Promise<boolean>,
  what: string,
  timeout = 10_000,
): Promise<void> {
  const end = Date.now() + timeout;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`Timed out waiting until ${what}`);
    await sleep(25);
  }
}

/** The element(s) with `data-testid="ID"` under `scope`. */
export const byTestId = (scope: Page | Locator, id: string): Locator =>
  scope.locator(`[data-testid="${id}"]`);

/** A locator's text content ("" for none). */
export async function text(locator: Locator): Promise<string> {
  return (await locator.textContent()) ?? "";
}

const escapeRe = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/** The inspector's list row whose path and query is exactly `target` (a replay's `↻` aside). */
export function row(page: Page, target: string): Locator {
  return byTestId(page, "exchange-row").filter({
    has: page.locator(`[data-testid="row-target"]`, {
      hasText: new RegExp(`^[↻⤓]*${escapeRe(target)}$`),
    }),
  });
}

/**
 * Records every Content-Security-Policy violation of the page in
 * `globalThis.cspViolations`, however the page would hide it (call before
 * `goto`), and collects the page's errors and console errors.
 */
export async function watchPage(page: Page): Promise<{ errors: string[] }> {
  const errors: string[] = [];
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  await page.addInitScript(() => {
    const seen: string[] = [];
    (globalThis as unknown as { cspViolations: string[] }).cspViolations = seen;
    document.addEventListener("securitypolicyviolation", (e) => {
      seen.push(`${e.effectiveDirective} ${e.blockedURI}`);
    });
  });
  return { errors };
}

/** The CSP violations {@linkcode watchPage} saw so far. */
export async function cspViolations(page: Page): Promise<string[]> {
  return await page.evaluate(() =>
    (globalThis as unknown as { cspViolations: string[] }).cspViolations
  );
}

/** An app served on a free port with an inspector recording it, and the inspector's page. */
export interface Inspected {
  inspector: Inspector;
  server: Server;
  /** The inspector's page. */
  url: string;
  /** Where the app's diagnostics went. */
  sink: MemorySink;
}

/**
 * Serves `app` on 127.0.0.1 on a free port, quietly, recorded by a new
 * inspector (`options`) listening on a free port of its own. The caller
 * shuts both down.
 */
export async function serveInspected(
  app: Application,
  options: InspectorOptions = {},
): Promise<Inspected> {
  const inspector = createInspector({ port: 0, ...options });
  const sink = new MemorySink();
  const server = serve(app, { port: 0, log: false, errors: sink, recorder: inspector.recorder });
  const { url } = await inspector.listen(server.url);
  return { inspector, server, url, sink };
}
