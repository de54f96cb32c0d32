/**
 * The side port's protections, checked before any route runs.
 *
 * The inspector shows everything the app received (cookies, tokens, bodies)
 * and can replay requests, so its port must answer only its own user:
 *
 * 1. **DNS rebinding.** Every request must name a loopback host in `Host`
 *    (`localhost`, `127.x.x.x`, `[::1]`), or the host the side port is bound
 *    to. A page on `evil.example` whose name was re-pointed at 127.0.0.1 sends
 *    `Host: evil.example` and gets 403. When bound to every interface
 *    (`0.0.0.0`, `::`), any IP literal and this machine's host name pass too:
 *    rebinding needs a DNS name, and the token (3) guards the rest.
 *    The request's URL must name that same authority: an absolute-form
 *    target (`GET http://evil.example/api/exchanges HTTP/1.1`) whose authority
 *    differs from its `Host` header gets 400, so that no route is reached by
 *    a name the Host check never saw.
 * 2. **CSRF.** State-changing requests (anything but `GET`, `HEAD`) must carry
 *    `Origin` equal to the inspector's own origin (`http://` plus the `Host`
 *    that passed check 1), else 403. Browsers always send `Origin` with a
 *    `POST`; from a shell, add it: `curl -X POST -H "Origin: http://127.0.0.1:8001" ...`.
 *    Before that, the browser's fetch metadata: a request whose
 *    `Sec-Fetch-Site` is `cross-site` or `same-site` (the app on another port
 *    of the same host is same-site with the inspector) gets 403 when it would
 *    change state, whatever its `Origin` says, and when it is a read that is
 *    not a top-level navigation (another page loading the API as a script, an
 *    image or a `no-cors` fetch). A top-level navigation from another site
 *    (a link, `window.open`, a redirect) may open only the page itself (`/`,
 *    `/index.html`, `/app.js`): anything else, the API above all, gets 403,
 *    since a link on any site could otherwise make the inspector do work
 *    its user did not ask for (a body search over every recording). The
 *    API's URL typed in the address bar (`Sec-Fetch-Site: none`) and the
 *    page's own requests (`same-origin`) pass. Tools that send no fetch
 *    metadata (curl) are judged by the other checks.
 * 3. **Access token.** When bound to a non-loopback interface (or when asked),
 *    every API request needs the token generated at start, as
 *    `Authorization: Bearer TOKEN`; without it: 401. The token is never a
 *    cookie: cookies ignore ports, so the browser would send it to the app
 *    too and it would land in every recording. The page's shell and script
 *    (`GET /`, `/index.html`, `/app.js`) hold no data and are served without
 *    it; the page reads `?token=` from the URL printed at start once, keeps
 *    it in `sessionStorage` (per origin: the app's port cannot read it),
 *    removes it from the address bar, and sends it as a header on every
 *    request, the live stream included (read with `fetch`, not
 *    `EventSource`, which cannot send headers). A page URL with a wrong
 *    `?token=` gets 401, so a stale link says so at once.
 *
 * Refusals are JSON `{ "error": "..." }` naming the rule and the fix.
 *
 * @example
 * ```ts
 * import { Guard } from "./guard.ts";
 * const guard = new Guard({ hostname: "127.0.0.1", port: 8001 });
 * const refused = guard.check(
 *   new Request("http://evil.example:8001/api/exchanges", { headers: { host: "evil.example:8001" } }),
 * );
 * console.assert(refused?.status === 403);
 * await refused?.body?.cancel();
 * ```
 *
 * @module
 */

/** Options of {@linkcode Guard}. */
export interface GuardOptions {
  /** The interface the side port is bound to. */
  hostname: string;
  /** The bound port. */
  port: number;
  /** The access token; none means no token is asked for. */
  token?: string;
}

/**
 * Whether `name` (a host without port; IPv6 with or without brackets) is a
 * loopback name: `localhost`, `127.0.0.0/8`, or `::1`.
 *
 * @example
 * ```ts
 * import { isLoopback } from "./guard.ts";
 * console.assert(isLoopback("127.0.0.1") && isLoopback("[::1]") && !isLoopback("0.0.0.0"));
 * ```
 */
export function isLoopback(name: string): boolean {
  const host = name.toLowerCase().replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "");
  return host === "localhost" || host === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** Whether the side port bound to `hostname` must ask for a token. */
export function needsToken(hostname: string): boolean {
  return !isLoopback(hostname);
}

/**
 * The one-line warning to print at start when the side port is bound beyond
 * loopback, or undefined on a loopback interface.
 *
 * @example
 * ```ts
 * import { bindWarning } from "./guard.ts";
 * console.assert(bindWarning("127.0.0.1") === undefined);
 * console.assert(bindWarning("0.0.0.0")?.startsWith("Warning: the inspector listens on 0.0.0.0"));
 * ```
 */
export function bindWarning(hostname: string): string | undefined {
  if (isLoopback(hostname)) return undefined;
  return `Warning: the inspector listens on ${hostname}, beyond this machine: whoever reaches it with the access token sees and replays every request the app gets; use --inspector-host 127.0.0.1 unless you need this`;
}

/**
 * A fresh access token: 32 random bytes, base64url.
 *
 * @example
 * ```ts
 * import { generateToken } from "./guard.ts";
 * console.assert(/^[\w-]{43}$/.test(generateToken()));
 * ```
 */
