/**
 * Recipe: cookies. The browser sends them in one `Cookie` header
 * (`HTTP_COOKIE`, `name=value; name2=value2`); the app sets them with one
 * `Set-Cookie` header each (repeated headers are fine in WSGI's list), and
 * deletes one by setting it again with `Max-Age=0`.
 *
 * `GET /` counts your visits; `GET /forget` deletes the counter.
 * Run: `deno run -A mod.ts examples/cookies.ts`.
 *
 * @module
 */

import type { Application, Header } from "../mod.ts";

/** Parses a `Cookie` header into a map (values percent-decoded). */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>();
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    // The first value of a name wins: it is the most specific (longest path).
    if (cookies.has(name)) continue;
    try {
      cookies.set(name, decodeURIComponent(part.slice(eq + 1).trim()));
    } catch {
      cookies.set(name, part.slice(eq + 1).trim());
    }
  }
  return cookies;
}

/** Counts visits in a cookie; `/forget` deletes it. */
export const application: Application = (environ, start_response) => {
  const cookies = parseCookies(environ.HTTP_COOKIE);
  const headers: Header[] = [["Content-Type", "text/plain; charset=utf-8"]];
  let text: string;
  if (environ.PATH_INFO === "/forget") {
    headers.push(["Set-Cookie", "visits=; Path=/; Max-Age=0"]);
    text = "Forgotten.\n";
  } else {
    const visits = Number(cookies.get("visits") ?? 0) + 1;
    headers.push(["Set-Cookie", `visits=${visits}; Path=/; HttpOnly; SameSite=Lax`]);
    headers.push(["Set-Cookie", `last=${encodeURIComponent(environ.PATH_INFO)}; Path=/`]);
    text = `Visit number ${visits}.\n`;
  }
  start_response("200 OK", headers);
  return [new TextEncoder().encode(text)];
};
