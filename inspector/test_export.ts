/**
 * An exchange as a `deno test` file: the recorded request (method, target,
 * headers, body as the client sent it) sent in-process to the app through
 * `toFetch` (a target that `new Request()` would change goes as
 * `HandlerInfo.target`, as sent), and the answer checked against the recording: its status, its
 * meaningful headers (`Content-Type` and the app's own; not `Date`, not
 * hop-by-hop) and its body (as text when it is text, as bytes otherwise).
 * `GET /api/exchanges/:id/test` serves it as a download.
 *
 * The file names the app by a relative import, from the folder the CLI was
 * started in (save the file there, or fix the import: a comment at its top
 * says so), and takes the export the way the CLI does: the name given as
 * `MODULE:NAME`, else `application`, else the default export, else `fetch`
 * (a fetch handler goes through `fromFetch`). Everything recorded goes into
 * the file as string literals (`JSON.stringify`), never as code, so no
 * recorded byte can run: recorded data is attacker-controlled.
 *
 * @module
 */

import type { ExchangeDetail, Pair } from "./protocol.ts";
import { reduce } from "./timeline.ts";

/** Where the generated file finds the app and this project's `mod.ts`. */
export interface TestImports {
  /** The app module, as the file imports it (`./app.ts`). */
  app: string;
  /** The export to call, when the CLI was given one (`MODULE:NAME`). */
  name?: string;
  /** This project's `mod.ts`, as the file imports it. */
  mod: string;
}

/** Hop-by-hop headers (RFC 9110 7.6.1), which the gateway neither sends on nor the test checks. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-authenticate",
  "proxy-authorization",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/** Response headers whose value changes from run to run: not checked. */
const VOLATILE = new Set(["date"]);

/** Request headers a `Request` built in-process must not carry as recorded. */
const REQUEST_SKIP = new Set([...HOP_BY_HOP, "content-length"]);

const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const TEXT_TYPE =
  /^\s*(text\/|application\/([\w.+-]*\+)?(json|xml|javascript|ecmascript|x-www-form-urlencoded)|[\w.+-]+\/[\w.+-]*\+(json|xml))/i;
// deno-lint-ignore no-control-regex
const CONTROLS = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

/** The bytes as text, when they are UTF-8 text (and the type does not say otherwise). */
function asText(bytes: Uint8Array, contentType: string | undefined): string | undefined {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return undefined;
  }
  if (contentType !== undefined && TEXT_TYPE.test(contentType)) return text;
  return CONTROLS.test(text) ? undefined : text;
}

/**
 * A JavaScript string literal of `text`: JSON, with the two line separators
 * JSON leaves raw escaped too, so the literal reads well in any editor.
 */
export function literal(text: string): string {
  return JSON.stringify(text).replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}

/** Text for a `//` comment: one line, no control or line-separator characters. */
function commentText(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f\u2028\u2029]/g, "?");
}

function header(headers: Pair[], name: string): string | undefined {
  for (const [n, v] of headers) if (n.toLowerCase() === name) return v;
  return undefined;
}

/** A body as a TypeScript expression: a string literal, or bytes from base64. */
function bodyExpression(bytes: Uint8Array, contentType: string | undefined): string {
  const text = asText(bytes, contentType);
  return text !== undefined ? literal(text) : `Uint8Array.fromBase64(${literal(bytes.toBase64())})`;
}

/**
 * Whether `new Request()` would send `target` as it is: it percent-encodes
 * non-ASCII characters and resolves dot segments, which a client's raw
 * target may hold (`Deno.serve` passes those on as sent).
 */
function survivesRequest(target: string): boolean {
  try {
    const url = new URL(`http://h${target}`);
    return url.pathname + url.search === target;
  } catch {
    return false;
  }
}

/** A safe identifier for an export name, or undefined. */
function exportName(name: string | undefined): string | undefined {
  return name !== undefined && /^[A-Za-z_$][\w$]*$/.test(name) ? name : undefined;
}

