/**
 * The exchange list: one row per exchange (method, path and query, status,
 * duration, size, time), windowed so thousands of rows stay cheap. A pending
 * exchange shows how long it has run so far, from the clock the caller
 * passes (`now`); an imported one (from a HAR file) is marked.
 * Controlled: the caller owns the selection.
 *
 * @module
 */

import type { ExchangeSummary } from "../protocol.ts";
import { elapsed } from "./clock_store.ts";
import { formatBytes, formatClock, formatMs, statusClass } from "./format.ts";
import { VirtualList } from "./virtual_list.tsx";

/** Height of one row in CSS pixels (the stylesheet's `--row-h`). */
export const ROW_HEIGHT = 30;

/** Props of {@linkcode RequestList}. */
export interface RequestListProps {
  exchanges: ExchangeSummary[];
  selectedId: string | null;
  onSelect: (id: string) => void;
  /** Why generation `n` of the app started (`app.ts changed`), for the reload dividers. */
  reason?: (generation: number) => string | undefined;
  /** The time now (epoch ms), for pending exchanges. */
  now: number;
}

/**
 * The divider under the oldest exchange of a generation, in a list newest
 * first: where the app was reloaded (or restarted) between two exchanges.
 */
function ReloadDivider({ generation, reason }: { generation: number; reason?: string }) {
  const text = reason === undefined
    ? `generation ${generation}`
    : reason.startsWith("restart")
    ? `${reason} · generation ${generation}`
    : `reloaded (${reason}) · generation ${generation}`;
  return (
    <span class="reload-divider" data-testid="reload-divider" data-generation={generation}>
      {text}
    </span>
  );
}

function StatusCell({ exchange }: { exchange: ExchangeSummary }) {
  const label = exchange.status ??
    (exchange.state === "aborted" ? "abort" : exchange.state === "error" ? "error" : "…");
  return (
    <span class={`status ${statusClass(exchange.status)}`} title={exchange.statusLine ?? ""}>
      {label}
    </span>
  );
}

/** One row of the list. */
export function RequestRow(
  { exchange, selected, onSelect, divider, now }: {
    exchange: ExchangeSummary;
    selected: boolean;
    onSelect: (id: string) => void;
    /** The time now (epoch ms), for a pending exchange. */
    now: number;
    /** Shown under the row: the first exchange of a new generation of the app. */
    divider?: { generation: number; reason?: string };
  },
) {
  return (
    <div
      class={`row ${selected ? "selected" : ""} ${exchange.errors > 0 ? "has-errors" : ""} ${
        divider ? "gen-start" : ""
      }`}
      role="option"
      aria-selected={selected}
      data-testid="exchange-row"
      data-id={exchange.id}
      data-selected={selected ? "true" : "false"}
      onClick={() => onSelect(exchange.id)}
    >
      <span class={`method m-${exchange.method.toLowerCase()}`} data-testid="row-method">
        {exchange.method}
      </span>
      <span class="target" data-testid="row-target" title={exchange.target}>
        {exchange.replayOf !== undefined && <span class="replay-mark" title="replay">↻</span>}
        {exchange.imported && (
          <span class="import-mark" title="imported from a HAR file" data-testid="row-imported">
            ⤓
          </span>
        )}
        {exchange.target}
      </span>
      <StatusCell exchange={exchange} />
      {exchange.state === "pending"
        ? (
          <span class="num elapsed" data-testid="row-elapsed" title="running">
            {formatMs(elapsed(exchange.startedAt, now))}
          </span>
        )
        : <span class="num" data-testid="row-duration">{formatMs(exchange.duration)}</span>}
      <span class="num" data-testid="row-size">{formatBytes(exchange.responseBytes)}</span>
      <span class="num time">{formatClock(exchange.startedAt)}</span>
      {divider && <ReloadDivider {...divider} />}
    </div>
  );
}

/** The windowed list of exchanges. */
export function RequestList(
  { exchanges, selectedId, onSelect, reason, now }: RequestListProps,
) {
  const selectedIndex = selectedId === null ? -1 : exchanges.findIndex((e) => e.id === selectedId);
  return (
    <div class="list-pane">
      <div class="row head" aria-hidden="true">
        <span>Method</span>
        <span>Path and query</span>
        <span>Status</span>
        <span class="num">Time</span>
        <span class="num">Size</span>
        <span class="num">At</span>
      </div>
      <VirtualList
        data-testid="exchange-list"
        count={exchanges.length}
        rowHeight={ROW_HEIGHT}
        scrollToIndex={selectedIndex}
        containerProps={{
          role: "listbox",
          tabIndex: 0,
          "aria-label": "Exchanges",
        }}
        renderRow={(i) => {
          const exchange = exchanges[i]!;
          const older = exchanges[i + 1];
          const g = exchange.generation;
          const divider = g !== undefined && older?.generation !== undefined &&
              older.generation !== g
            ? { generation: g, reason: reason?.(g) }
            : undefined;
          return (
            <RequestRow
              exchange={exchange}
              selected={exchange.id === selectedId}
              onSelect={onSelect}
              divider={divider}
              now={now}
            />
          );
        }}
      />
    </div>
  );
}
