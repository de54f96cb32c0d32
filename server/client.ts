/**
 * A test client in the spirit of Werkzeug's `werkzeug.test.Client`: requests
 * to a WSGI application in-process, through the real gateway, no socket.
 *
 * ```ts ignore
 * const client = new Client(application);
 * const page = await client.get("/search", { query: { q: "deno" } });
 * const created = await client.post("/items", { json: { name: "cup" } });
 * const uploaded = await client.post("/upload", { form: { title: "cv" }, files: { file: new File(["..."], "cv.txt") } });
 * ```
 *
 * - `get`, `post`, `put`, `patch`, `delete`, `head`, `options`, or
 *   `open(method, path, options)`, with `query`, `headers`, and one of
 *   `json`, `form` (urlencoded, or multipart with `files`), `files`, `body`;
 * - a cookie jar: `Set-Cookie` answers are sent back on later requests that
 *   match their domain and path, until they expire (`getCookie`,
 *   `setCookie`, `deleteCookie` reach it; `cookies: false` turns it off);
 * - `followRedirects` (per client or per request) follows 301, 302, 303, 307
 *   and 308 on the same host, as a browser does (303, and 301/302 after a
 *   `POST`, become a `GET` without a body); `response.history` lists the
 *   redirects on the way; a loop or an external redirect throws;
 * - whatever the application (or the gateway) writes to `wsgi.errors` is kept,
 *   per response (`response.errors`) and for the whole client
 *   (`client.errors`);
 * - `response.environ` is the environ the application got (as it left it);
 * - a 500 says what broke (the gateway's `debug: true`; `gateway: { debug: false }`
 *   for the bare page a client of the server gets);
 * - `throwErrors: true` lets an application's exception fail the test with
 *   its own stack, instead of answering a 500 page.
 *
 * The body of every response is read in full, so `response.text`,
 * `response.json()` and `response.body` are plain values.
 *
 * @module
 */

import type { Application, Environ } from "./types.ts";
import { type FetchHandler, type GatewayOptions, toFetch } from "./gateway.ts";
import type { ExchangeRecorder, Recorder } from "./recorder.ts";
import { type Cookie, CookieJar } from "./cookies.ts";

export { type Cookie, parseSetCookie } from "./cookies.ts";

/** Options of {@linkcode Client}. */
export interface ClientOptions {
  /** Scheme and host of every request; `http://localhost` by default. */
  baseUrl?: string;
  /** Follow redirects by default; off by default (a request may say otherwise). */
  followRedirects?: boolean;
  /** Keep cookies between requests; on by default. */
  cookies?: boolean;
  /** `REMOTE_ADDR` of every request; `127.0.0.1` by default. */
  remoteAddr?: string;
  /**
   * Let the application's exceptions (and the rules it broke) fail the
   * request with the error itself, its own stack and all, instead of a 500
   * page; off by default.
   */
  throwErrors?: boolean;
  /** More options for the gateway (a `recorder`, `serverName`, ...). */
  gateway?: GatewayOptions;
}

/** A query or form: a record (arrays for repeated keys), `URLSearchParams`, or a string. */
export type Params =
  | Record<string, string | number | boolean | (string | number | boolean)[]>
  | URLSearchParams
  | string;

/** A file to upload: a `File`/`Blob`, or its name, content and type. */
export type Upload = Blob | { name: string; content: string | Uint8Array; type?: string };

/** Options of one request; at most one of `json`, `form`/`files` and `body`. */
export interface RequestOptions {
  /** Added to the path's own query string. */
  query?: Params;
  headers?: HeadersInit;
  /** Sent as `application/json`. */
  json?: unknown;
  /** Sent as `application/x-www-form-urlencoded`, or as a part of `multipart/form-data` with `files`. */
  form?: Params;
  /** Sent as `multipart/form-data`, one part per file. */
  files?: Record<string, Upload | Upload[]>;
  /** A raw body (set the `Content-Type` in `headers`). */
  body?: BodyInit;
  /** Follow redirects for this request (the client's setting by default). */
  followRedirects?: boolean;
}

const decoder = new TextDecoder();

/** A response, read in full. */
export class TestResponse {
  /** The status code. */
  readonly status: number;
  /** The reason phrase. */
  readonly statusText: string;
  readonly headers: Headers;
  /** The body's bytes. */
  readonly body: Uint8Array;
  /** The URL that was asked for (after redirects, the last one). */
  readonly url: string;
  /** Text written to `wsgi.errors` (and the gateway's error reports) during this request. */
  readonly errors: string;
  /** The environ the application got, as it left it. */
  readonly environ: Environ | undefined;
  /** The redirect responses followed to get here, oldest first. */
  history: TestResponse[] = [];

  constructor(
    response: Response,
    body: Uint8Array,
    url: string,
    errors: string,
    environ: Environ | undefined,
  ) {
    this.status = response.status;
    this.statusText = response.statusText;
    this.headers = response.headers;
    this.body = body;
    this.url = url;
    this.errors = errors;
    this.environ = environ;
  }

