/**
 * The open exchange: its headline and actions (copy as curl, replay, HAR,
 * export as a test, compare),
 * and its tabs: the timeline stepper, the response (start_response call,
 * headers sent, body), the request (line, headers, and the body as the
 * client sent it, with the part the app read), the environ, and errors
 * (`wsgi.errors`, exceptions with stacks, rules broken; its badge counts
 * the exceptions). A pending exchange shows how long it has run; a client
 * that went away before the end is said above the tabs, with how long the
 * app went on. Everything comes from the shared reducer's state and the
 * exchange's two byte streams.
 *
 * A view that throws on some record shows a short error in its place
 * (`./error_boundary.tsx`): the tab's body when a tab fails, the whole view
 * when its head does; the next exchange opened starts afresh.
 *
 * @module
 */

import { useState } from "preact/hooks";
import type { ReplayChange, ReplayRequest, WireEvent } from "../protocol.ts";
import { sentPartOffsets, summarize, type TimelineState } from "../timeline.ts";
import { elapsed } from "./clock_store.ts";
import { BodyPanel } from "./body_view.tsx";
import { curlCommand } from "./curl.ts";
import { EnvironTable, HeadersTable } from "./environ_table.tsx";
import { ErrorBoundary } from "./error_boundary.tsx";
import { formatBytes, formatClock, formatMs, headerValue, statusClass } from "./format.ts";
import type { OpenExchange } from "./open_exchange.ts";
import { ReplayChanges, ReplayForm } from "./replay_form.tsx";
import type { Tab } from "./selection_store.ts";
import { useStores } from "./stores.ts";
import { StepDetail, Timeline } from "./timeline.tsx";

/** Props of {@linkcode ExchangeView}. */
export interface ExchangeViewProps {
  exchange: OpenExchange;
  tab: Tab;
  onTab: (tab: Tab) => void;
  /** The stepper's index. */
  step: number;
  onStep: (index: number) => void;
  /** Replays the exchange (edited or not); resolves once the new one exists. */
  onReplay: (edit: ReplayRequest) => Promise<void>;
  /** Where the HAR of this exchange is served (for the link; it needs the token in token mode). */
  harUrl: string;
  /** Downloads the HAR of this exchange (with the token). */
  onHar: () => Promise<void>;
  /** Opens another exchange (the original of a replay). */
  onOpen: (id: string) => void;
  /** When this exchange is the replay just sent from the page: how it differed from its original. */
  replayChanges?: ReplayChange[];
  /** The time now (epoch ms), for a pending exchange's elapsed time. */
  now: number;
  /** Downloads this exchange as a `deno test` file. */
  onExportTest: () => Promise<void>;
  /** Starts comparing this exchange with one picked next. */
  onCompare: () => void;
  /** This exchange waits, on the left, for the one to compare it with. */
  comparing?: boolean;
}

const TABS: [Tab, string][] = [
  ["timeline", "Timeline"],
  ["response", "Response"],
  ["request", "Request"],
  ["environ", "Environ"],
  ["errors", "Errors"],
];
const TAB_LABEL = new Map(TABS);

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false; // not a secure context, or no permission: the text is shown to copy by hand
  }
}

/**
 * The exchange's request as a curl command to the app at `appUrl`, or why
 * there is none (the app's URL unknown, or a record that breaks a rule).
 */