export function generateToken(): string {
  return crypto.getRandomValues(new Uint8Array(32)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

/** Splits a `Host` header into its name (no brackets, lower case) and port. */
export function parseHost(host: string): { name: string; port: string } | undefined {
  const m = host.trim().toLowerCase().match(/^(\[[0-9a-f:.]+\]|[^:\[\]]+)(?::(\d*))?$/);
  if (!m) return undefined;
  return { name: m[1]!.replace(/^\[(.*)\]$/, "$1"), port: m[2] ?? "" };
}

const IP_LITERAL = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|[0-9a-f:.]*:[0-9a-f:.]*)$/;

/**
 * The authority of a request's URL, as `Deno.serve` built it: the `Host`
 * header pasted in verbatim for an origin-form target, the target's own for
 * an absolute-form one.
 */
function urlAuthority(url: string): string {
  const start = url.indexOf("://") + 3;
  const end = url.indexOf("/", start);
  return url.slice(start, end === -1 ? url.length : end);
}

/** The page's shell and script: no data in them, served without the token. */
const PAGE_PATHS = new Set(["/", "/index.html", "/app.js"]);

/** Compares two strings in time that depends only on their lengths. */
function sameText(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function refuse(status: number, error: string, headers: HeadersInit = {}): Response {
  return Response.json({ error }, {
    status,
    headers: {
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "cross-origin-resource-policy": "same-origin",
      ...headers,
    },
  });
}

/** The side port's Host, Origin and token checks. */
export class Guard {
  readonly #bound: string;
  readonly #wildcard: boolean;
  readonly #machine: string;
  /** The access token, when one is asked for. */
  readonly token: string | undefined;

  constructor(options: GuardOptions) {
    this.#bound = parseHost(options.hostname)?.name ??
      options.hostname.toLowerCase().replace(/^\[(.*)\]$/, "$1");
    this.#wildcard = this.#bound === "0.0.0.0" || this.#bound === "::" || this.#bound === "";
    let machine = "";
    if (this.#wildcard) {
      try {
        machine = Deno.hostname().toLowerCase();
      } catch {
        // No --allow-sys: IP literals still pass.
      }
    }
    this.#machine = machine;
    this.token = options.token;
  }

  /** Whether a `Host` header's name may reach the side port. */
  allowsHost(name: string): boolean {
    if (isLoopback(name) || name === this.#bound) return true;
    return this.#wildcard &&
      (IP_LITERAL.test(name) || (this.#machine !== "" && name === this.#machine));
  }

  /**
   * Checks a request. Returns the refusal to answer
   * with, or `undefined` when the request may go on to the routes.
   */
  check(request: Request): Response | undefined {
    const host = request.headers.get("host");
    const parsed = host === null ? undefined : parseHost(host);
    if (parsed === undefined) {
      return refuse(
        400,
        "Refused: the request has no valid Host header; send Host: 127.0.0.1:PORT",
      );
    }
    const authority = urlAuthority(request.url);
    if (authority !== host) {
      return refuse(
        400,
        `Refused: the target's authority ${
          JSON.stringify(authority)
        } differs from its Host header ${
          JSON.stringify(host)
        }; send an origin-form target such as GET /api/exchanges`,
      );
    }
    if (!this.allowsHost(parsed.name)) {
      return refuse(
        403,
        `Refused: Host ${
          JSON.stringify(host)
        } is not a loopback name (DNS rebinding protection); open the inspector as http://127.0.0.1:PORT or http://localhost:PORT`,
      );
    }
    const method = request.method;
    const read = method === "GET" || method === "HEAD";
    const site = request.headers.get("sec-fetch-site");
    if (site === "cross-site" || site === "same-site") {
      const mode = request.headers.get("sec-fetch-mode");
      if (!read || mode !== "navigate") {
        return refuse(
          403,
          `Refused: ${method} ${
            read ? `(Sec-Fetch-Mode: ${mode ?? "none"}) ` : ""
          }from another site's page (Sec-Fetch-Site: ${site}; the app's own port is same-site with the inspector); the inspector answers only its own page, open it at http://${host}/`,
        );
      }
      const path = new URL(request.url).pathname;
      if (!PAGE_PATHS.has(path)) {
        return refuse(
          403,
          `Refused: a navigation from another site's page (Sec-Fetch-Site: ${site}) may open only the inspector's page, not ${
            JSON.stringify(path)
          }; open http://${host}/, or type the URL in the address bar`,
        );
      }
    }
    if (!read) {
      const origin = request.headers.get("origin");
      if (origin === null || origin.toLowerCase() !== `http://${host!.trim().toLowerCase()}`) {
        return refuse(
          403,
          `Refused: ${method} needs the inspector's own Origin (CSRF protection); expected Origin: http://${host} (got ${
            origin === null ? "none" : JSON.stringify(origin)
          })`,
        );
      }
    }
    if (this.token === undefined) return undefined;
    const url = new URL(request.url);
    if (read && PAGE_PATHS.has(url.pathname)) {
      const fromQuery = url.searchParams.get("token");
      if (fromQuery === null || sameText(fromQuery, this.token)) return undefined;
      return refuse(
        401,
        "Refused: the token in this URL is not the inspector's (a new one is made at each start); open the URL printed at start",
      );
    }
    if (this.#fromAuthorization(request)) return undefined;
    return refuse(
      401,
      "Refused: the inspector needs its access token; open the URL printed at start (http://HOST:PORT/?token=...), whose page sends it, or send Authorization: Bearer TOKEN",
      { "www-authenticate": 'Bearer realm="wsgi-inspector"' },
    );
  }

  #fromAuthorization(request: Request): boolean {
    const auth = request.headers.get("authorization");
    const m = auth?.match(/^Bearer\s+(\S+)\s*$/i);
    return m !== null && m !== undefined && sameText(m[1]!, this.token!);
  }
}
