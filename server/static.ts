/**
 * Static files: a directory served as a WSGI application, with what a browser
 * and a dev server expect (Werkzeug's `SharedDataMiddleware`, with Range).
 *
 * - `GET` and `HEAD`; `ETag` and `Last-Modified`, and `304 Not Modified` for
 *   `If-None-Match` / `If-Modified-Since`; `Cache-Control: no-cache`, so the
 *   browser asks again each time and a changed file is seen at once.
 * - One byte range (`Range: bytes=0-99`, `bytes=100-`, `bytes=-100`): `206`
 *   with `Content-Range`, or `416` when it starts past the end; `If-Range` is
 *   honoured; several ranges get the whole file (RFC 9110 allows it).
 * - Content types from the `mime-types` package (the `mime-db` database).
 * - A directory answers with its `index.html` (the `index` option), after a
 *   `301` to the path with a trailing `/` so relative links work; with
 *   `listing: true` and no index file, a list of its entries.
 * - Files are streamed with {@linkcode FileWrapper}: the gateway sends them
 *   without passing the bytes through JavaScript code of ours.
 *
 * No way out of the root: the path is decoded (so `%2e%2e` and `%2f` are
 * `..` and `/` by then), a `..` segment, a backslash or a NUL is refused with
 * a 404 before the file system is touched, dotfiles (`.env`, `.git/`) are
 * hidden unless `dotfiles: true`, and the resolved path, symlinks followed,
 * must lie inside the root's own real path: a symlink that points out is a
 * 404. A redirect's `Location` is built from the checked segments, so it is
 * always one `/` and a path, never `//host` (protocol-relative).
 *
 * @module
 */

import type { Application, Environ, Header } from "./types.ts";
import { FileWrapper } from "./file_wrapper.ts";
import { quoteLatin1 } from "./util.ts";

/** Options of {@linkcode staticFiles}. */
export interface StaticOptions {
  /**
   * Serve only paths under this prefix (like `"/static"`), taken off before
   * the file is looked up; every path by default. Other paths go to `fallback`.
   */
  prefix?: string;
  /** Called for every request that no file answers (a 404 by default), with the environ unchanged. */
  fallback?: Application;
  /** File names a directory answers with, in order; `["index.html"]` by default, `[]` for none. */
  index?: string[];
  /** List a directory's entries when it has no index file; off by default. */
  listing?: boolean;
  /** Serve files and directories whose name starts with `.`; off by default. */
  dotfiles?: boolean;
}

/** `contentType` of `npm:mime-types`. */
type ContentType = (filenameOrExt: string) => string | false;
let mime: Promise<ContentType> | undefined;

/**
 * Loads `npm:mime-types` on first use, not with this module: it and Deno's
 * npm support cost ~15 MiB of resident memory, in each process of the CLI
 * (this module is part of the public API, and an app process composes the
 * toolkit), whether or not anything serves a file.
 */
function loadMime(): Promise<ContentType> {
  // Pinned here, not through deno.json: app processes run from the user's
  // folder, where this repository's import map is not read.
  mime ??= import("npm:mime-types@3.0.2").then((m) => m.contentType as ContentType);
  return mime;
}

const encoder = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A plain-text answer (404, 405, 416), itself an application. */
function plain(status: string, text: string, extra: Header[] = []): Application {
  return (_environ, start_response) => {
    const body = encoder.encode(text);
    start_response(status, [
      ["Content-Type", "text/plain; charset=utf-8"],
      ["Content-Length", String(body.length)],
      ...extra,
    ]);
    return [body];
  };
}

const notFound = plain("404 Not Found", "404 Not Found\n");

/** `/static/` → `/static`; `/` → `""`. */
function normalizePrefix(prefix: string): string {
  if (prefix !== "" && !prefix.startsWith("/")) {
    throw new TypeError(
      `Cannot serve static files at ${JSON.stringify(prefix)}: a prefix starts with "/"`,
    );
  }
  return prefix.replace(/\/+$/, "");
}

/**
 * The path's segments as real (UTF-8) strings, or `undefined` when the path
 * is refused: not UTF-8, a `..`, a backslash or a NUL, or a dotfile when those
 * are hidden. Empty and `.` segments are dropped.
 */
export function safeSegments(pathInfo: string, dotfiles = false): string[] | undefined {
  let path: string;
  try {
    path = utf8.decode(Uint8Array.from(pathInfo, (c) => c.charCodeAt(0) & 0xff));
  } catch {
    return undefined;
  }
  if (/[\\\0]/.test(path) || [...pathInfo].some((c) => c.charCodeAt(0) > 0xff)) return undefined;
  const segments: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") return undefined;
    if (!dotfiles && segment.startsWith(".")) return undefined;
    segments.push(segment);
  }
  return segments;
}