  /** The body as UTF-8 text. */
  get text(): string {
    return decoder.decode(this.body);
  }

  /** The body parsed as JSON. */
  json<T = unknown>(): T {
    return JSON.parse(this.text) as T;
  }

  /** The `Location` header, if any. */
  get location(): string | null {
    return this.headers.get("location");
  }
}

function toSearchParams(params: Params): URLSearchParams {
  if (params instanceof URLSearchParams) return params;
  if (typeof params === "string") return new URLSearchParams(params);
  const out = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    for (const v of Array.isArray(value) ? value : [value]) out.append(key, String(v));
  }
  return out;
}

function toBlob(upload: Upload): [Blob, string | undefined] {
  if (upload instanceof Blob) return [upload, upload instanceof File ? upload.name : undefined];
  const content = typeof upload.content === "string"
    ? upload.content
    : upload.content.slice() as Uint8Array<ArrayBuffer>;
  return [new Blob([content], { type: upload.type ?? "" }), upload.name];
}

/** The request body and its content type, from the options. */
function encodeBody(options: RequestOptions): { body?: BodyInit; type?: string } {
  const kinds = [
    options.json !== undefined,
    options.form !== undefined || options.files !== undefined,
    options.body !== undefined,
  ].filter(Boolean).length;
  if (kinds > 1) {
    throw new TypeError(
      "Cannot build request: give one of json, form/files and body, not several",
    );
  }
  if (options.json !== undefined) {
    return { body: JSON.stringify(options.json), type: "application/json" };
  }
  if (options.files !== undefined) {
    const data = new FormData();
    if (options.form !== undefined) {
      for (const [k, v] of toSearchParams(options.form)) data.append(k, v);
    }
    for (const [field, uploads] of Object.entries(options.files)) {
      for (const upload of Array.isArray(uploads) ? uploads : [uploads]) {
        const [blob, name] = toBlob(upload);
        data.append(field, blob, name);
      }
    }
    return { body: data }; // the Request sets multipart/form-data with its boundary
  }
  if (options.form !== undefined) {
    return {
      body: toSearchParams(options.form).toString(),
      type: "application/x-www-form-urlencoded",
    };
  }
  return { body: options.body };
}

/** Statuses a redirect is followed for. */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Keeps the environ the application got (a recorder of one event). */
class EnvironCatcher implements Recorder {
  environ: Environ | undefined;
  readonly #next: Recorder | undefined;
  constructor(next: Recorder | undefined) {
    this.#next = next;
  }
  begin(request: Request, time?: number): ExchangeRecorder {
    const next = this.#next?.begin(request, time);
    return {
      record: (type, data, t) => {
        if (type === "environ") {
          this.environ = (data as { environ: Environ }).environ;
        }
        next?.record(type, data, t);
      },
    };
  }
}

/**
 * Sends requests to a WSGI application in-process.
 *
 * @example
 * ```ts
 * import { Client } from "./client.ts";
 * const client = new Client((environ, start_response) => {
 *   start_response("200 OK", [["Content-Type", "text/plain"], ["Set-Cookie", "seen=1; Path=/"]]);
 *   return [new TextEncoder().encode(`cookie: ${environ.HTTP_COOKIE ?? "none"}`)];
 * });
 * console.assert((await client.get("/")).text === "cookie: none");
 * console.assert((await client.get("/")).text === "cookie: seen=1");
 * ```
 */
export class Client {
  /** The application under test. */
  readonly application: Application;
  /** Everything written to `wsgi.errors` (and the gateway's reports) so far. */
  errors = "";
  readonly #options: ClientOptions;
  readonly #base: URL;
  readonly #jar: CookieJar | undefined;

  constructor(application: Application, options: ClientOptions = {}) {
    if (typeof application !== "function") {
      throw new TypeError(
        `Cannot make a test client: the application must be a function (got ${typeof application})`,
      );
    }
    this.application = application;
    this.#options = options;
    this.#base = new URL(options.baseUrl ?? "http://localhost");
    this.#jar = options.cookies === false ? undefined : new CookieJar();
  }

  /** `GET path`. */
  get(path: string, options?: RequestOptions): Promise<TestResponse> {
    return this.open("GET", path, options);
  }
  /** `POST path`. */
  post(path: string, options?: RequestOptions): Promise<TestResponse> {
    return this.open("POST", path, options);
  }
  /** `PUT path`. */
  put(path: string, options?: RequestOptions): Promise<TestResponse> {
    return this.open("PUT", path, options);
  }
  /** `PATCH path`. */
  patch(path: string, options?: RequestOptions): Promise<TestResponse> {
    return this.open("PATCH", path, options);
  }
  /** `DELETE path`. */
  delete(path: string, options?: RequestOptions): Promise<TestResponse> {
    return this.open("DELETE", path, options);
  }
  /** `HEAD path`. */
  head(path: string, options?: RequestOptions): Promise<TestResponse> {
    return this.open("HEAD", path, options);
  }
  /** `OPTIONS path`. */
  options(path: string, options?: RequestOptions): Promise<TestResponse> {
    return this.open("OPTIONS", path, options);
  }

