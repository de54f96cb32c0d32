/**
 * The test client's cookie jar: what `Set-Cookie` headers ask a browser to
 * keep, and which cookies a request sends back (RFC 6265 in short: domain
 * and path matching, `Max-Age` and `Expires`, `Secure`; no public-suffix
 * list, as a test talks to one application).
 *
 * @module
 */

/** A stored cookie. */
export interface Cookie {
  name: string;
  value: string;
  domain: string;
  path: string;
  /** Set without a `Domain`: sent to that host only. */
  hostOnly: boolean;
  secure: boolean;
  httpOnly: boolean;
  /** Epoch milliseconds, or `undefined` for a session cookie. */
  expires?: number;
}

/** RFC 6265's default path: the request path up to its last `/`. */
function defaultPath(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash <= 0 ? "/" : path.slice(0, slash);
}

function pathMatches(requestPath: string, cookiePath: string): boolean {
  return requestPath === cookiePath ||
    (requestPath.startsWith(cookiePath) &&
      (cookiePath.endsWith("/") || requestPath[cookiePath.length] === "/"));
}

/** Parses one `Set-Cookie` value as seen from `url`; `undefined` when it is malformed. */
export function parseSetCookie(header: string, url: URL, now = Date.now()): Cookie | undefined {
  const [pair = "", ...attributes] = header.split(";");
  const eq = pair.indexOf("=");
  if (eq <= 0) return undefined;
  const cookie: Cookie = {
    name: pair.slice(0, eq).trim(),
    value: pair.slice(eq + 1).trim(),
    domain: url.hostname,
    path: defaultPath(url.pathname),
    hostOnly: true,
    secure: false,
    httpOnly: false,
  };
  let maxAge: number | undefined;
  for (const attribute of attributes) {
    const i = attribute.indexOf("=");
    const key = (i === -1 ? attribute : attribute.slice(0, i)).trim().toLowerCase();
    const value = i === -1 ? "" : attribute.slice(i + 1).trim();
    if (key === "domain" && value) {
      cookie.domain = value.replace(/^\./, "").toLowerCase();
      cookie.hostOnly = false;
    } else if (key === "path" && value.startsWith("/")) cookie.path = value;
    else if (key === "max-age" && /^-?\d+$/.test(value)) maxAge = Number(value);
    else if (key === "expires") {
      const t = Date.parse(value);
      if (!Number.isNaN(t)) cookie.expires = t;
    } else if (key === "secure") cookie.secure = true;
    else if (key === "httponly") cookie.httpOnly = true;
  }
  if (maxAge !== undefined) cookie.expires = now + maxAge * 1000;
  return cookie;
}

/** Cookies by domain, path and name. */
export class CookieJar {
  readonly #cookies = new Map<string, Cookie>();

  /** Every stored cookie. */
  list(): Cookie[] {
    return [...this.#cookies.values()];
  }

  /** A stored cookie, by name (and domain and path, when several share the name). */
  get(name: string, where: { domain?: string; path?: string } = {}): Cookie | undefined {
    for (const cookie of this.#cookies.values()) {
      if (
        cookie.name === name && (where.domain === undefined || cookie.domain === where.domain) &&
        (where.path === undefined || cookie.path === where.path)
      ) return cookie;
    }
    return undefined;
  }

  /** Stores a cookie; one that has expired deletes its namesake instead. */
  store(cookie: Cookie): void {
    const key = `${cookie.domain}\t${cookie.path}\t${cookie.name}`;
    if (cookie.expires !== undefined && cookie.expires <= Date.now()) this.#cookies.delete(key);
    else this.#cookies.set(key, cookie);
  }

  /** Forgets a cookie. */
  delete(name: string, where: { domain?: string; path?: string } = {}): void {
    const cookie = this.get(name, where);
    if (cookie) this.#cookies.delete(`${cookie.domain}\t${cookie.path}\t${cookie.name}`);
  }

  /** Keeps what a response's `Set-Cookie` headers say, as seen from `url`. */
  update(url: URL, setCookies: string[]): void {
    for (const header of setCookies) {
      const cookie = parseSetCookie(header, url);
      if (cookie) this.store(cookie);
    }
  }

  /** The `Cookie` header a request to `url` sends, or `undefined` for none. */
  header(url: URL): string | undefined {
    const now = Date.now();
    const host = url.hostname;
    const matching = this.list().filter((c) =>
      (c.expires === undefined || c.expires > now) &&
      (c.hostOnly ? host === c.domain : host === c.domain || host.endsWith("." + c.domain)) &&
      pathMatches(url.pathname, c.path) && (!c.secure || url.protocol === "https:")
    ).sort((a, b) => b.path.length - a.path.length);
    return matching.length ? matching.map((c) => `${c.name}=${c.value}`).join("; ") : undefined;
  }
}
