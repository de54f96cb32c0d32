/**
 * The page's `Content-Security-Policy`: the page may run only its own script
 * (`/app.js`), talk only to its own origin, and use only the inline styles it
 * was served with (allowed by their SHA-256 hash, never `'unsafe-inline'`).
 * Nothing else loads: no other script, frame parent, form target, base URL,
 * font or plugin. Recorded data is rendered as text, and the sandboxed HTML
 * preview inherits this policy, so a recorded page cannot fetch anything
 * either.
 *
 * @example
 * ```ts
 * import { contentSecurityPolicy } from "./csp.ts";
 * const csp = await contentSecurityPolicy("<style>p{color:red}</style><p>hi</p>");
 * console.assert(csp.startsWith("default-src 'none'; script-src 'self'; style-src 'sha256-"));
 * ```
 *
 * @module
 */

const BASE = [
  "default-src 'none'",
  "script-src 'self'",
];
const REST = [
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
];

let last: { html: string; policy: Promise<string> } | undefined;

async function sha256(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return new Uint8Array(digest).toBase64();
}

/**
 * The policy for one HTML page: the fixed directives, plus `style-src` with
 * the hash of each inline `<style>` element's text. Cached for the last page
 * (the page is the same on every visit until its sources change).
 */
export function contentSecurityPolicy(html: string): Promise<string> {
  if (last?.html === html) return last.policy;
  const styles = [...html.matchAll(/<style>([\s\S]*?)<\/style>/g)].map((m) => m[1]!);
  const policy = Promise.all(styles.map(sha256)).then((hashes) => {
    const style = hashes.length === 0
      ? []
      : [`style-src ${[...new Set(hashes)].map((h) => `'sha256-${h}'`).join(" ")}`];
    return [...BASE, ...style, ...REST].join("; ");
  });
  last = { html, policy };
  return policy;
}
