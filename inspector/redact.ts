/**
 * Defence in depth for token mode: a {@linkcode Recorder} that hides the
 * inspector's access token wherever it appears in what the gateway records
 * of a request (the target, every header value, every string of the
 * environ), so that no detail, HAR export, copy as curl or replay can carry
 * it on. The page keeps the token out of cookies, so the browser never sends
 * it to the app; this catches the rest (a URL pasted into the app, a script
 * that copies it). The app itself still gets the request unchanged: only the
 * record is redacted.
 *
 * Used only when a token is asked for; without one the store is the
 * recorder, and the hot path has no extra step.
 *
 * @example
 * ```ts
 * import { redactingRecorder, REDACTED } from "./redact.ts";
 * import { ExchangeStore } from "./store.ts";
 * import { toFetch } from "../server/gateway.ts";
 *
 * const store = new ExchangeStore();
 * const handler = toFetch((_environ, start_response) => {
 *   start_response("204 No Content", []);
 *   return [];
 * }, { recorder: redactingRecorder(store, "s3cret") });
 * await handler(new Request("http://localhost/?t=s3cret", { headers: { cookie: "a=s3cret" } }));
 * const detail = store.get("1")!.detail();
 * console.assert(detail.target === `/?t=${REDACTED}` && !JSON.stringify(detail).includes("s3cret"));
 * ```
 *
 * @module
 */

import type { EventMap, EventType, ExchangeRecorder, Pair, Recorder } from "../server/recorder.ts";

/** What replaces the token in a record. */
export const REDACTED = "[inspector-token]";

/** Hides a secret in what is recorded of a request (see {@linkcode redaction}). */
export interface Redaction {
  /** The `request` event's payload with the secret hidden (the same object when it has none). */
  request(data: EventMap["request"]): EventMap["request"];
  /** The environ with the secret hidden in its strings (a shallow copy; the same object when it has none). */
  environ(environ: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>>;
}

/**
 * Hides `secret` in a request's target, header names and values and environ
 * strings, replacing it with {@linkcode REDACTED}; what has none of it is
 * passed on as it is.
 *
 * @throws {RangeError} for an empty secret
 */
export function redaction(secret: string): Redaction {
  if (secret === "") throw new RangeError("Cannot redact an empty secret");
  const hide = (text: string) => text.includes(secret) ? text.replaceAll(secret, REDACTED) : text;
  const hidePairs = (pairs: Pair[]): Pair[] =>
    pairs.some(([name, value]) => name.includes(secret) || value.includes(secret))
      ? pairs.map(([name, value]) => [hide(name), hide(value)])
      : pairs;
  return {
    request(d) {
      const headers = hidePairs(d.headers);
      if (headers === d.headers && !d.target.includes(secret)) return d;
      return { ...d, target: hide(d.target), headers };
    },
    environ(environ) {
      let copy: Record<string, unknown> | undefined;
      for (const key in environ) {
        const value = environ[key];
        if (typeof value === "string" && value.includes(secret)) {
          copy ??= { ...environ };
          copy[key] = hide(value);
        }
      }
      return copy ?? environ;
    },
  };
}

/**
 * Wraps `recorder` so that `secret` never reaches it in a request's target,
 * headers or environ.
 *
 * @throws {RangeError} for an empty secret
 */
export function redactingRecorder(recorder: Recorder, secret: string): Recorder {
  const redact = redaction(secret);
  return {
    begin(request, time) {
      const inner = recorder.begin(request, time);
      if (inner === undefined) return undefined;
      const exchange: ExchangeRecorder = {
        // How much of an unread request body the store still wants (see server/recorder.ts).
        get restWanted() {
          return inner.restWanted;
        },
        record<K extends EventType>(type: K, data: EventMap[K], at?: number) {
          if (type === "request") {
            inner.record("request", redact.request(data as EventMap["request"]), at);
          } else if (type === "environ") {
            const d = data as EventMap["environ"];
            inner.record("environ", { environ: redact.environ(d.environ) }, at);
          } else inner.record(type, data, at);
        },
      };
      return exchange;
    },
  };
}
