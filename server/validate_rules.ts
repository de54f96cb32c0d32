/**
 * The checks of `wsgiref.validate` on values: the environ a server hands
 * over, and the status and headers an application gives `start_response`.
 * Pure functions of what they check, reporting through a {@linkcode Failer};
 * `validate.ts` runs them and lists every rule.
 *
 * Statuses, header names and values, `wsgi.version` and the stream
 * classes seen to pass are remembered (bounded), so that the checks cost
 * little when an application sends the same strings with every response.
 *
 * @module
 */

import { show } from "./rules.ts";

/** Where a broken rule goes: reported, and thrown when strict. */
export interface Failer {
  fail(rule: string, message: string): void;
}

const REQUIRED = [
  "REQUEST_METHOD",
  "SERVER_NAME",
  "SERVER_PORT",
  "wsgi.version",
  "wsgi.input",
  "wsgi.errors",
  "wsgi.multithread",
  "wsgi.multiprocess",
  "wsgi.run_once",
];
const METHODS = new Set(["GET", "HEAD", "POST", "OPTIONS", "PATCH", "PUT", "DELETE", "TRACE"]);
const HEADER_NAME = /^[a-zA-Z][a-zA-Z0-9\-_]*$/;
// deno-lint-ignore no-control-regex -- finding control characters is the point
const BAD_HEADER_VALUE = /[\x00-\x1f]/;

/**
 * Statuses, header names and header values already seen to pass, so that
 * each is checked once: apps send the same few strings with every response.
 * Bounded, as in `rules.ts`: short strings, and at most `GOOD_MAX` of each.
 */
const GOOD_STATUS = new Set<string>();
const GOOD_NAMES = new Set<string>();
const GOOD_VALUES = new Set<string>();
const GOOD_MAX = 1024;

function remember(set: Set<string>, text: string): void {
  if (set.size < GOOD_MAX && text.length <= 256) set.add(text);
}

/** The `wsgi.version` last seen to pass (the gateway shares one frozen array). */
let goodVersion: unknown;
/** Prototypes of `wsgi.input` and `wsgi.errors` objects seen to have every method. */
const goodStreams = new WeakSet<object>();

/** Whether `stream` has every method in `methods` (remembered by prototype). */
function hasMethods(stream: unknown, methods: readonly PropertyKey[]): boolean {
  if (typeof stream !== "object" || stream === null) return false;
  const proto = Object.getPrototypeOf(stream);
  if (proto !== null && proto !== Object.prototype && goodStreams.has(proto)) return true;
  for (const m of methods) {
    if (typeof (stream as Record<PropertyKey, unknown>)[m] !== "function") return false;
  }
  if (proto !== null && proto !== Object.prototype) goodStreams.add(proto);
  return true;
}

const INPUT_METHODS = ["read", "readline", "readlines", Symbol.asyncIterator] as const;
const ERRORS_METHODS = ["flush", "write", "writelines"] as const;
const REQUIRED_KEYS = new Set(REQUIRED);

export function checkEnviron(x: Failer, environ: Record<string, unknown>): void {
  // One pass over the keys: the required ones counted, the CGI ones typed.
  let required = 0;
  for (const key in environ) {
    if (REQUIRED_KEYS.has(key)) required++;
    if (key.includes(".")) continue;
    const value = environ[key];
    if (typeof value !== "string" && value !== undefined) {
      x.fail("environ.cgi_string", `Environ variable ${key} must be a string (got ${show(value)})`);
    }
  }
  if (required !== REQUIRED.length) {
    for (const key of REQUIRED) {
      if (!(key in environ)) {
        x.fail(
          "environ.required",
          `The environ is missing the required key ${show(key)}; the server must set it`,
        );
      }
    }
  }
  for (const key of ["HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"]) {
    if (environ[key] !== undefined) {
      x.fail(
        "environ.http_content",
        `The environ should not have ${key}; the header goes in ${key.slice(5)}`,
      );
    }
  }
  if (environ.QUERY_STRING === undefined) {
    x.fail(
      "environ.query_string",
      "QUERY_STRING is not in the environ; set it, if only to an empty string",
    );
  }
  const version = environ["wsgi.version"];
  if (version !== goodVersion) {
    if (Array.isArray(version) && version.length === 2 && version.every(Number.isInteger)) {
      if (Object.isFrozen(version)) goodVersion = version;
    } else {
      x.fail(
        "environ.version",
        `wsgi.version must be a [major, minor] array like [1, 0] (got ${show(version)})`,
      );
    }
  }
  const scheme = environ["wsgi.url_scheme"];
  if (scheme !== "http" && scheme !== "https") {
    x.fail("environ.url_scheme", `wsgi.url_scheme must be "http" or "https" (got ${show(scheme)})`);
  }
  const input = environ["wsgi.input"];
  if (!hasMethods(input, INPUT_METHODS)) {
    for (const method of INPUT_METHODS) {
      if (typeof (input as Record<PropertyKey, unknown> | undefined)?.[method] !== "function") {
        x.fail("environ.input", `wsgi.input (${show(input)}) has no ${String(method)} method`);
      }
    }
  }
  const errors = environ["wsgi.errors"];
  if (!hasMethods(errors, ERRORS_METHODS)) {
    for (const method of ERRORS_METHODS) {
      if (typeof (errors as Record<string, unknown> | undefined)?.[method] !== "function") {
        x.fail("environ.errors", `wsgi.errors (${show(errors)}) has no ${method} method`);
      }
    }
  }
  const method = environ.REQUEST_METHOD;
  if (!(typeof method !== "string" || METHODS.has(method))) {
    x.fail("environ.method", `Unknown REQUEST_METHOD ${show(method)}`);
  }
  const scriptName = environ.SCRIPT_NAME;
  const pathInfo = environ.PATH_INFO;
  if (!(!scriptName || (typeof scriptName === "string" && scriptName.startsWith("/")))) {
    x.fail(
      "environ.script_name",
      `SCRIPT_NAME must be empty or start with "/" (got ${show(scriptName)})`,
    );
  }
  if (!(!pathInfo || (typeof pathInfo === "string" && pathInfo.startsWith("/")))) {
    x.fail(
      "environ.path_info",
      `PATH_INFO must be empty or start with "/" (got ${show(pathInfo)})`,
    );
  }
  const length = environ.CONTENT_LENGTH;
  if (!(!length || (typeof length === "string" && /^[0-9]+$/.test(length)))) {
    x.fail(
      "environ.content_length",
      `CONTENT_LENGTH must be a non-negative integer (got ${show(length)})`,
    );
  }
  if (!scriptName && !("PATH_INFO" in environ)) {
    x.fail(
      "environ.path_required",
      'One of SCRIPT_NAME or PATH_INFO is required (PATH_INFO should at least be "/")',
    );
  }
  if (scriptName === "/") {
    x.fail(
      "environ.script_name_slash",
      'SCRIPT_NAME cannot be "/"; it should be "", and PATH_INFO "/"',
    );
  }
}

