/**
 * Mounting: several applications as one, each under its own path prefix
 * (Werkzeug's `DispatcherMiddleware`).
 *
 * `mount({ "/blog": blog, "/": main })` sends `/blog/2024/hello` to `blog`
 * with the prefix moved from `PATH_INFO` to `SCRIPT_NAME` (`SCRIPT_NAME`
 * `/blog`, `PATH_INFO` `/2024/hello`), so the mounted application builds its
 * links with {@linkcode applicationUri} and never needs to know where it
 * lives. The longest matching prefix wins, and prefixes match whole path
 * segments only (`/blog` takes `/blog` and `/blog/x`, never `/blogger`).
 * Without a `"/"` mount, a request no prefix takes is a plain 404.
 *
 * @module
 */

import type { Application } from "./types.ts";

const encoder = new TextEncoder();

/** The answer for a path no mount takes. */
const notFound: Application = (environ, start_response) => {
  const body = encoder.encode(
    `404 Not Found\n\nNo application is mounted at ${
      JSON.stringify(`${environ.SCRIPT_NAME}${environ.PATH_INFO}`)
    }.\n`,
  );
  start_response("404 Not Found", [
    ["Content-Type", "text/plain; charset=utf-8"],
    ["Content-Length", String(body.length)],
  ]);
  return [body];
};

/** `"/blog/"` → `"/blog"`, `"/"` → `""`; throws for a prefix without a leading `/`. */
function normalizePrefix(prefix: string): string {
  if (prefix !== "" && !prefix.startsWith("/")) {
    throw new TypeError(
      `Cannot mount at ${JSON.stringify(prefix)}: a prefix starts with "/" (like "/blog")`,
    );
  }
  return prefix.replace(/\/+$/, "");
}

/**
 * One application that dispatches to others by path prefix, moving the
 * prefix from `PATH_INFO` to `SCRIPT_NAME` (appended to any `SCRIPT_NAME`
 * already there, so mounts nest).
 *
 * @param mounts prefix → application; `"/"` (or `""`) is the fallback
 * @throws {TypeError} for a prefix without a leading `/`, or a mount that is not a function
 *
 * @example
 * ```ts
 * import { mount } from "./mount.ts";
 * import { toFetch } from "./gateway.ts";
 * import type { Application } from "./types.ts";
 * const where: Application = (environ, start_response) => {
 *   start_response("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode(`${environ.SCRIPT_NAME}|${environ.PATH_INFO}`)];
 * };
 * const app = mount({ "/blog": where, "/": where });
 * const text = await (await toFetch(app)(new Request("http://h/blog/2024/hi"))).text();
 * console.assert(text === "/blog|/2024/hi");
 * ```
 */
export function mount(mounts: Record<string, Application>): Application {
  const table = new Map<string, Application>();
  for (const [prefix, app] of Object.entries(mounts)) {
    if (typeof app !== "function") {
      throw new TypeError(
        `Cannot mount at ${
          JSON.stringify(prefix)
        }: the application must be a function (got ${typeof app})`,
      );
    }
    table.set(normalizePrefix(prefix), app);
  }
  const fallback = table.get("") ?? notFound;
  return (environ, start_response) => {
    // Werkzeug's walk: try the whole path, then drop one segment at a time.
    let script = typeof environ.PATH_INFO === "string" ? environ.PATH_INFO : "";
    let pathInfo = "";
    let app: Application | undefined;
    while (script.includes("/")) {
      app = table.get(script);
      if (app !== undefined) break;
      const slash = script.lastIndexOf("/");
      pathInfo = script.slice(slash) + pathInfo;
      script = script.slice(0, slash);
    }
    if (app === undefined) app = script === "" ? fallback : table.get(script) ?? fallback;
    environ.SCRIPT_NAME = (environ.SCRIPT_NAME ?? "") + script;
    environ.PATH_INFO = pathInfo;
    return app(environ, start_response);
  };
}
