/**
 * The replay editor: method, path and query, headers (one `Name: value` a
 * line) and body, prefilled from the recorded request. Submitting sends only
 * what differs from the original, as a `ReplayRequest`. After a replay,
 * {@linkcode ReplayChanges} lists how the request sent differed from the
 * recorded one (as the server reports it, framing repairs included).
 *
 * @module
 */

import { useState } from "preact/hooks";
import type { ReplayChange, ReplayRequest } from "../protocol.ts";
import { strictUtf8 } from "./bytes.ts";
import { formatBytes } from "./format.ts";
import type { OpenExchange } from "./open_exchange.ts";

/** Props of {@linkcode ReplayForm}. */
export interface ReplayFormProps {
  exchange: OpenExchange;
  onSubmit: (edit: ReplayRequest) => void;
  onCancel: () => void;
  busy?: boolean;
}

const headersText = (headers: [string, string][]) =>
  headers.map(([n, v]) => `${n}: ${v}`).join("\n");

/** Parses `Name: value` lines; blank lines are skipped. */
export function parseHeaderLines(text: string): [string, string][] {
  return text.split(/\r?\n/).filter((line) => line.trim() !== "").map((line) => {
    const colon = line.indexOf(":");
    return colon === -1
      ? [line.trim(), ""]
      : [line.slice(0, colon).trim(), line.slice(colon + 1).trim()];
  });
}

/** The form that edits a request before replaying it. */
export function ReplayForm({ exchange, onSubmit, onCancel, busy }: ReplayFormProps) {
  const request = exchange.state.request;
  const originalMethod = request?.method ?? exchange.summary.method;
  const originalTarget = request?.target ?? exchange.summary.target;
  const originalHeaders = headersText(request?.headers ?? []);
  // The body as the client sent it (what the app read, and what was drained).
  const originalBody = strictUtf8(exchange.request.bytes());
  const binary = originalBody === undefined;
  const [method, setMethod] = useState(originalMethod);
  const [target, setTarget] = useState(originalTarget);
  const [headers, setHeaders] = useState(originalHeaders);
  const [body, setBody] = useState(originalBody ?? "");

  const submit = (e: Event) => {
    e.preventDefault();
    const edit: ReplayRequest = {};
    if (method !== originalMethod) edit.method = method;
    if (target !== originalTarget) edit.target = target;
    if (headers !== originalHeaders) edit.headers = parseHeaderLines(headers);
    if (!binary && body !== originalBody) edit.body = body;
    onSubmit(edit);
  };

  return (
    <form class="replay-form" data-testid="replay-form" onSubmit={submit}>
      <div class="line">
        <input
          class="mono method-input"
          aria-label="Method"
          data-testid="replay-method"
          value={method}
          onInput={(e) => setMethod(e.currentTarget.value.toUpperCase())}
        />
        <input
          class="mono grow"
          aria-label="Path and query"
          data-testid="replay-target"
          value={target}
          onInput={(e) => setTarget(e.currentTarget.value)}
        />
      </div>
      <label>
        Headers <span class="muted">one “Name: value” a line</span>
        <textarea
          class="mono"
          rows={5}
          data-testid="replay-headers"
          value={headers}
          onInput={(e) => setHeaders(e.currentTarget.value)}
        />
      </label>
      <label>
        Body {binary && <span class="muted">binary: replayed as recorded</span>}
        <textarea
          class="mono"
          rows={4}
          disabled={binary}
          data-testid="replay-body"
          value={body}
          onInput={(e) => setBody(e.currentTarget.value)}
        />
      </label>
      <div class="line end">
        <button type="button" onClick={onCancel}>Cancel</button>
        <button type="submit" class="primary" disabled={busy} data-testid="replay-send">
          Send
        </button>
      </div>
    </form>
  );
}

/**
 * One change of a replay as a line of text.
 *
 * @example
 * ```ts
 * import { describeChange } from "./replay_form.tsx";
 * console.assert(describeChange({ part: "method", from: "GET", to: "PUT" }) === "method: GET → PUT");
 * console.assert(describeChange({ part: "header", name: "x-a", from: null, to: "1" }) === "header added: x-a: 1");
 * ```
 */
export function describeChange(change: ReplayChange): string {
  switch (change.part) {
    case "method":
    case "target":
      return `${change.part}: ${change.from} → ${change.to}`;
    case "header":
      return change.from === null
        ? `header added: ${change.name}: ${change.to}`
        : change.to === null
        ? `header removed: ${change.name}: ${change.from}`
        : `header ${change.name}: ${change.from} → ${change.to}`;
    case "body":
      return change.from === change.to
        ? `body: other bytes, ${formatBytes(change.to)}`
        : `body: ${formatBytes(change.from)} → ${formatBytes(change.to)}`;
  }
}

/** How a replay's request differed from the recorded one, or that it did not. */
export function ReplayChanges({ changes }: { changes: ReplayChange[] }) {
  return (
    <div class="note replay-changes" data-testid="replay-changes">
      {changes.length === 0 ? <p>Replayed exactly as recorded.</p> : (
        <>
          <p>Replayed with {changes.length} change{changes.length === 1 ? "" : "s"}:</p>
          <ul>
            {changes.map((change, i) => (
              <li key={i} class="mono" data-testid="replay-change">{describeChange(change)}</li>
            ))}
          </ul>
        </>
      )}
    </div>
  );
}
