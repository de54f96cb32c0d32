/**
 * The replay editor: method, path and query, headers (one `Name: value` a
 * line) and body, prefilled from the recorded request. Submitting sends only
 * what differs from the original, as a `ReplayRequest`.
 *
 * @module
 */

import { useState } from "preact/hooks";
import type { ReplayRequest } from "../protocol.ts";
import { strictUtf8 } from "./bytes.ts";
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
