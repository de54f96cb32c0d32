/**
 * The Deno side of the inspector's page: {@linkcode bundleUi} bundles the
 * TSX under `inspector/ui/` (entry `main.tsx`) into one browser script, and
 * {@linkcode pageHtml} is the HTML shell that loads it. The side port serves
 * them at `GET /app.js` and `GET /`.
 *
 * How: the stable `deno bundle` subcommand of the running Deno
 * (`Deno.execPath()`), with this repository's `deno.json` for the import map
 * (`preact` from npm) and the JSX settings. In-process `Deno.bundle()` would
 * need `--unstable-bundle` from every user, so it is not used. Nothing is
 * written to disk and there is no build step to forget.
 *
 * Why it is never stale: the bundle is made from the sources as they are when
 * it is asked for, and kept only under a fingerprint of those sources (path,
 * size and modification time of every file under `inspector/ui/`, plus
 * `protocol.ts`, `timeline.ts` and `deno.json`). Each call re-checks the fingerprint (a few
 * `stat`s) and bundles again when any file changed, so serving the result of
 * `bundleUi()` on every request always serves the current source.
 *
 * Needs `--allow-run` (to run `deno bundle`) and `--allow-read`; the first
 * bundle on a new machine fetches esbuild from the npm registry into Deno's
 * cache.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { STYLES } from "./styles.ts";

const UI_DIR = new URL("../ui/", import.meta.url);

/** What a bundler builds, and which sources decide whether its last bundle is current. */
export interface BundlerOptions {
  /** The entry module (TSX or TS). */
  entry: URL;
  /** The `deno.json` with the import map and JSX settings; discovered from the entry if absent. */
  config?: URL;
  /** Files, and folders (URLs ending in `/`, walked for `.ts`, `.tsx`, `.json`), to fingerprint. */
  sources: URL[];
}

async function stamp(url: URL): Promise<string> {
  try {
    const info = await Deno.stat(url);
    return `${url.pathname}:${info.size}:${info.mtime?.getTime() ?? 0}`;
  } catch {
    return `${url.pathname}:missing`;
  }
}

/** A fingerprint of every source: path, size and modification time of each file. */
async function fingerprint(sources: URL[]): Promise<string> {
  if (sources.some((url) => url.protocol !== "file:")) return "remote"; // from a registry: immutable
  const stamps: Promise<string>[] = [];
  const walk = async (dir: URL) => {
    for await (const entry of Deno.readDir(dir)) {
      const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
      if (entry.isDirectory) await walk(url);
      else if (/\.(ts|tsx|json)$/.test(entry.name)) stamps.push(stamp(url));
    }
  };
  for (const url of sources) {
    if (url.pathname.endsWith("/")) await walk(url);
    else stamps.push(stamp(url));
  }
  return (await Promise.all(stamps)).sort().join("\n");
}

async function runBundler(entry: URL, config: URL | undefined): Promise<string> {
  const local = entry.protocol === "file:";
  const args = ["bundle", "--quiet", "--platform=browser", "--format=esm"];
  if (config) args.push(`--config=${config.protocol === "file:" ? fileURLToPath(config) : config}`);
  args.push(local ? fileURLToPath(entry) : entry.href);
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command(Deno.execPath(), {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).output();
  } catch (error) {
    throw new Error(
      `Cannot bundle the inspector's UI: running "deno bundle" failed (${
        (error as Error).message
      }); run with -A, or at least --allow-run and --allow-read`,
      { cause: error },
    );
  }
  const stderr = new TextDecoder().decode(output.stderr).trim();
  if (!output.success) {
    throw new Error(`Cannot bundle the inspector's UI: deno bundle failed\n${stderr}`);
  }
  const js = new TextDecoder().decode(output.stdout);
  if (js.trim() === "") {
    throw new Error(`Cannot bundle the inspector's UI: deno bundle printed nothing\n${stderr}`);
  }
  return js;
}

/**
 * Creates a bundler: a function that returns the bundle of `entry` as its
 * sources are now. It keeps its last bundle under the sources' fingerprint,
 * re-checks the fingerprint on every call, and bundles again when any source
 * changed; concurrent callers share one run, and a failure is not kept.
 *
 * @example
 * ```ts ignore
 * import { createBundler } from "./bundle.ts";
 * const entry = new URL("../ui/main.tsx", import.meta.url);
 * const bundle = createBundler({ entry, sources: [new URL("../ui/", import.meta.url)] });
 * const js = await bundle();
 * ```
 */
export function createBundler(options: BundlerOptions): () => Promise<string> {
  let cache: { key: string; js: Promise<string> } | undefined;
  return async () => {
    const key = await fingerprint(options.sources);
    if (cache?.key !== key) {
      const entry = { key, js: runBundler(options.entry, options.config) };
      cache = entry;
      entry.js.catch(() => {
        if (cache === entry) cache = undefined;
      });
    }
    return await cache.js;
  };
}

/**
 * The inspector page's script (`/app.js`), bundled from the TSX under
 * `inspector/ui/` as it is now (see the module doc).
 *
 * Cheap to call per request: it bundles again only when a source changed
 * since the last bundle. A failed bundle is not kept, so the next call tries
 * again.
 *
 * @returns the JavaScript of `/app.js` (an ES module)
 * @throws {Error} when `deno bundle` cannot run or the sources do not build
 *
 * @example
 * ```ts ignore
 * import { bundleUi } from "./inspector/page/bundle.ts";
 * const js = await bundleUi();
 * new Response(js, { headers: { "content-type": "text/javascript; charset=utf-8" } });
 * ```
 */
export const bundleUi: () => Promise<string> = createBundler({
  entry: new URL("../ui/main.tsx", import.meta.url),
  config: UI_DIR.protocol === "file:" ? new URL("../../deno.json", import.meta.url) : undefined,
  sources: [
    UI_DIR,
    new URL("../protocol.ts", import.meta.url),
    new URL("../timeline.ts", import.meta.url),
    new URL("../../deno.json", import.meta.url),
  ],
});

/**
 * The HTML shell of the inspector page, served at `GET /`: the stylesheet
 * inline, a mount point (`#app`), and the module script `/app.js`. Says so
 * if the script fails to load. No inline script or handler: the page's
 * `Content-Security-Policy` (`../csp.ts`) allows only `/app.js`. The shell
 * and script hold no data, so they are served without the access token;
 * the script sends it to the API (see `../ui/api_client.ts`).
 */
export const pageHtml: string = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<link rel="icon" href="data:,">
<title>WSGI inspector</title>
<style>${STYLES}</style>
</head>
<body>
<div id="app"><p class="empty big">Loading the inspector… If this stays, its script did not load: see the server's log.</p></div>
<script type="module" src="/app.js"></script>
</body>
</html>
`;
