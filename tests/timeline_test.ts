/**
 * The one reducer (`inspector/timeline.ts`) as a unit: folding is pure and
 * agrees with reducing, the state at each step, and the summary it computes.
 * (That its summaries equal the store's index is in `inspector_store_test.ts`.)
 *
 * @module
 */

import { deepEqual, equal, ok } from "node:assert/strict";
import type { WireEvent } from "../inspector/protocol.ts";
import {
  fold,
  initialState,
  reduce,
  sentPartOffsets,
  stateAt,
  summarize,
} from "../inspector/timeline.ts";

const ref = (stream: "request" | "response", offset: number, size: number, kept = size) => ({
  stream,
  offset,
  size,
  kept,
});

/** A POST whose app read 3 of 8 body bytes, failed a first start_response, wrote, yielded, and had the rest drained. */
const events: WireEvent[] = [
  {
    type: "request",
    t: 0,
    data: {
      method: "POST",
      target: "/p",
      version: "HTTP/1.1",
      peer: null,
      headers: [["content-length", "8"]],
      startedAt: 1000.4,
    },
  },
  { type: "environ", t: 0, data: { environ: { PATH_INFO: "/p" } } },
  { type: "call", t: 0, data: { app: "application" } },
  { type: "input", t: 1, data: { method: "read", size: 3, bytes: ref("request", 0, 3) } },
  {
    type: "start_response",
    t: 2,
    data: { status: "200", headers: [], exc_info: false, error: "bad status" },
  },
  { type: "lint", t: 2, data: { rule: "status.shape", message: "bad status" } },
  { type: "start_response", t: 3, data: { status: "200 OK", headers: [], exc_info: false } },
  { type: "write", t: 4, data: { index: 0, bytes: ref("response", 0, 2) } },
  { type: "chunk", t: 5, data: { index: 0, bytes: ref("response", 2, 0) } },
  { type: "chunk", t: 5, data: { index: 1, bytes: ref("response", 2, 4, 1) } },
  { type: "errors", t: 6, data: { text: "w", size: 3 } },
  { type: "close", t: 7, data: { called: true } },
  { type: "headers_sent", t: 7, data: { status: 200, status_line: "200 OK", headers: [] } },
  { type: "end", t: 8, data: { status: 200, bytes: 6, dropped_events: 0 } },
  { type: "input_rest", t: 9, data: { bytes: ref("request", 3, 5), complete: true } },
];

Deno.test("fold() leaves the state it was given as it was, and agrees with reduce()", () => {
  let state = initialState();
  const snapshots = [JSON.stringify(state)];
  for (const [i, event] of events.entries()) {
    const before = state;
    state = fold(state, event);
    equal(JSON.stringify(before), snapshots[i], `fold #${i} did not touch its input`);
    snapshots.push(JSON.stringify(state));
    deepEqual(state, reduce(events, i + 1), `fold and reduce agree after ${i + 1} events`);
  }
  deepEqual(stateAt(events, -1), initialState());
  deepEqual(stateAt(events, events.length - 1), reduce(events));
});

Deno.test("reduce() gives the state so far: rules broken, the accepted call, parts, streams", () => {
  const beforeEnd = stateAt(events, 12);
  equal(beforeEnd.startResponse?.status, "200 OK");
  equal(beforeEnd.statusSet?.status, "200 OK");
  equal(stateAt(events, 4).startResponse?.error, "bad status");
  equal(stateAt(events, 4).statusSet, null, "a call that broke a rule is not accepted");
  deepEqual(beforeEnd.lints.map((l) => l.rule), ["status.shape"]);
  deepEqual(beforeEnd.response.parts.map((p) => [p.kind, p.offset, p.size]), [
    ["write", 0, 2],
    ["chunk", 2, 0],
    ["chunk", 2, 4],
  ]);
  deepEqual(sentPartOffsets(beforeEnd), [0, 2], "empty parts mark no boundary");
  equal(beforeEnd.response.size, 6);
  equal(beforeEnd.response.kept, 3);
  ok(beforeEnd.truncated, "a part kept in part, and cut wsgi.errors text");
  const last = reduce(events);
  deepEqual(last.input, { read: 3, reads: 1, rest: 5, restComplete: true, size: 8, kept: 8 });
  equal(last.finished?.state, "complete");
  equal(last.closed?.called, true);
});

Deno.test("summarize() gives the list line from the state", () => {
  deepEqual(summarize(reduce(events), { seq: 4, replayOf: "2" }), {
    id: "4",
    seq: 4,
    startedAt: 1000,
    method: "POST",
    target: "/p",
    status: 200,
    statusLine: "200 OK",
    duration: 8,
    requestBytes: 3,
    responseBytes: 6,
    state: "complete",
    truncated: true,
    errors: 0,
    replayOf: "2",
  });
  const pending = summarize(stateAt(events, 9), { seq: 4 });
  equal(pending.state, "pending");
  equal(pending.duration, null);
  equal(pending.status, null);
  equal(pending.responseBytes, 6, "while pending: the bytes produced so far");
});
