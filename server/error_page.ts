/**
 * The 500 page: itself a WSGI application, run through the same gateway as
 * any other (as wsgiref's `error_output` and Werkzeug's `InternalServerError`
 * do), so the inspector records it like any exchange.
 *
 * @module
 */

import type { Application } from "./types.ts";
import { ProtocolError } from "./rules.ts";
import { RequestBodyTooLarge } from "./input.ts";

const encoder = new TextEncoder();

/** A one-paragraph description of an error: its message, or for a non-Error its value. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `Thrown value: ${String(error)}`;
}

/**
 * Makes the application that answers `500 Internal Server Error` for `error`
 * (`413 Content Too Large` for a {@linkcode RequestBodyTooLarge}).
 *
 * The body is plain text that names what went wrong: for a broken rule the
 * rule and its fix, for a body over the limit the limit, for an exception its
 * message and stack (this is a development server; never expose it to the
 * internet).
 */
export function errorPage(error: unknown): Application {
  return (_environ, start_response) => {
    const status = error instanceof RequestBodyTooLarge
      ? "413 Content Too Large"
      : "500 Internal Server Error";
    let text = status + "\n\n" + describeError(error) + "\n";
    if (error instanceof ProtocolError) text += `\n(rule: ${error.rule})\n`;
    else if (error instanceof Error && error.stack && !(error instanceof RequestBodyTooLarge)) {
      text += "\n" + error.stack.split("\n").slice(1).join("\n") + "\n";
    }
    const body = encoder.encode(text);
    start_response(status, [
      ["Content-Type", "text/plain; charset=utf-8"],
      ["Content-Length", String(body.length)],
    ]);
    return [body];
  };
}