  /** A stored cookie, by name (and domain and path, when several share the name). */
  getCookie(name: string, where: { domain?: string; path?: string } = {}): Cookie | undefined {
    return this.#cookies().get(name, where);
  }

  /** Stores a cookie as if the application had set it (for the client's host, path `/` by default). */
  setCookie(name: string, value: string, where: { domain?: string; path?: string } = {}): void {
    this.#cookies().store({
      name,
      value,
      domain: where.domain ?? this.#base.hostname,
      path: where.path ?? "/",
      hostOnly: where.domain === undefined,
      secure: false,
      httpOnly: false,
    });
  }

  /** Forgets a cookie. */
  deleteCookie(name: string, where: { domain?: string; path?: string } = {}): void {
    this.#cookies().delete(name, where);
  }

  #cookies(): CookieJar {
    if (!this.#jar) {
      throw new TypeError("Cannot use cookies: this client was made with cookies: false");
    }
    return this.#jar;
  }

  /** Sends one request, following redirects when asked. */
  async open(method: string, path: string, options: RequestOptions = {}): Promise<TestResponse> {
    const url = new URL(path, this.#base);
    if (options.query !== undefined) {
      for (const [k, v] of toSearchParams(options.query)) url.searchParams.append(k, v);
    }
    const { body, type } = encodeBody(options);
    const headers = new Headers(options.headers);
    if (type && !headers.has("content-type")) headers.set("content-type", type);
    let response = await this.#send(method, url, headers, body);
    const follow = options.followRedirects ?? this.#options.followRedirects ?? false;
    const history: TestResponse[] = [];
    const seen = new Set<string>();
    while (follow && REDIRECTS.has(response.status) && response.location !== null) {
      const next = new URL(response.location, response.url);
      if (next.host !== url.host || next.protocol !== url.protocol) {
        throw new Error(
          `Cannot follow the redirect to ${next.href}: the test client only follows redirects within ${url.origin}`,
        );
      }
      const key = `${response.status} ${next.href}`;
      if (seen.has(key)) {
        throw new Error(`Redirect loop: a ${response.status} to ${next.href} was already followed`);
      }
      seen.add(key);
      history.push(response);
      const toGet = response.status === 303 ? method !== "HEAD" : (response.status === 301 ||
        response.status === 302) && method === "POST";
      if (toGet) {
        method = "GET";
        for (const name of ["content-type", "content-length", "content-encoding"]) {
          headers.delete(name);
        }
      }
      response = await this.#send(method, next, headers, toGet ? undefined : body);
    }
    response.history = history;
    return response;
  }

  async #send(
    method: string,
    url: URL,
    headers: Headers,
    body: BodyInit | undefined,
  ): Promise<TestResponse> {
    const sent = new Headers(headers);
    if (!sent.has("host")) sent.set("host", url.host);
    const cookie = this.#jar?.header(url);
    if (cookie !== undefined && !sent.has("cookie")) sent.set("cookie", cookie);
    let errors = "";
    const catcher = new EnvironCatcher(this.#options.gateway?.recorder);
    const handler = toFetch(this.application, {
      // A 500 that says what broke: this is a test (the gateway option can say otherwise).
      debug: true,
      ...this.#options.gateway,
      log: false,
      recorder: catcher,
      throwErrors: this.#options.throwErrors ?? false,
      errors: {
        write: (text: string) => void (errors += text),
        flush() {},
      },
    });
    const request = new Request(url, {
      method,
      headers: sent,
      body: method === "GET" || method === "HEAD" ? undefined : body,
    });
    try {
      return await this.#exchange(handler, request, method, url, () => errors, catcher);
    } finally {
      this.errors += errors;
    }
  }

  /** Runs one request through the gateway and reads its response in full. */
  async #exchange(
    handler: FetchHandler,
    request: Request,
    method: string,
    url: URL,
    errors: () => string,
    catcher: EnvironCatcher,
  ): Promise<TestResponse> {
    const response = await handler(request, {
      remoteAddr: {
        transport: "tcp",
        hostname: this.#options.remoteAddr ?? "127.0.0.1",
        port: 0,
      },
    });
    let bytes: Uint8Array;
    try {
      // A HEAD response has no body on the wire; in memory the gateway's Response may hold one.
      if (method === "HEAD") await response.body?.cancel();
      bytes = method === "HEAD" ? new Uint8Array(0) : new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      if (this.#options.throwErrors) throw error;
      throw new Error(
        `The response to ${method} ${url.pathname}${url.search} was cut after the headers were sent: ${
          (error as Error)?.message ?? error
        }`,
        { cause: error },
      );
    }
    this.#jar?.update(url, response.headers.getSetCookie());
    return new TestResponse(response, bytes, url.href, errors(), catcher.environ);
  }
}
