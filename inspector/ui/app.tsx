/**
 * The page: a toolbar (filter, live indicator, HAR import and export, clear)
 * over two panes, the exchange list and the open exchange (or two exchanges
 * compared). A `.har` file dropped anywhere on the page is imported. Owns
 * the keyboard: ↑/↓
 * move through the (filtered) list, ←/→ walk the timeline, Home/End jump to
 * its first or last step, `/` focuses the filter, Escape leaves it.
 *
 * @module
 */

import { useEffect, useMemo, useState } from "preact/hooks";
import type { ReplayResult } from "../protocol.ts";
import { CompareView } from "./compare_view.tsx";
import { picking } from "./compare_store.ts";
import { passesSearch } from "./search_store.ts";
import { ExchangeView } from "./exchange_view.tsx";
import { filterExchanges } from "./filter.ts";
import { describeImport } from "./import_note.ts";
import { useObservable } from "./observable.ts";
import { RequestList } from "./request_list.tsx";
import { ServerBanner, ServerFaults } from "./server_banner.tsx";
import { useStores } from "./stores.ts";

function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el || !el.tagName) return false;
  return el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" ||
    el.isContentEditable;
}

/** The whole inspector page. */
export function App() {
  const { client, exchanges, selection, steps, server, clock, search, compare } = useStores();
  const now = useObservable(clock.now);
  const found = useObservable(search.state);
  const comparison = useObservable(compare.state);
  const [dragging, setDragging] = useState(false);
  const [importNote, setImportNote] = useState<{ text: string; warn: boolean } | null>(null);
  const serverState = useObservable(server.state);
  const [faultsSince, setFaultsSince] = useState(0);
  const list = useObservable(exchanges.state);
  const filterText = useObservable(exchanges.filter);
  const selected = useObservable(selection.state);
  const [lastReplay, setLastReplay] = useState<ReplayResult | null>(null);
  const tab = useObservable(selection.tab);
  useObservable(steps.state);

  const visible = useMemo(
    () => filterExchanges(list.list, filterText).filter((e) => passesSearch(found, e.id)),
    [list.list, filterText, found],
  );
  const searching = found.terms.include.length + found.terms.exclude.length > 0;

  const importFiles = async (files: File[]) => {
    const notes: string[] = [];
    let warn = false;
    let newest: string | undefined;
    for (const file of files) {
      try {
        const result = await exchanges.importHar(file);
        newest = result.ids.at(-1) ?? newest;
        const note = describeImport(file.name, result);
        notes.push(note.text);
        if (note.warn) warn = true;
      } catch (error) {
        warn = true;
        notes.push(`${file.name}: ${(error as Error).message}`);
      }
    }
    setImportNote({ text: notes.join(" "), warn });
    if (newest !== undefined) selection.select(newest);
  };
  const pick = (id: string) => {
    if (picking(compare.state.value)) compare.pick(id);
    else selection.select(id);
  };
  const events = selected.exchange?.events ?? [];
  const step = steps.current(events.length);

  useEffect(() => {
    exchanges.load();
    server.load();
    return exchanges.connect();
  }, []);

  // `#ref=generation.worker.n` (the debug page's link) opens that exchange once it is listed.
  useEffect(() => {
    const ref = new URLSearchParams(location.hash.slice(1)).get("ref");
    if (!ref || selected.id !== null) return;
    const found = list.list.find((x) => x.ref === ref);
    if (found) {
      selection.select(found.id);
      history.replaceState(null, "", location.pathname + location.search);
    }
  }, [list.list]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.altKey || e.ctrlKey || e.metaKey) return;
      if (isTyping(e.target)) {
        if (e.key === "Escape") (e.target as HTMLElement).blur();
        if (e.key !== "ArrowDown" || (e.target as HTMLElement).id !== "filter") return;
      }
      const index = visible.findIndex((x) => x.id === selection.state.value.id);
      const count = selection.state.value.exchange?.events.length ?? 0;
      switch (e.key) {
        case "ArrowDown":
        case "ArrowUp": {
          if (visible.length === 0) return;
          const next = index === -1
            ? 0
            : Math.min(Math.max(index + (e.key === "ArrowDown" ? 1 : -1), 0), visible.length - 1);
          pick(visible[next]!.id);
          if (isTyping(e.target)) (e.target as HTMLElement).blur();
          break;
        }
        case "ArrowLeft":
          if (selection.tab.value !== "timeline") return;
          steps.prev(count);
          break;
        case "ArrowRight":
          if (selection.tab.value !== "timeline") return;
          steps.next(count);
          break;
        case "Home":
          if (selection.tab.value !== "timeline") return;
          steps.go(0, count);
          break;
        case "End":
          if (selection.tab.value !== "timeline") return;
          steps.go(count - 1, count);
          break;
        case "/":
          document.getElementById("filter")?.focus();
          break;
        case "Escape":
          if (compare.state.value.leftId === null) return;
          compare.close();
          break;
        default:
          return;
      }
      e.preventDefault();
    };
    document.addEventListener("keydown", onKey);
    return () => document.removeEventListener("keydown", onKey);
  }, [visible]);

  const total = list.list.length;
  const hasFiles = (e: DragEvent) => [...(e.dataTransfer?.types ?? [])].includes("Files");
  return (
    <div
      class="app"
      onDragOver={(e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        if (e.dataTransfer) e.dataTransfer.dropEffect = "copy";
        setDragging(true);
      }}
      onDragLeave={(e) => {
        if (e.relatedTarget === null) setDragging(false);
      }}
      onDrop={(e) => {
        if (!hasFiles(e)) return;
        e.preventDefault();
        setDragging(false);
        importFiles([...(e.dataTransfer?.files ?? [])]);
      }}
    >
      {dragging && (
        <div class="drop-zone" data-testid="drop-zone">
          <p>Drop a .har file to import its exchanges</p>
        </div>
      )}
      <header class="toolbar">
        <h1>
          WSGI inspector
          <span
            class={`live ${list.status}`}
            data-testid="stream-status"
            data-status={list.status}
            title={list.status === "live"
              ? "Live: new exchanges appear as they happen"
              : list.status}
          >
            {list.status === "live" ? "live" : list.status}
          </span>
        </h1>
        <input
          id="filter"
          class="filter"
          type="search"
          placeholder='Filter: GET  2xx  /path  -static  body:"text"'
          aria-label="Filter exchanges"
          data-testid="filter"
          value={filterText}
          onInput={(e) => exchanges.filter.set(e.currentTarget.value)}
        />
        <span class="muted count-label" data-testid="exchange-count">
          {visible.length === total ? `${total}` : `${visible.length} of ${total}`} exchange
          {total === 1 ? "" : "s"}
        </span>
        {searching && (
          <span
            class={`muted search-state ${found.error || found.cut !== null ? "bad" : ""}`}
            data-testid="search-state"
            data-busy={found.busy ? "true" : "false"}
            title="body: words are searched by the inspector in every kept exchange's bodies"
          >
            {found.error
              ? `Body search failed: ${found.error}`
              : found.busy
              ? "searching bodies…"
              : found.cut !== null
              ? `bodies searched in part: ${found.cut}`
              : "bodies searched"}
          </span>
        )}
        <span class="spacer" />
        <label class="button" title="Import the exchanges of a HAR file (or drop it on the page)">
          Import HAR
          <input
            type="file"
            accept=".har,application/json"
            class="hidden-input"
            data-testid="import-har-input"
            onChange={(e) => {
              const input = e.currentTarget;
              const files = [...(input.files ?? [])];
              input.value = "";
              if (files.length > 0) importFiles(files);
            }}
          />
        </label>
        <a
          class="button"
          href={client.harUrl()}
          download="inspector.har"
          data-testid="export-har"
          onClick={(e) => {
            // Fetched with the token (a plain link cannot send it), then saved.
            e.preventDefault();
            client.downloadHar(undefined, "inspector.har").catch((error: Error) =>
              alert(`Export failed: ${error.message}`)
            );
          }}
        >
          Export HAR
        </a>
        <button
          type="button"
          data-testid="clear"
          onClick={() => exchanges.clear().catch((e: Error) => alert(`Clear failed: ${e.message}`))}
        >
          Clear
        </button>
      </header>
      <ServerBanner loadError={serverState.loadError} />
      <ServerFaults
        events={serverState.events}
        since={faultsSince}
        onDismiss={() => setFaultsSince(Date.now() + 1)}
      />
      {importNote && (
        <p class={`note import-note ${importNote.warn ? "warn" : ""}`} data-testid="import-result">
          {importNote.text}
          <button
            type="button"
            class="link"
            onClick={() =>
              setImportNote(null)}
          >
            Dismiss
          </button>
        </p>
      )}
      <main class="panes">
        <section class="left">
          {list.error && <p class="note warn">{list.error}</p>}
          {list.loaded && total === 0 && !list.error && (
            <div class="empty big" data-testid="list-empty">
              <p>No exchanges yet.</p>
              <p class="muted">Send a request to the app; it shows up here as it happens.</p>
            </div>
          )}
          <RequestList
            exchanges={visible}
            selectedId={selected.id}
            onSelect={pick}
            reason={server.reason}
            now={now}
          />
          <footer class="hint muted">↑ ↓ select · ← → step · / filter</footer>
        </section>
        <section class="right" data-testid="detail-pane">
          {comparison.rightId !== null && (
            comparison.left && comparison.right
              ? (
                <CompareView
                  left={comparison.left}
                  right={comparison.right}
                  onSwap={() => compare.swap()}
                  onClose={() => compare.close()}
                  onOpen={(id) => {
                    compare.close();
                    selection.select(id);
                  }}
                />
              )
              : (
                <p class={comparison.error ? "note warn" : "empty"}>
                  {comparison.error ?? "Loading both…"}
                </p>
              )
          )}
          {comparison.rightId === null && selected.id === null && (
            <div class="empty big">
              <p>Select an exchange.</p>
              <p class="muted">
                Its environ, start_response call, body and every step the gateway took.
              </p>
            </div>
          )}
          {comparison.rightId === null && selected.error && (
            <p class="note warn" data-testid="detail-error">{selected.error}</p>
          )}
          {comparison.rightId === null && selected.id !== null && !selected.exchange &&
            !selected.error && <p class="empty">Loading…</p>}
          {comparison.rightId === null && selected.exchange && (
            <ExchangeView
              key={selected.exchange.summary.id}
              exchange={selected.exchange}
              tab={tab}
              onTab={(t) => selection.tab.set(t)}
              step={step}
              onStep={(i) => steps.go(i, events.length)}
              harUrl={client.harUrl(selected.exchange.summary.id)}
              onHar={() => {
                const id = selected.exchange!.summary.id;
                return client.downloadHar(id, `exchange-${id}.har`);
              }}
              onOpen={(id) => selection.select(id)}
              onReplay={async (edit) => {
                const result = await client.replay(selected.exchange!.summary.id, edit);
                setLastReplay(result);
                selection.select(result.id);
              }}
              replayChanges={lastReplay?.id === selected.exchange.summary.id
                ? lastReplay.changes
                : undefined}
              now={now}
              onExportTest={() => client.downloadTest(selected.exchange!.summary.id)}
              onCompare={() => {
                const id = selected.exchange!.summary.id;
                if (comparison.leftId === id && picking(comparison)) compare.close();
                else compare.start(id);
              }}
              comparing={comparison.leftId === selected.exchange.summary.id &&
                picking(comparison)}
            />
          )}
        </section>
      </main>
    </div>
  );
}
