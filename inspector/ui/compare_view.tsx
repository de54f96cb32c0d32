/**
 * Two exchanges side by side: their headlines, then what differs in their
 * environs, request headers, response headers, bodies (a line diff of text,
 * or where binary bodies first differ) and timelines (step by step). Rows
 * that are the same on both sides are folded away by default, counted.
 * Pure and controlled: the two exchanges come from the compare store. A part
 * that throws on some record shows a short error in its place
 * (`./error_boundary.tsx`); Swap and Close still work.
 *
 * @module
 */

import { useMemo, useState } from "preact/hooks";
import {
  type BodyDiff,
  diffBodies,
  diffEnviron,
  diffHeaders,
  type DiffRow,
  diffTimelines,
  MAX_DIFF_EDITS,
  MAX_DIFF_MS,
} from "./compare.ts";
import { ErrorBoundary } from "./error_boundary.tsx";
import { formatBytes, formatMs, statusClass } from "./format.ts";
import type { OpenExchange } from "./open_exchange.ts";
import { summarize } from "../timeline.ts";

/** Props of {@linkcode CompareView}. */
export interface CompareViewProps {
  left: OpenExchange;
  right: OpenExchange;
  onSwap: () => void;
  onClose: () => void;
  /** Opens one of the two. */
  onOpen: (id: string) => void;
}

function Side({ exchange, onOpen }: { exchange: OpenExchange; onOpen: (id: string) => void }) {
  const s = summarize(exchange.state, exchange.summary);
  return (
    <div class="compare-side" data-testid="compare-side" data-id={s.id}>
      <button type="button" class="link mono" onClick={() => onOpen(s.id)} title="Open it">
        #{s.id}
      </button>{" "}
      <span class={`method m-${s.method.toLowerCase()}`}>{s.method}</span>{" "}
      <span class="mono">{s.target}</span>
      <div class="facts">
        <span class={`status ${statusClass(s.status)}`}>{s.statusLine ?? s.status ?? s.state}</span>
        <span>{formatMs(s.duration)}</span>
        <span>{formatBytes(s.responseBytes)}</span>
      </div>
    </div>
  );
}