/** A URL path from real-string segments: each percent-encoded, joined by single `/`. */
function urlPath(segments: string[]): string {
  const latin1 = (s: string) => String.fromCharCode(...encoder.encode(s));
  return "/" + segments.map((s) => quoteLatin1(latin1(s), "")).join("/");
}

/** The file system path of the root, with a trailing separator, once it resolved. */
async function realInside(root: string, path: string): Promise<string | undefined> {
  let real: string;
  try {
    real = await Deno.realPath(path);
  } catch {
    return undefined;
  }
  return real === root.slice(0, -1) || real.startsWith(root) ? real : undefined;
}

/** `W/`-less ETag from size and modification time: changes whenever the file does. */
function etagOf(info: Deno.FileInfo): string {
  return `"${info.size.toString(16)}-${(info.mtime?.getTime() ?? 0).toString(16)}"`;
}

/** Whether an `If-None-Match` value matches `etag` (weak comparison, `*` matches all). */
function noneMatch(header: string, etag: string): boolean {
  if (header.trim() === "*") return true;
  const bare = etag.replace(/^W\//, "");
  return header.split(",").some((tag) => tag.trim().replace(/^W\//, "") === bare);
}

/** The one byte range a `Range` header asks for, `"unsatisfiable"`, or `undefined` to send it all. */
export function parseRange(
  header: string,
  size: number,
): { start: number; end: number } | "unsatisfiable" | undefined {
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header);
  if (!m) return undefined; // malformed, another unit, or several ranges: ignore it
  const [, first, last] = m as unknown as [string, string, string];
  if (first === "" && last === "") return undefined;
  let start: number;
  let end: number;
  if (first === "") {
    const suffix = Number(last);
    if (suffix === 0) return "unsatisfiable";
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(first);
    end = last === "" ? size - 1 : Math.min(Number(last), size - 1);
    if (last !== "" && Number(last) < start) return undefined;
  }
  if (start >= size) return "unsatisfiable";
  return { start, end };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** An HTML list of a directory's entries (names escaped, links percent-encoded). */
async function listing(dir: string, segments: string[], dotfiles: boolean): Promise<Uint8Array> {
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (dotfiles || !entry.name.startsWith(".")) entries.push(entry);
  }
  entries.sort((a, b) =>
    Number(b.isDirectory) - Number(a.isDirectory) || (a.name < b.name ? -1 : 1)
  );
  const title = escapeHtml(urlPath(segments) + (segments.length ? "/" : ""));
  const items = entries.map((e) => {
    const name = e.name + (e.isDirectory ? "/" : "");
    const href = urlPath([e.name]).slice(1) + (e.isDirectory ? "/" : "");
    return `<li><a href="./${escapeHtml(href)}">${escapeHtml(name)}</a></li>`;
  });
  if (segments.length) items.unshift('<li><a href="../">../</a></li>');
  return encoder.encode(
    `<!doctype html><meta charset="utf-8"><title>${title}</title><h1>${title}</h1><ul>${
      items.join("")
    }</ul>\n`,
  );
}

/** Sends one file: conditional requests, Range, HEAD. */
async function sendFile(
  environ: Environ,
  start_response: Parameters<Application>[1],
  path: string,
  info: Deno.FileInfo,
): Promise<Iterable<Uint8Array> | FileWrapper> {
  const etag = etagOf(info);
  const headers: Header[] = [["ETag", etag], ["Cache-Control", "no-cache"]];
  if (info.mtime) headers.push(["Last-Modified", info.mtime.toUTCString()]);
  const inm = environ.HTTP_IF_NONE_MATCH;
  const ims = environ.HTTP_IF_MODIFIED_SINCE;
  const notModified = typeof inm === "string"
    ? noneMatch(inm, etag)
    : typeof ims === "string" && info.mtime !== null &&
      Math.floor(info.mtime.getTime() / 1000) * 1000 <= Date.parse(ims);
  if (notModified) {
    start_response("304 Not Modified", headers);
    return [];
  }
  headers.push(
    [
      "Content-Type",
      (await loadMime())(path.slice(path.lastIndexOf("/") + 1)) || "application/octet-stream",
    ],
    ["Accept-Ranges", "bytes"],
  );
  const size = info.size;
  let range = typeof environ.HTTP_RANGE === "string" && environ.REQUEST_METHOD === "GET"
    ? parseRange(environ.HTTP_RANGE, size)
    : undefined;
  const ifRange = environ.HTTP_IF_RANGE;
  if (range !== undefined && typeof ifRange === "string") {
    const fresh = ifRange.startsWith('"') || ifRange.startsWith("W/")
      ? ifRange === etag
      : info.mtime !== null &&
        Date.parse(ifRange) === Math.floor(info.mtime.getTime() / 1000) * 1000;
    if (!fresh) range = undefined;
  }
  if (range === "unsatisfiable") {
    return plain("416 Range Not Satisfiable", "416 Range Not Satisfiable\n", [
      ["Content-Range", `bytes */${size}`],
    ])(environ, start_response) as Uint8Array[];
  }
  const offset = range?.start ?? 0;
  const length = range ? range.end - range.start + 1 : size;
  headers.push(["Content-Length", String(length)]);
  if (range) headers.push(["Content-Range", `bytes ${range.start}-${range.end}/${size}`]);
  start_response(range ? "206 Partial Content" : "200 OK", headers);
  if (environ.REQUEST_METHOD === "HEAD" || length === 0) return [];
  const file = await Deno.open(path);
  return new FileWrapper(file, range ? { offset, length } : {});
}

/**
 * Serves the files under `root`.
 *
 * @param root the directory (a path, or a `file:` URL)
 * @throws {TypeError} when `root` is not a directory, or `prefix` does not start with `/`
 *
 * @example
 * ```ts
 * import { staticFiles } from "./static.ts";
 * import { toFetch } from "./gateway.ts";
 * const app = staticFiles(new URL("../docs/", import.meta.url));
 * const response = await toFetch(app)(new Request("http://localhost/differences.md"));
 * console.assert(response.headers.get("content-type") === "text/markdown; charset=utf-8");
 * await response.body?.cancel();
 * ```
 */
export function staticFiles(root: string | URL, options: StaticOptions = {}): Application {
  let real: string;
  try {
    real = Deno.realPathSync(root);
    if (!Deno.statSync(real).isDirectory) throw new Error("not a directory");
  } catch (error) {
    throw new TypeError(
      `Cannot serve static files from ${JSON.stringify(String(root))}: ${
        error instanceof Deno.errors.NotFound ? "no such directory" : (error as Error).message
      }`,
    );
  }
  const rootDir = real.endsWith("/") ? real : real + "/";
  const prefix = normalizePrefix(options.prefix ?? "");
  const fallback = options.fallback ?? notFound;
  const index = options.index ?? ["index.html"];
  const dotfiles = options.dotfiles ?? false;
  void loadMime().catch(() => {/* said by the first file served */});

  /** Finds what answers `environ`, or `undefined` for the fallback. */
  const answer = async (environ: Environ): Promise<Application | undefined> => {
    let pathInfo = typeof environ.PATH_INFO === "string" ? environ.PATH_INFO : "";
    if (prefix) {
      if (pathInfo !== prefix && !pathInfo.startsWith(prefix + "/")) return undefined;
      pathInfo = pathInfo.slice(prefix.length);
    }
    const segments = safeSegments(pathInfo, dotfiles);
    if (segments === undefined) return undefined;
    const path = await realInside(rootDir, rootDir + segments.join("/"));
    if (path === undefined) return undefined;
    const info = await Deno.stat(path);
    const method = environ.REQUEST_METHOD;
    if (method !== "GET" && method !== "HEAD") {
      return plain("405 Method Not Allowed", "405 Method Not Allowed\n", [["Allow", "GET, HEAD"]]);
    }
    if (info.isFile) return (e, sr) => sendFile(e, sr, path, info);
    if (!info.isDirectory) return undefined;
    const script =
      safeSegments(typeof environ.SCRIPT_NAME === "string" ? environ.SCRIPT_NAME : "", true) ?? [];
    const prefixSegments = prefix ? prefix.slice(1).split("/") : [];
    if (!pathInfo.endsWith("/")) {
      const location = urlPath([...script, ...prefixSegments, ...segments]) + "/";
      return plain("301 Moved Permanently", `301 Moved Permanently: ${location}\n`, [[
        "Location",
        location,
      ]]);
    }
    for (const name of index) {
      try {
        const file = `${path}/${name}`;
        const inside = await realInside(rootDir, file);
        const fileInfo = inside && await Deno.stat(inside);
        if (fileInfo && fileInfo.isFile) return (e, sr) => sendFile(e, sr, inside!, fileInfo);
      } catch {
        // no such index file: try the next
      }
    }
    if (!options.listing) return undefined;
    const body = await listing(path, segments, dotfiles);
    return (_e, sr) => {
      sr("200 OK", [
        ["Content-Type", "text/html; charset=utf-8"],
        ["Content-Length", String(body.length)],
        ["Cache-Control", "no-cache"],
      ]);
      return [body];
    };
  };

  return async (environ, start_response) => {
    let app: Application | undefined;
    try {
      app = await answer(environ);
    } catch (error) {
      // A file that vanished or cannot be read is a miss, like one that never was.
      if (
        !(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied)
      ) {
        throw error;
      }
    }
    return (app ?? fallback)(environ, start_response);
  };
}
