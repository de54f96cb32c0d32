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

/**
 * Wraps `recorder` so that `secret` never reaches it in a request's target,
 * headers or environ.
 */
export function redactingRecorder(recorder: Recorder, secret: string): Recorder {
  if (secret === "") throw new RangeError("Cannot redact an empty secret");
  const hide = (text: string) => text.includes(secret) ? text.replaceAll(secret, REDACTED) : text;
  const hidePairs = (pairs: Pair[]): Pair[] =>
    pairs.some(([name, value]) => name.includes(secret) || value.includes(secret))
      ? pairs.map(([name, value]) => [hide(name), hide(value)])
      : pairs;
  const hideEnviron = (environ: Readonly<Record<string, unknown>>) => {
    let copy: Record<string, unknown> | undefined;
    for (const key in environ) {
      const value = environ[key];
      if (typeof value === "string" && value.includes(secret)) {
        copy ??= { ...environ };
        copy[key] = hide(value);
      }
    }
    return copy ?? environ;
  };
  return {
    begin(request, time) {
      const inner = recorder.begin(request, time);
      if (inner === undefined) return undefined;
      const exchange: ExchangeRecorder = {
        record<K extends EventType>(type: K, data: EventMap[K], at?: number) {
          if (type === "request") {
            const d = data as EventMap["request"];
            const redacted: EventMap["request"] = {
              ...d,
              target: hide(d.target),
              headers: hidePairs(d.headers),
            };
            inner.record("request", redacted, at);
          } else if (type === "environ") {
            const d = data as EventMap["environ"];
            inner.record("environ", { environ: hideEnviron(d.environ) }, at);
          } else inner.record(type, data, at);
        },
      };
      return exchange;
    },
  };
}