/**
 * The `deno test` file of one recorded exchange.
 *
 * @param exchange the exchange as the API serves it
 * @param imports where the file finds the app and `mod.ts`
 * @returns the file's text, or a string that says why there is none (a
 *   `RangeError` message) when the exchange has no request or no response
 *
 * @example
 * ```ts
 * import { testFile } from "./test_export.ts";
 * import { ExchangeStore } from "./store.ts";
 * import { toFetch } from "../server/gateway.ts";
 *
 * const store = new ExchangeStore();
 * const handler = toFetch((_environ, start_response) => {
 *   start_response("200 OK", [["Content-Type", "text/plain"]]);
 *   return [new TextEncoder().encode("hi")];
 * }, { recorder: store });
 * await (await handler(new Request("http://localhost/a"))).text();
 * const file = testFile(store.get("1")!.detail(), { app: "./app.ts", mod: "./mod.ts" });
 * console.assert(file.includes('assert.equal(await response.text(), "hi")'));
 * ```
 */
export function testFile(exchange: ExchangeDetail, imports: TestImports): string {
  const state = reduce(exchange.events);
  const request = state.request;
  const sent = state.headersSent;
  if (request === null) {
    throw new RangeError(
      `Cannot export exchange ${exchange.id} as a test: its request was not recorded`,
    );
  }
  if (sent === null) {
    throw new RangeError(
      `Cannot export exchange ${exchange.id} as a test: no response was sent (${exchange.state}); pick an exchange that got one`,
    );
  }
  const name = exportName(imports.name);
  const requestBody = Uint8Array.fromBase64(exchange.request.body.bytes);
  const requestComplete = !exchange.request.body.truncated;
  const produced = Uint8Array.fromBase64(exchange.response.body.bytes);
  const start = state.response.bodyStart;
  const responseBody = produced.subarray(Math.min(start, produced.length));
  const responseSize = exchange.response.body.size - start;
  const responseWhole = responseBody.length === responseSize;
  const host = header(request.headers, "host") ?? "localhost";
  const scheme = typeof state.environ?.["wsgi.url_scheme"] === "string"
    ? state.environ["wsgi.url_scheme"]
    : "http";

  const requestHeaders = request.headers.filter(([n]) => !REQUEST_SKIP.has(n.toLowerCase()));
  const rawTarget = !survivesRequest(request.target);
  const hasBody = requestBody.length > 0 && request.method !== "GET" && request.method !== "HEAD";

  // The app's headers, grouped by name (in order of first appearance).
  const groups = new Map<string, { name: string; values: string[] }>();
  for (const [n, v] of sent.headers) {
    const key = n.toLowerCase();
    if (HOP_BY_HOP.has(key) || VOLATILE.has(key)) continue;
    const group = groups.get(key) ?? { name: n, values: [] };
    group.values.push(v);
    groups.set(key, group);
  }
  const skipped = sent.headers.filter(([n]) =>
    HOP_BY_HOP.has(n.toLowerCase()) || VOLATILE.has(n.toLowerCase())
  ).map(([n]) => n);

  const L: string[] = [];
  L.push(
    `// A test of exchange #${exchange.id} recorded by the wsgi-deno inspector:`,
    `//   ${commentText(`${request.method} ${request.target}`)} -> ${commentText(sent.statusLine)}`,
    `// It sends the recorded request to the app in-process (toFetch, no socket) and checks`,
    `// the status, the app's headers and the body it answered then.`,
    `//`,
    `// The two imports below are relative to the folder the server was started in: save this`,
    `// file there and run \`deno test -A ${`exchange_${exchange.id}_test.ts`}\`, or fix them to point at`,
    `// your app module (${commentText(imports.app)}) and at this project's mod.ts.`,
  );
  if (!requestComplete) {
    L.push(
      `// NOTE: the request body was captured only in part (${requestBody.length} of ${exchange.request.body.size}${
        exchange.request.body.truncated && requestBody.length === exchange.request.body.size
          ? "+"
          : ""
      } bytes): the test sends what was kept.`,
    );
  }
  if (skipped.length > 0) {
    L.push(
      `// Not checked: ${
        commentText([...new Set(skipped)].join(", "))
      } (changes from run to run, or belongs to the connection).`,
    );
  }
  L.push(
    ``,
    `import assert from "node:assert/strict";`,
    `import * as appModule from ${literal(imports.app)};`,
    `import { type Application, fromFetch, toFetch } from ${literal(imports.mod)};`,
    ``,
    `/** The app the server ran: the export it names, as the CLI picks it. */`,
    `function theApplication(): Application {`,
    `  const exports = appModule as Record<string, unknown>;`,
    `  const names = [${
      (name ? [name] : ["application", "default", "fetch"]).map(literal).join(", ")
    }];`,
    `  for (const key of names) {`,
    `    const value = exports[key];`,
    `    if (typeof value === "function" && key !== "fetch") return value as Application;`,
    `    const fetch = key === "fetch" ? value : (value as { fetch?: unknown } | undefined)?.fetch;`,
    `    if (typeof fetch === "function") {`,
    `      return fromFetch((request) => (fetch as (r: Request) => Response | Promise<Response>).call(value, request));`,
    `    }`,
    `  }`,
    `  throw new Error(\`No application exported by \${${
      literal(imports.app)
    }} (looked for \${names.join(", ")})\`);`,
    `}`,
    ``,
    `Deno.test(${
      literal(`${request.method} ${request.target} answers ${sent.status} as recorded`)
    }, async () => {`,
    `  const handler = toFetch(theApplication());`,
    `  const request = new Request(${literal(`${scheme}://${host}${request.target}`)}, {`,
    `    method: ${literal(request.method)},`,
    `    headers: [`,
  );
  for (const [n, v] of requestHeaders) L.push(`      [${literal(n)}, ${literal(v)}],`);
  L.push(`    ],`);
  if (hasBody) {
    L.push(
      `    body: ${bodyExpression(requestBody, header(request.headers, "content-type"))},`,
    );
  }
  L.push(`  });`);
  if (rawTarget) {
    L.push(
      `  // new Request() would percent-encode this target (or resolve its dot segments); the`,
      `  // gateway is given it as the client sent it.`,
      `  const response = await handler(request, { target: ${literal(request.target)} });`,
    );
  } else L.push(`  const response = await handler(request);`);
  L.push(
    ``,
    `  assert.equal(response.status, ${sent.status});`,
  );
  for (const [key, { name: headerName, values }] of groups) {
    if (key === "set-cookie") {
      L.push(
        `  assert.deepEqual(response.headers.getSetCookie(), ${`[${
          values.map(literal).join(", ")
        }]`});`,
      );
    } else {
      L.push(
        `  assert.equal(response.headers.get(${literal(headerName)}), ${
          literal(values.join(", "))
        });`,
      );
    }
  }
  const contentType = header(sent.headers, "content-type");
  if (request.method === "HEAD" || sent.status === 204 || sent.status === 304) {
    L.push(`  assert.equal((await response.arrayBuffer()).byteLength, 0);`);
  } else if (!responseWhole) {
    L.push(
      `  // The recorded body was captured only in part: ${responseBody.length} of ${responseSize} bytes.`,
      `  const body = new Uint8Array(await response.arrayBuffer());`,
      `  assert.equal(body.length, ${responseSize});`,
      `  assert.deepEqual(body.subarray(0, ${responseBody.length}), Uint8Array.fromBase64(${
        literal(responseBody.toBase64())
      }));`,
    );
  } else {
    const text = asText(responseBody, contentType);
    if (text !== undefined) L.push(`  assert.equal(await response.text(), ${literal(text)});`);
    else {
      L.push(
        `  assert.deepEqual(`,
        `    new Uint8Array(await response.arrayBuffer()),`,
        `    Uint8Array.fromBase64(${literal(responseBody.toBase64())}),`,
        `  );`,
      );
    }
  }
  L.push(`});`, ``);
  return L.join("\n");
}
