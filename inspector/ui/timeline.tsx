/**
 * The timeline stepper. `Timeline` is the controlled walker (previous / next
 * and the list of steps, each with its time); `StepDetail` shows, for one
 * step, what it changed and the state of the exchange so far (the shared
 * reducer's `stateAt`): the environ, status and headers once
 * `start_response` was called, the body bytes so far with chunk boundaries,
 * and the input read so far.
 *
 * @module
 */

import { useEffect, useMemo, useRef } from "preact/hooks";
import type { WireEvent } from "../protocol.ts";
import { stateAt } from "../timeline.ts";
import { BodyPanel } from "./body_view.tsx";
import { EnvironTable, HeadersTable } from "./environ_table.tsx";
import { formatBytes, formatMs, headerValue } from "./format.ts";
import type { OpenExchange } from "./open_exchange.ts";
import { describeStep, stepLabel } from "./step_text.ts";

/** Props of {@linkcode Timeline}. */
export interface TimelineProps {
  steps: WireEvent[];
  /** Index of the shown step (-1 when there are none). */
  selected: number;
  onChange: (index: number) => void;
}

/** The step walker: buttons, position, and the clickable list of steps. */
export function Timeline({ steps, selected, onChange }: TimelineProps) {
  const count = steps.length;
  const list = useRef<HTMLOListElement>(null);
  useEffect(() => {
    // Keep the current step in view as the keys walk past the list's edge.
    const item = list.current?.children[selected] as HTMLElement | undefined;
    const box = list.current;
    if (!item || !box) return;
    if (item.offsetTop < box.scrollTop) box.scrollTop = item.offsetTop;
    else if (item.offsetTop + item.offsetHeight > box.scrollTop + box.clientHeight) {
      box.scrollTop = item.offsetTop + item.offsetHeight - box.clientHeight;
    }
  }, [selected, count]);
  return (
    <div class="timeline" data-testid="timeline">
      <div class="stepper-bar">
        <button
          type="button"
          data-testid="step-prev"
          disabled={selected <= 0}
          onClick={() => onChange(selected - 1)}
          title="Previous step (←)"
        >
          ← Prev
        </button>
        <button
          type="button"
          data-testid="step-next"
          disabled={selected >= count - 1}
          onClick={() => onChange(selected + 1)}
          title="Next step (→)"
        >
          Next →
        </button>
        <span class="step-pos" data-testid="step-position">
          {count === 0 ? "No events" : `Step ${selected + 1} of ${count}`}
        </span>
      </div>
      <ol class="steps" data-testid="step-list" ref={list}>
        {steps.map((step, i) => (
          <li
            key={i}
            class={`step ${i === selected ? "current" : ""} ${
              i > selected ? "future" : ""
            } t-${step.type}`}
            data-testid="step"
            data-type={step.type}
            data-current={i === selected ? "true" : "false"}
            onClick={() => onChange(i)}
          >
            <span class="t mono">{formatMs(step.t)}</span>
            <span class="type mono">{step.type}</span>
            <span class="label">{stepLabel(step)}</span>
          </li>
        ))}
      </ol>
    </div>
  );
}

/** Props of {@linkcode StepDetail}. */
export interface StepDetailProps {
  exchange: OpenExchange;
  index: number;
}

/** What the step at `index` changed, and the state so far. */
export function StepDetail({ exchange, index }: StepDetailProps) {
  const events = exchange.events;
  const { before, after } = useMemo(
    () => ({ before: stateAt(events, index - 1), after: stateAt(events, index) }),
    [events, index],
  );
  const parts = after.response.parts;
  const body = exchange.response.bytes().subarray(0, after.response.kept);
  const read = Math.min(after.input.read, after.input.kept);
  const input = exchange.request.bytes().subarray(0, read);
  const event = events[index];
  if (!event) return <p class="empty">No events recorded.</p>;
  const change = describeStep(event, before, after);
  const sr = after.startResponse;
  const contentType = sr ? headerValue(sr.headers, "content-type") : undefined;
  return (
    <div class="step-detail" data-testid="step-detail">
      <section class="change" data-testid="step-change" data-type={change.type}>
        <div class="change-head">
          <span class={`badge t-${change.type}`}>{change.type}</span>
          <span class="mono muted">
            <span data-testid="step-time">at {formatMs(event.t)}</span>
            {index > 0 && ` · +${formatMs(event.t - events[index - 1]!.t)}`}
          </span>
        </div>
        <p class="summary" data-testid="step-summary">{change.summary}</p>
        {change.details.length > 0 && <pre class="mono details">{change.details.join("\n")}</pre>}
      </section>

      <h3>State so far</h3>
      <section data-testid="state-status">
        <h4>Status and headers</h4>
        {sr
          ? (
            <>
              <p class="mono">
                <strong data-testid="state-status-line">{sr.status}</strong>
                <span class="muted">
                  &nbsp;· start_response at {formatMs(sr.t)}
                  {sr.excInfo ? " · with exc_info" : ""}
                </span>
                {after.headersSent
                  ? <span class="pill ok">sent</span>
                  : <span class="pill">not sent yet</span>}
              </p>
              {sr.error && <p class="note warn">{sr.error}</p>}
              <HeadersTable headers={sr.headers} />
            </>
          )
          : <p class="empty">start_response has not been called yet.</p>}
      </section>

      <section data-testid="state-body">
        <h4>
          Response body so far{" "}
          <span class="muted" data-testid="state-body-size">
            {formatBytes(after.response.size)}, {parts.length} chunk{parts.length === 1 ? "" : "s"}
          </span>
        </h4>
        <BodyPanel
          name="step"
          bytes={body}
          size={after.response.size}
          truncated={after.response.kept < after.response.size}
          chunkOffsets={parts.map((p) => p.offset)}
          highlight={change.bodyRange}
          contentType={contentType}
        />
      </section>

      <section data-testid="state-input">
        <h4>
          Input read so far <span class="muted">{formatBytes(after.input.read)}</span>
        </h4>
        {after.input.read > 0
          ? <BodyPanel name="step-input" bytes={input} size={after.input.read} />
          : <p class="empty">Nothing read from wsgi.input yet.</p>}
        {after.input.rest > 0 && (
          <p class="muted" data-testid="state-input-rest">
            After the response, {formatBytes(after.input.rest)}{" "}
            the app left unread were drained{after.input.restComplete ? "" : " (up to the cap)"}.
          </p>
        )}
      </section>

      {(after.errorsText || after.errors.length > 0) && (
        <section data-testid="state-errors">
          <h4>Errors so far</h4>
          {after.errorsText && <pre class="mono errors-text">{after.errorsText}</pre>}
          {after.errors.map((e, i) => (
            <pre key={i} class="mono stack">{e.stack ?? `${e.name}: ${e.message}`}</pre>
          ))}
        </section>
      )}

      <details class="state-environ" data-testid="state-environ">
        <summary>
          environ{" "}
          <span class="muted">
            {after.environ ? `${Object.keys(after.environ).length} keys` : "not built yet"}
          </span>
        </summary>
        <EnvironTable environ={after.environ} />
      </details>
    </div>
  );
}