/** A side-by-side table of rows; the same ones folded unless asked for. */
function DiffTable(
  { title, rows, testid }: { title: string; rows: DiffRow[]; testid: string },
) {
  const [all, setAll] = useState(false);
  const changed = rows.filter((r) => !r.same);
  const shown = all ? rows : changed;
  return (
    <section class="compare-section" data-testid={testid} data-changed={changed.length}>
      <h4>
        {title}{" "}
        <span class="muted">
          {changed.length === 0 ? "the same" : `${changed.length} of ${rows.length} differ`}
        </span>
        {rows.length > changed.length && (
          <button
            type="button"
            class="link"
            onClick={() => setAll(!all)}
          >
            {all ? "hide the same" : `show the same (${rows.length - changed.length})`}
          </button>
        )}
      </h4>
      {shown.length > 0 && (
        <table class="kv diff">
          <tbody>
            {shown.map((row) => (
              <tr
                key={row.name}
                class={row.same ? "" : "changed"}
                data-testid="diff-row"
                data-name={row.name}
              >
                <th class="mono">{row.name}</th>
                <td class={`mono ${row.left === undefined ? "absent" : ""}`}>
                  {row.left ?? "(absent)"}
                </td>
                <td class={`mono ${row.right === undefined ? "absent" : ""}`}>
                  {row.right ?? "(absent)"}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function BodyDiffView({ title, diff, testid }: { title: string; diff: BodyDiff; testid: string }) {
  return (
    <section class="compare-section" data-testid={testid} data-kind={diff.kind}>
      <h4>
        {title}{" "}
        <span class="muted">
          {diff.kind === "equal"
            ? `the same (${formatBytes(diff.size)})`
            : diff.kind === "binary"
            ? `${formatBytes(diff.left)} and ${
              formatBytes(diff.right)
            }; they first differ at byte ${diff.firstDifference}`
            : diff.kind === "too-different"
            ? `${formatBytes(diff.left)} and ${
              formatBytes(diff.right)
            } of text that differ too much to diff line by line (over ${MAX_DIFF_EDITS} changed lines, or ${MAX_DIFF_MS} ms of work); they first differ at byte ${diff.firstDifference}`
            : "line by line: − only on the left, + only on the right"}
        </span>
      </h4>
      {diff.kind === "text" && (
        <pre class="mono body-diff">
          {diff.parts.map((part, i) => (
            <span key={i} class={`d-${part.kind}`} data-testid={`diff-${part.kind}`}>
              {part.text.replace(/\n$/, "").split("\n").map((line) =>
                `${part.kind === "added" ? "+ " : part.kind === "removed" ? "− " : "  "}${line}\n`
              ).join("")}
            </span>
          ))}
        </pre>
      )}
    </section>
  );
}

/** Two exchanges side by side; what differs, in a boundary that keeps Swap and Close working. */
export function CompareView({ left, right, onSwap, onClose, onOpen }: CompareViewProps) {
  return (
    <div class="compare" data-testid="compare-view">
      <header class="exchange-head">
        <div class="head-row">
          <div class="title">
            <strong>Compare</strong>
          </div>
          <div class="actions">
            <button type="button" data-testid="compare-swap" onClick={onSwap}>Swap</button>
            <button type="button" data-testid="compare-close" onClick={onClose}>Close</button>
          </div>
        </div>
        <ErrorBoundary key={`${left.summary.id} ${right.summary.id}`} what="these two exchanges">
          <div class="compare-sides">
            <Side exchange={left} onOpen={onOpen} />
            <Side exchange={right} onOpen={onOpen} />
          </div>
        </ErrorBoundary>
      </header>
      <ErrorBoundary key={`${left.summary.id} ${right.summary.id}`} what="what differs">
        <Differences left={left} right={right} />
      </ErrorBoundary>
    </div>
  );
}

/** What differs between the two: environs, headers, bodies, timelines. */
function Differences({ left, right }: { left: OpenExchange; right: OpenExchange }) {
  const d = useMemo(() => {
    const ls = left.state;
    const rs = right.state;
    const body = (x: OpenExchange) => x.response.bytes().subarray(x.state.response.bodyStart);
    return {
      environ: diffEnviron(ls.environ, rs.environ),
      request: diffHeaders(ls.request?.headers ?? [], rs.request?.headers ?? []),
      response: diffHeaders(ls.headersSent?.headers ?? [], rs.headersSent?.headers ?? []),
      requestBody: diffBodies(left.request.bytes(), right.request.bytes()),
      responseBody: diffBodies(body(left), body(right)),
      steps: diffTimelines(left.events, right.events),
    };
  }, [left, right]);
  const stepsDiffer = d.steps.filter((r) => !r.same).length;
  return (
    <div class="tab-body">
      <DiffTable title="environ" rows={d.environ} testid="compare-environ" />
      <DiffTable title="Request headers" rows={d.request} testid="compare-request-headers" />
      <BodyDiffView title="Request body" diff={d.requestBody} testid="compare-request-body" />
      <DiffTable title="Response headers" rows={d.response} testid="compare-response-headers" />
      <BodyDiffView title="Response body" diff={d.responseBody} testid="compare-response-body" />
      <section class="compare-section" data-testid="compare-timeline" data-changed={stepsDiffer}>
        <h4>
          Timeline{" "}
          <span class="muted">
            {left.events.length} and {right.events.length} steps
            {stepsDiffer > 0 ? `; ${stepsDiffer} differ` : "; the same steps"}
          </span>
        </h4>
        <table class="kv diff steps-diff">
          <tbody>
            {d.steps.map((row) => (
              <tr key={row.index} class={row.same ? "" : "changed"} data-testid="step-row">
                <th class="mono">{row.index + 1}</th>
                <td class="mono">
                  {row.left ? `${row.left.type} · ${formatMs(row.left.t)}` : "(none)"}
                </td>
                <td class="mono">
                  {row.right ? `${row.right.type} · ${formatMs(row.right.t)}` : "(none)"}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </div>
  );
}
