/**
 * What a step of the timeline says in the page: a short label for the list
 * of steps, and what the step changed (a headline in the spec's words,
 * details, and the bytes it added), from the states before and after it.
 * Pure functions over the typed wire events and the shared reducer's state.
 *
 * @module
 */

import type { WireEvent } from "../protocol.ts";
import type { TimelineState } from "../timeline.ts";
import { formatBytes } from "./format.ts";

/** What one step changed: a headline and the byte ranges it added, if any. */
export interface StepChange {
  /** The event's name. */
  type: WireEvent["type"];
  /** One line saying what happened, in the spec's words. */
  summary: string;
  /** Further lines (headers set, bytes read, the error's stack). */
  details: string[];
  /** The range of the response's kept bytes this step added. */
  bodyRange?: [start: number, end: number];
  /** The range of the request's kept bytes this step added. */
  inputRange?: [start: number, end: number];
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;

/**
 * Says what `event` changed, given the state before it and after it.
 *
 * @example
 * ```ts
 * import { describeStep } from "./step_text.ts";
 * import { stateAt } from "../timeline.ts";
 * import type { WireEvent } from "../protocol.ts";
 * const events: WireEvent[] = [{ type: "call", t: 0, data: { app: "application" } }];
 * const change = describeStep(events[0]!, stateAt(events, -1), stateAt(events, 0));
 * console.assert(change.summary === "application(environ, start_response) called");
 * ```
 */
export function describeStep(
  event: WireEvent,
  before: TimelineState,
  after: TimelineState,
): StepChange {
  const change: StepChange = { type: event.type, summary: event.type, details: [] };
  switch (event.type) {
    case "request": {
      const d = event.data;
      change.summary = `Request arrived: ${d.method} ${d.target} ${d.version}`;
      if (d.peer) change.details.push(`from ${d.peer.hostname}:${d.peer.port}`);
      for (const [n, v] of d.headers) change.details.push(`${n}: ${v}`);
      break;
    }
    case "environ":
      change.summary = `environ built: ${Object.keys(event.data.environ).length} keys`;
      break;
    case "call":
      change.summary = `${event.data.app}(environ, start_response) called`;
      break;
    case "input": {
      const d = event.data;
      change.summary = `wsgi.input.${d.method}(${d.size ?? ""}) returned ${
        formatBytes(d.bytes.size)
      }`;
      change.details.push(`read so far: ${formatBytes(after.input.read)}`);
      change.inputRange = [before.input.kept, after.input.kept];
      break;
    }
    case "input_rest": {
      const d = event.data;
      change.summary = `After the response: ${
        formatBytes(d.bytes.size)
      } of the body the app left unread, drained${d.complete ? "" : " (stopped at the cap)"}`;
      change.details.push(
        `body as sent: ${formatBytes(after.input.size)}, of which the app read ${
          formatBytes(after.input.read)
        }`,
      );
      change.inputRange = [before.input.kept, after.input.kept];
      break;
    }
    case "start_response": {
      const sr = after.startResponse!;
      change.summary = `start_response(${JSON.stringify(sr.status)}, ${
        plural(sr.headers.length, "header")
      }${sr.excInfo ? ", exc_info" : ""})`;
      if (sr.error) change.details.push(`broke a rule: ${sr.error}`);
      for (const [n, v] of sr.headers) change.details.push(`${n}: ${v}`);
      break;
    }
    case "write":
    case "chunk": {
      const d = event.data;
      const what = event.type === "write" ? "write()" : "iterable yielded chunk";
      const parts = after.response.parts.length;
      change.summary = `${what} #${d.index}: ${formatBytes(d.bytes.size)}`;
      change.details.push(
        `body so far: ${formatBytes(after.response.size)} in ${plural(parts, "part")}`,
      );
      change.bodyRange = [before.response.kept, after.response.kept];
      break;
    }
    case "headers_sent": {
      const sent = after.headersSent!;
      change.summary = `Headers sent: ${sent.statusLine || sent.status}`;
      for (const [n, v] of sent.headers) change.details.push(`${n}: ${v}`);
      break;
    }
    case "errors":
      change.summary = `wsgi.errors.write(): ${JSON.stringify(event.data.text).slice(0, 120)}`;
      break;
    case "error": {
      const d = event.data;
      change.summary = `${d.name} in ${d.where}: ${d.message}`;
      if (d.stack !== undefined) change.details.push(d.stack);
      break;
    }
    case "lint":
      change.summary = event.data.rule === "client.left"
        ? `The client went away while the app was still running: ${event.data.message}`
        : `Rule broken (${event.data.rule}): ${event.data.message}`;
      break;
    case "close":
      change.summary = event.data.called
        ? "close() called on the iterable"
        : "close(): the iterable has none";
      break;
    case "end":
      change.summary = `Response finished: ${event.data.status}, ${formatBytes(event.data.bytes)}`;
      break;
    case "abort":
      change.summary = `Aborted: ${event.data.reason} after ${formatBytes(event.data.bytes)}`;
      break;
  }
  return change;
}

/** A short label for an event in the list of steps: its main figure. */
export function stepLabel(event: WireEvent): string {
  switch (event.type) {
    case "request":
      return `${event.data.method} ${event.data.target}`;
    case "start_response":
      return event.data.status;
    case "chunk":
    case "write":
      return `#${event.data.index} · ${formatBytes(event.data.bytes.size)}`;
    case "input":
      return `${event.data.method} · ${formatBytes(event.data.bytes.size)}`;
    case "input_rest":
      return `unread · ${formatBytes(event.data.bytes.size)}`;
    case "headers_sent":
      return String(event.data.status);
    case "error":
      return `${event.data.name}: ${event.data.message}`;
    case "end":
      return formatBytes(event.data.bytes);
    case "abort":
      return event.data.reason;
    case "errors":
      return event.data.text.trim().slice(0, 60);
    case "lint":
      return event.data.rule;
    default:
      return "";
  }
}
