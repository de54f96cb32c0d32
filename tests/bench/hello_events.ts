/**
 * The events of a hello-world exchange after its environ, as the gateway
 * hands them to a recorder: the fixture of the recording benchmarks
 * (`record_bench.ts`, `store_loop.ts`), which add the `request` and
 * `environ` events they measure.
 *
 * @module
 */

import type { EventMap, EventType } from "../../server/recorder.ts";

/** `call`, `start_response`, one chunk, `close`, `headers_sent`, `end`, for `body` with `headers`. */
export function helloAnswer(
  headers: [string, string][],
  body: Uint8Array,
): [EventType, EventMap[EventType]][] {
  return [
    ["call", { app: "application" }],
    ["start_response", { status: "200 OK", headers, exc_info: false }],
    ["chunk", { index: 0, bytes: body }],
    ["close", { called: false }],
    ["headers_sent", { status: 200, status_line: "200 OK", headers }],
    ["end", { status: 200, bytes: body.length }],
  ];
}