/** The status code of a status line, or `undefined` when it has none. */
function statusCode(status: unknown): number | undefined {
  if (typeof status !== "string" || status.length < 3) return undefined;
  let code = 0;
  for (let i = 0; i < 3; i++) {
    const digit = status.charCodeAt(i) - 48;
    if (digit < 0 || digit > 9) return undefined;
    code = code * 10 + digit;
  }
  return status.length === 3 || /\s/.test(status[3]!) ? code : undefined;
}

export function checkStatus(x: Failer, status: unknown): void {
  if (typeof status === "string" && GOOD_STATUS.has(status)) return;
  if (typeof status !== "string") {
    x.fail("status.type", `The status must be a string like "200 OK" (got ${show(status)})`);
    return;
  }
  const code = status.split(/\s+/, 1)[0] ?? "";
  if (!/^[0-9]{3}$/.test(code)) {
    x.fail("status.code", `The status must start with a 3-digit code (got ${show(status)})`);
    return;
  }
  let good = true;
  if (Number(code) < 100) {
    good = false;
    x.fail("status.range", `Status code ${code} is invalid; use 100-599`);
  }
  if (status.length < 4 || status[3] !== " ") {
    good = false;
    x.fail(
      "status.format",
      `The status ${
        show(status)
      } should be a 3-digit code, a single space and a reason phrase, like "200 OK"`,
    );
  }
  if (good) remember(GOOD_STATUS, status);
}

/** Checks one header name; true when it broke no rule. */
function checkName(x: Failer, name: string, value: string): boolean {
  if (GOOD_NAMES.has(name)) return true;
  let good = true;
  if (name.toLowerCase() === "status") {
    good = false;
    x.fail(
      "headers.status",
      `The Status header cannot be used: it is CGI's, and WSGI gives the status to start_response (value ${
        show(value)
      })`,
    );
  }
  if (name.includes(":") || name.includes("\n")) {
    good = false;
    x.fail(
      "headers.name_chars",
      `Header names may not contain ":" or a newline (got ${show(name)})`,
    );
  } else if (!HEADER_NAME.test(name)) {
    good = false;
    x.fail(
      "headers.name",
      `Bad header name ${show(name)}: a letter, then letters, digits, "-" or "_"`,
    );
  }
  if (name.endsWith("-") || name.endsWith("_")) {
    good = false;
    x.fail("headers.name_end", `Header names may not end in "-" or "_" (got ${show(name)})`);
  }
  if (good) remember(GOOD_NAMES, name);
  return good;
}

export function checkHeaders(x: Failer, headers: unknown): void {
  if (!Array.isArray(headers)) {
    x.fail(
      "headers.type",
      `The headers must be an array of [name, value] pairs (got ${show(headers)})`,
    );
    return;
  }
  for (const item of headers) {
    if (!Array.isArray(item) || item.length !== 2) {
      x.fail("headers.pair", `Each header must be a [name, value] pair (got ${show(item)})`);
      continue;
    }
    const [name, value] = item as unknown[];
    if (typeof name !== "string" || typeof value !== "string") {
      x.fail(
        "headers.string",
        `Header names and values must be strings (got [${show(name)}, ${show(value)}])`,
      );
      continue;
    }
    checkName(x, name, value);
    if (GOOD_VALUES.has(value)) continue;
    const bad = BAD_HEADER_VALUE.exec(value);
    if (bad === null) remember(GOOD_VALUES, value);
    else {
      x.fail(
        "headers.value",
        `Bad value of header ${show(name)}: ${show(value)} holds the control character ${
          JSON.stringify(bad[0])
        }`,
      );
    }
  }
}

export function checkContentType(x: Failer, status: unknown, headers: unknown): void {
  const code = statusCode(status);
  if (code === undefined || !Array.isArray(headers)) return;
  const noBody = code < 200 || code === 204 || code === 304;
  let has = false;
  for (let i = 0; i < headers.length; i++) {
    const name = (headers[i] as unknown[] | undefined)?.[0];
    if (typeof name === "string" && name.length === 12 && name.toLowerCase() === "content-type") {
      has = true;
      break;
    }
  }
  if (has && noBody) {
    x.fail(
      "content_type.forbidden",
      `A Content-Type header was given in a ${code} response, which must not have content; leave it out`,
    );
  } else if (!has && !noBody) {
    x.fail(
      "content_type.missing",
      `No Content-Type header in a ${code} response; add one, e.g. ["Content-Type", "text/html; charset=utf-8"]`,
    );
  }
}
