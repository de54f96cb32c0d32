/**
 * The rules a recorded request must meet before the inspector sends it again
 * (replay, `./replay.ts`) or hands it to a shell ("Copy as curl",
 * `./ui/curl.ts`). A record may come from anywhere (an attacker's request, an
 * imported HAR), so its method, target and headers are checked, never
 * trusted: a CR or LF in one of them would write a second request, and a
 * target that is not origin-form could name another host.
 *
 * Pure, with no imports: the page's code (`./ui/`) may import it
 * (`tests/lint_layers.ts`). Each check answers the rule broken, with the
 * value got, or undefined when the value is fine.
 *
 * @module
 */

/** An HTTP token (RFC 9110 `tchar`s): what a method and a header name are made of. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A header value: visible ASCII, space, TAB and latin-1 bytes; no other control character. */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/**
 * An origin-form target: "/" (not "//") then visible characters: no ASCII or
 * C1 control, no whitespace of any kind, no backslash, no "#".
 */
// deno-lint-ignore no-control-regex -- refusing control characters is the point
const ORIGIN_FORM = /^\/(?!\/)[^\x00-\x20\x7f-\x9f\\#\s]*$/u;

const quote = (value: string) => JSON.stringify(value);

/**
 * Why `method` cannot be sent, or undefined when it is an HTTP token.
 *
 * @example
 * ```ts
 * import { checkMethod } from "./request_rules.ts";
 * console.assert(checkMethod("PATCH") === undefined);
 * console.assert(checkMethod("GET / HTTP/1.1\r\nX: 1\r\n\r\nGET")?.startsWith("method must be an HTTP token"));
 * ```
 */
export function checkMethod(method: string): string | undefined {
  if (TOKEN.test(method)) return undefined;
  return `method must be an HTTP token like "POST" (got ${quote(method)})`;
}

/**
 * Why `target` cannot be sent, or undefined when it is origin-form.
 *
 * @example
 * ```ts
 * import { checkTarget } from "./request_rules.ts";
 * console.assert(checkTarget("/a/b?c=%20d") === undefined);
 * console.assert(checkTarget("/\\127.0.0.1:9/x")?.includes("origin-form"));
 * console.assert(checkTarget("//evil.example/")?.includes("origin-form"));
 * ```
 */
export function checkTarget(target: string): string | undefined {
  if (ORIGIN_FORM.test(target) && target.isWellFormed()) return undefined;
  return `target must be origin-form: "/" then a path and query with no whitespace, control character, backslash or "#", and not "//" (got ${
    quote(target)
  })`;
}

/**
 * Why a header cannot be sent, or undefined when its name is an HTTP token
 * and its value holds no CR, LF, NUL or other control character (TAB
 * aside), and only latin-1 characters.
 *
 * @example
 * ```ts
 * import { checkHeader } from "./request_rules.ts";
 * console.assert(checkHeader("Accept", "text/html") === undefined);
 * console.assert(checkHeader("X", "a\r\nSet-Cookie: evil=1")?.includes("no CR, LF"));
 * ```
 */
export function checkHeader(name: string, value: string): string | undefined {
  if (!TOKEN.test(name)) {
    return `header names must be HTTP tokens like "Content-Type" (got ${quote(name)})`;
  }
  if (!FIELD_VALUE.test(value)) {
    return `header ${
      quote(name)
    } must hold no CR, LF or other control character, and only latin-1 characters (got ${
      quote(value)
    })`;
  }
  return undefined;
}
