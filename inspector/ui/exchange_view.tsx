/**
 * The open exchange: its headline and actions (copy as curl, replay, HAR),
 * and its tabs: the timeline stepper, the response (start_response call,
 * headers sent, body), the request (line, headers, body as the app read it),
 * the environ, and errors (`wsgi.errors`, exceptions with stacks, rules
 * broken).
 *
 * @module
 */

import { useState } from "preact/hooks";
import type { ExchangeDetail, ReplayChange, ReplayRequest } from "../protocol.ts";
import { BodyPanel } from "./body_view.tsx";
import { fromBase64 } from "./bytes.ts";
import { curlCommand } from "./curl.ts";
import { EnvironTable, HeadersTable } from "./environ_table.tsx";
import { formatBytes, formatClock, formatMs, headerValue, statusClass } from "./format.ts";
import { ReplayChanges, ReplayForm } from "./replay_form.tsx";
import type { Tab } from "./selection_store.ts";
import { StepDetail, Timeline } from "./timeline.tsx";
import { stateAt } from "./timeline_state.ts";

/** Props of {@linkcode ExchangeView}. */
export interface ExchangeViewProps {
  detail: ExchangeDetail;
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
}

const TABS: [Tab, string][] = [
  ["timeline", "Timeline"],
  ["response", "Response"],
  ["request", "Request"],
  ["environ", "Environ"],
  ["errors", "Errors"],
];

async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false; // not a secure context, or no permission: the text is shown to copy by hand
  }
}

function ResponseTab({ detail }: { detail: ExchangeDetail }) {
  const sr = detail.startResponse;
  const contentType = headerValue(detail.response.headers, "content-type") ??
    (sr ? headerValue(sr.headers, "content-type") : undefined);
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
        <HeadersTable headers={detail.response.headers} testid="sent-headers" />
      </section>
      <section>
        <h4>Body</h4>
        <BodyPanel
          name="response"
          bytes={fromBase64(detail.response.body.bytes)}
          size={detail.response.body.size}
          truncated={detail.response.body.truncated}
          chunkOffsets={detail.response.chunkOffsets}
          contentType={contentType}
        />
      </section>
    </div>
  );
}

function RequestTab({ detail }: { detail: ExchangeDetail }) {
  const { request } = detail;
  return (
    <div class="tab-body" data-testid="request-tab">
      <section>
        <h4>Request line</h4>
        <p class="mono">
          {detail.method} {detail.target} {request.version}
          {request.peer && (
            <span class="muted">&nbsp;· from {request.peer.hostname}:{request.peer.port}</span>
          )}
        </p>
      </section>
      <section>
        <h4>Headers</h4>
        <HeadersTable headers={request.headers} testid="request-headers" />
      </section>
      <section>
        <h4>
          Body as the app read it <span class="muted">(wsgi.input)</span>
        </h4>
        <BodyPanel
          name="request"
          bytes={fromBase64(request.body.bytes)}
          size={request.body.size}
          truncated={request.body.truncated}
          contentType={headerValue(request.headers, "content-type")}
        />
      </section>
    </div>
  );
}

function ErrorsTab({ detail }: { detail: ExchangeDetail }) {
  const state = stateAt(detail.events, detail.events.length - 1);
  return (
    <div class="tab-body" data-testid="errors-tab">
      <section>
        <h4>
          <code>wsgi.errors</code>
        </h4>
        {detail.errorsText
          ? <pre class="mono errors-text" data-testid="errors-text">{detail.errorsText}</pre>
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

/** The open exchange, with its tabs. */
export function ExchangeView(props: ExchangeViewProps) {
  const { detail, tab, step } = props;
  const [curl, setCurl] = useState<{ text: string; copied: boolean } | null>(null);
  const [editing, setEditing] = useState(false);
  const [replaying, setReplaying] = useState(false);
  const [replayError, setReplayError] = useState<string | null>(null);
  const errorCount = detail.errors + (detail.errorsText ? 1 : 0);

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
    <div class="exchange" data-testid="exchange-view" data-id={detail.id}>
      <header class="exchange-head">
        <div class="head-row">
          <div class="title">
            <span class={`method m-${detail.method.toLowerCase()}`}>{detail.method}</span>
            <span class="mono target" data-testid="detail-target">{detail.target}</span>
          </div>
          <div class="actions">
            <button
              type="button"
              data-testid="copy-curl"
              onClick={async () => {
                const text = curlCommand(detail);
                setCurl({ text, copied: await copyText(text) });
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
            <a
              class="button"
              href={props.harUrl}
              download={`exchange-${detail.id}.har`}
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
          <span class={`status ${statusClass(detail.status)}`} data-testid="detail-status">
            {detail.statusLine ?? detail.status ?? detail.state}
          </span>
          <span>{formatMs(detail.duration)}</span>
          <span>{formatBytes(detail.responseBytes)}</span>
          <span class="muted">{formatClock(detail.startedAt)}</span>
          {detail.state !== "complete" && <span class="pill">{detail.state}</span>}
          {detail.truncated && <span class="pill warn">truncated</span>}
          {detail.replayOf !== undefined && (
            <button
              type="button"
              class="link"
              data-testid="replay-of"
              onClick={() => props.onOpen(detail.replayOf!)}
            >
              replay of #{detail.replayOf}
            </button>
          )}
        </div>
      </header>
      {curl && (
        <div class="curl" data-testid="curl">
          <pre class="mono" data-testid="curl-command">{curl.text}</pre>
          <span class="muted">{curl.copied ? "Copied." : "Select and copy."}</span>
          <button type="button" class="link" onClick={() => setCurl(null)}>Close</button>
        </div>
      )}
      {props.replayChanges && <ReplayChanges changes={props.replayChanges} />}
      {replayError && <p class="note warn">Replay failed: {replayError}</p>}
      {editing && (
        <ReplayForm
          detail={detail}
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
            {id === "timeline" && <span class="count">{detail.events.length}</span>}
          </button>
        ))}
      </nav>
      {tab === "timeline" && (
        <div class="timeline-tab" data-testid="timeline-tab">
          <Timeline steps={detail.events} selected={step} onChange={props.onStep} />
          <StepDetail events={detail.events} index={step} />
        </div>
      )}
      {tab === "response" && <ResponseTab detail={detail} />}
      {tab === "request" && <RequestTab detail={detail} />}
      {tab === "environ" && (
        <div class="tab-body" data-testid="environ-tab">
          <EnvironTable environ={detail.environ} />
        </div>
      )}
      {tab === "errors" && <ErrorsTab detail={detail} />}
    </div>
  );
}
