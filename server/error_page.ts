/**
 * The 500 page: itself a WSGI application, run through the same gateway as
 * any other (as wsgiref's `error_output` and Werkzeug's `InternalServerError`
 * do), so the inspector records it like any exchange.
 *
 * By default it is bare: `500 Internal Server Error` and nothing about the
 * error, which goes to the log (and the inspector) instead. `debug: true`
 * (in the gateway's options) puts the message and stack in the page; the CLI
 * passes its own debug page (`server/dev/debug_page.ts`). A request body over
 * the limit is a `413` that says so either way: that is about the request,
 * not the server's internals.
 *
 * @module
 */

import type { Application, Environ } from "./types.ts";
import { ProtocolError } from "./rules.ts";
import { RequestBodyTooLarge } from "./input.ts";

const encoder = new TextEncoder();

/** Makes the page that answers `error`; `environ` is the failed request's, when built. */
export type ErrorPage = (error: unknown, environ: Environ | undefined) => Application;

/** A one-paragraph description of an error: its message, or for a non-Error its value. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `Thrown value: ${String(error)}`;
}

function plain(status: string, text: string): Application {
  return (_environ, start_response) => {
    const body = encoder.encode(text);
    start_response(status, [
      ["Content-Type", "text/plain; charset=utf-8"],
      ["Content-Length", String(body.length)],
    ]);
    return [body];
  };
}

/**
 * Makes the application that answers `500 Internal Server Error` for `error`
 * (`413 Content Too Large` for a {@linkcode RequestBodyTooLarge}, with the
 * limit).
 *
 * Bare unless `detailed`: then the body is plain text that names what went
 * wrong, for a broken rule the rule and its fix, for an exception its message
 * and stack (never expose that to the internet).
 */
export function errorPage(error: unknown, detailed = false): Application {
  if (error instanceof RequestBodyTooLarge) {
    return plain("413 Content Too Large", `413 Content Too Large\n\n${describeError(error)}\n`);
  }
  let text = "500 Internal Server Error\n";
  if (detailed) {
    text += "\n" + describeError(error) + "\n";
    if (error instanceof ProtocolError) text += `\n(rule: ${error.rule})\n`;
    else if (error instanceof Error && error.stack) {
      text += "\n" + error.stack.split("\n").slice(1).join("\n") + "\n";
    }
  }
  return plain("500 Internal Server Error", text);
}

/** The `504 Gateway Timeout` page of an exchange that ran past the gateway's timeout. */
export function timeoutPage(seconds: number): Application {
  return plain(
    "504 Gateway Timeout",
    `504 Gateway Timeout\n\nThe application did not answer within ${seconds} s.\n`,
  );
}