function makeCurl(
  exchange: OpenExchange,
  appUrl: string | undefined,
): { text: string } | { error: string } {
  if (appUrl === undefined) {
    return {
      error:
        "Cannot copy as curl: the inspector does not know the app's URL (it learns it when it starts listening with the app's URL, as the CLI does)",
    };
  }
  try {
    return { text: curlCommand({ state: exchange.state, body: exchange.request.bytes(), appUrl }) };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** Steps that are the app's own doing (not the gateway's notes about the end). */
const APP_STEPS = new Set([
  "input",
  "start_response",
  "write",
  "chunk",
  "errors",
  "error",
  "close",
]);

/**
 * Where the client went away, and how long the app went on after it (its
 * own steps that came later): a sentence, or undefined.
 */
export function clientLeftNote(state: TimelineState, events: WireEvent[]): string | undefined {
  const left = state.clientLeft;
  if (left === null) return undefined;
  const when = left.by === "client.left"
    ? "before the response's headers went out"
    : "while the response was being sent";
  let last: number | undefined;
  for (const event of events) {
    if (event.t > left.t && APP_STEPS.has(event.type)) last = event.t;
  }
  const still = state.closed === null
    ? " The app has not finished yet (its body was not closed)."
    : "";
  const went = last === undefined
    ? still
    : ` The app went on for ${
      formatMs(last - left.t)
    } after it; what it produced then reached no one.${still}`;
  return `The client went away at ${formatMs(left.t)}, ${when}.${went}`;
}

function ResponseTab({ exchange }: { exchange: OpenExchange }) {
  const { state } = exchange;
  const sr = state.statusSet;
  const sent = state.headersSent?.headers ?? [];
  const contentType = headerValue(sent, "content-type") ??
    (sr ? headerValue(sr.headers, "content-type") : undefined);
  const start = state.response.bodyStart;
  return (
    <div class="tab-body" data-testid="response-tab">
      <section class="card" data-testid="start-response">
        <h4>
          <code>start_response</code>
        </h4>
        {sr
          ? (
            <>
              <p class="mono">
                <strong data-testid="start-response-status">{sr.status}</strong>
                <span class="muted">
                  &nbsp;· called at {formatMs(sr.t)} · exc_info: {sr.excInfo ? "passed" : "none"}
                </span>
              </p>
              <HeadersTable headers={sr.headers} testid="start-response-headers" />
            </>
          )
          : <p class="empty">The application never called start_response.</p>}
      </section>
      <section>
        <h4>Headers sent</h4>
        <HeadersTable headers={sent} testid="sent-headers" />
      </section>
      <section>
        <h4>Body</h4>
        <BodyPanel
          name="response"
          bytes={exchange.response.bytes().subarray(start)}
          size={state.response.size - start}
          truncated={state.response.kept < state.response.size}
          chunkOffsets={sentPartOffsets(state)}
          chunkTimes={state.response.parts.filter((p) => p.offset >= start && p.size > 0).map((
            p,
          ) => p.t)}
          contentType={contentType}
        />
      </section>
    </div>
  );
}

/** Which part of the request body the app read, in words. */
function readNote(read: number, size: number, rest: number, complete: boolean | null): string {
  if (size === 0) return "";
  if (rest === 0) return `The app read all ${formatBytes(read)}.`;
  const drained = complete === false ? " (up to the cap; more may have followed)" : "";
  return read === 0
    ? `The app read none of it; the body was drained after the response${drained}.`
    : `The app read the first ${formatBytes(read)}; the other ${
      formatBytes(rest)
    } were drained after the response${drained}.`;
}

function RequestTab({ exchange }: { exchange: OpenExchange }) {
  const { state, summary } = exchange;
  const request = state.request;
  const { read, rest, size, restComplete } = state.input;
  const bytes = exchange.request.bytes();
  return (
    <div class="tab-body" data-testid="request-tab">
      <section>
        <h4>Request line</h4>
        <p class="mono">
          {request?.method ?? summary.method} {request?.target ?? summary.target} {request?.version}
          {request?.peer && (
            <span class="muted">&nbsp;· from {request.peer.hostname}:{request.peer.port}</span>
          )}
        </p>
      </section>
      <section>
        <h4>Headers</h4>
        <HeadersTable headers={request?.headers ?? []} testid="request-headers" />
      </section>
      <section>
        <h4>
          Body as the client sent it <span class="muted">(wsgi.input)</span>
        </h4>
        {size > 0 && (
          <p class="muted" data-testid="request-read" data-read={read} data-size={size}>
            {readNote(read, size, rest, restComplete)}
          </p>
        )}
        <BodyPanel
          name="request"
          bytes={bytes}
          size={size}
          truncated={bytes.length < size || restComplete === false}
          chunkOffsets={rest > 0 && read > 0 ? [0, read] : undefined}
          partsWord="parts: read by the app, then drained"
          contentType={headerValue(request?.headers ?? [], "content-type")}
        />
      </section>
    </div>
  );
}

function ErrorsTab({ exchange }: { exchange: OpenExchange }) {
  const { state } = exchange;
  return (
    <div class="tab-body" data-testid="errors-tab">
      <section>
        <h4>
          <code>wsgi.errors</code>
        </h4>
        {state.errorsText
          ? <pre class="mono errors-text" data-testid="errors-text">{state.errorsText}</pre>
          : <p class="empty">Nothing was written to wsgi.errors.</p>}
      </section>
      <section>
        <h4>Exceptions</h4>
        {state.errors.length === 0
          ? <p class="empty">None.</p>
          : state.errors.map((e, i) => (
            <div key={i} class="error-item" data-testid="error-item">
              <p>
                <strong class="bad">{e.name}</strong> in <span class="mono">{e.where}</span>{" "}
                <span class="muted">at {formatMs(e.t)}</span>
              </p>
              <p>{e.message}</p>
              {e.stack && <pre class="mono stack">{e.stack}</pre>}
            </div>
          ))}
      </section>
      <section>
        <h4>Rules broken</h4>
        {state.lints.length === 0 ? <p class="empty">None.</p> : (
          <ul class="lints">
            {state.lints.map((l, i) => (
              <li key={i}>
                <span class="mono">{l.rule}</span>: {l.message}
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}

/** The open exchange, with its tabs; a failure to render it shows in its place. */
export function ExchangeView(props: ExchangeViewProps) {
  return (
    <ErrorBoundary key={props.exchange.summary.id} what="this exchange">
      <ExchangeDetail {...props} />
    </ErrorBoundary>
  );
}

function ExchangeDetail(props: ExchangeViewProps) {
  const { exchange, tab, step } = props;
  const { state } = exchange;
  // The summary, kept live by the same reducer as the events that stream in.
  const summary = summarize(state, exchange.summary);
  const { server } = useStores();
  const [curl, setCurl] = useState<{ text: string; copied: boolean } | { error: string } | null>(
    null,
  );
  const [editing, setEditing] = useState(false);
  const [replaying, setReplaying] = useState(false);
  const [replayError, setReplayError] = useState<string | null>(null);
  // Exceptions (error events); wsgi.errors text is the app's own log, not an error.
  const errorCount = summary.errors;
  const leftNote = clientLeftNote(state, exchange.events);

  const replay = async (edit: ReplayRequest) => {
    setReplaying(true);
    setReplayError(null);
    try {
      await props.onReplay(edit);
      setEditing(false);
    } catch (error) {
      setReplayError((error as Error).message);
    } finally {
      setReplaying(false);
    }
  };

  return (
    <div class="exchange" data-testid="exchange-view" data-id={summary.id}>
      <header class="exchange-head">
        <div class="head-row">
          <div class="title">
            <span class={`method m-${summary.method.toLowerCase()}`}>{summary.method}</span>
            <span class="mono target" data-testid="detail-target">{summary.target}</span>
          </div>
          <div class="actions">
            <button
              type="button"
              data-testid="copy-curl"
              onClick={async () => {
                const made = makeCurl(exchange, server.state.value.appUrl);
                if ("error" in made) setCurl(made);
                else setCurl({ text: made.text, copied: await copyText(made.text) });
              }}
            >
              Copy as curl
            </button>
            <button
              type="button"
              data-testid="replay"
              disabled={replaying}
              onClick={() => replay({})}
              title="Send this request again through the app"
            >
              Replay
            </button>
            <button type="button" data-testid="replay-edit" onClick={() => setEditing(!editing)}>
              Edit and replay
            </button>
            <button
              type="button"
              data-testid="export-test"
              title="Download a deno test file that sends this request to the app in-process and checks this answer"
              onClick={() =>
                props.onExportTest().catch((error: Error) =>
                  alert(`Export as a test failed: ${error.message}`)
                )}
            >
              Export test
            </button>
            <button
              type="button"
              data-testid="compare"
              class={props.comparing ? "on" : ""}
              title="Compare with another exchange: pick it in the list"
              onClick={props.onCompare}
            >
              Compare…
            </button>
            <a
              class="button"
              href={props.harUrl}
              download={`exchange-${summary.id}.har`}
              data-testid="exchange-har"
              onClick={(e) => {
                e.preventDefault();
                props.onHar().catch((error: Error) => alert(`HAR export failed: ${error.message}`));
              }}
            >
              HAR
            </a>
          </div>
        </div>
        <div class="facts">
          <span class={`status ${statusClass(summary.status)}`} data-testid="detail-status">
            {summary.statusLine ?? summary.status ?? summary.state}
          </span>
          {summary.state === "pending"
            ? (
              <span class="elapsed" data-testid="detail-elapsed" title="running">
                {formatMs(elapsed(summary.startedAt, props.now))}
              </span>
            )
            : <span>{formatMs(summary.duration)}</span>}
          <span>{formatBytes(summary.responseBytes)}</span>
          <span class="muted">{formatClock(summary.startedAt)}</span>
          {summary.state !== "complete" && <span class="pill">{summary.state}</span>}
          {summary.truncated && <span class="pill warn">truncated</span>}
          {exchange.summary.imported && (
            <span class="pill" data-testid="imported" title="loaded from a HAR file">imported</span>
          )}
          {summary.replayOf !== undefined && (
            <button
              type="button"
              class="link"
              data-testid="replay-of"
              onClick={() => props.onOpen(summary.replayOf!)}
            >
              replay of #{summary.replayOf}
            </button>
          )}
        </div>
      </header>
      {curl && (
        <div class="curl" data-testid="curl">
          {"error" in curl ? <p class="note warn" data-testid="curl-error">{curl.error}</p> : (
            <>
              <pre class="mono" data-testid="curl-command">{curl.text}</pre>
              <span class="muted">{curl.copied ? "Copied." : "Select and copy."}</span>
            </>
          )}
          <button type="button" class="link" onClick={() => setCurl(null)}>Close</button>
        </div>
      )}
      {leftNote && <p class="note warn client-left" data-testid="client-left">{leftNote}</p>}
      {props.comparing && (
        <p class="note" data-testid="compare-picking">
          Pick another exchange in the list to compare this one with.
        </p>
      )}
      {props.replayChanges && <ReplayChanges changes={props.replayChanges} />}
      {replayError && <p class="note warn">Replay failed: {replayError}</p>}
      {editing && (
        <ReplayForm
          exchange={exchange}
          busy={replaying}
          onSubmit={replay}
          onCancel={() => setEditing(false)}
        />
      )}
      <nav class="tabs" role="tablist">
        {TABS.map(([id, label]) => (
          <button
            key={id}
            type="button"
            role="tab"
            aria-selected={tab === id}
            class={tab === id ? "on" : ""}
            data-testid={`tab-${id}`}
            onClick={() => props.onTab(id)}
          >
            {label}
            {id === "errors" && errorCount > 0 && <span class="count bad">{errorCount}</span>}
            {id === "timeline" && <span class="count">{exchange.events.length}</span>}
          </button>
        ))}
      </nav>
      <ErrorBoundary key={tab} what={`the ${TAB_LABEL.get(tab) ?? tab} tab`}>
        {tab === "timeline" && (
          <div class="timeline-tab" data-testid="timeline-tab">
            <Timeline steps={exchange.events} selected={step} onChange={props.onStep} />
            <ErrorBoundary key={step} what={`step ${step + 1}`}>
              <StepDetail exchange={exchange} index={step} />
            </ErrorBoundary>
          </div>
        )}
        {tab === "response" && <ResponseTab exchange={exchange} />}
        {tab === "request" && <RequestTab exchange={exchange} />}
        {tab === "environ" && (
          <div class="tab-body" data-testid="environ-tab">
            <EnvironTable environ={state.environ} />
          </div>
        )}
        {tab === "errors" && <ErrorsTab exchange={exchange} />}
      </ErrorBoundary>
    </div>
  );
}
