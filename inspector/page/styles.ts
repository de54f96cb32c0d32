/**
 * The page's stylesheet, inlined into the HTML shell. System font for prose,
 * monospace for data, a two-pane layout, and the system's light or dark mode
 * through `prefers-color-scheme`. Standard CSS only (no engine prefixes).
 *
 * @module
 */

/** The CSS of the inspector page. */
export const STYLES = `
:root {
  color-scheme: light dark;
  --bg: #ffffff;
  --bg-soft: #f6f7f9;
  --bg-hover: #eef1f5;
  --bg-sel: #e2ebfb;
  --fg: #1d2330;
  --muted: #6a7385;
  --line: #e2e5ea;
  --accent: #2f62d6;
  --ok: #1d7f45;
  --redirect: #2f62d6;
  --warn: #a05a00;
  --bad: #c42b2b;
  --new: #fff1b8;
  --chunk: #c07a00;
  --seg-a: transparent;
  --seg-b: #eef3fb;
  --row-h: 30px;
  --mono: ui-monospace, "SF Mono", "Cascadia Mono", "Segoe UI Mono", Menlo, Consolas, "DejaVu Sans Mono", monospace;
  --sans: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "Noto Sans", "DejaVu Sans", sans-serif;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #16181d;
    --bg-soft: #1d2027;
    --bg-hover: #252933;
    --bg-sel: #26344f;
    --fg: #dde1e8;
    --muted: #8d95a5;
    --line: #2c313b;
    --accent: #7aa2f7;
    --ok: #5fc98a;
    --redirect: #7aa2f7;
    --warn: #e0a84e;
    --bad: #f07178;
    --new: #4a4020;
    --chunk: #e0a84e;
    --seg-b: #1f2a3a;
  }
}
* { box-sizing: border-box; }
html, body { height: 100%; margin: 0; }
body { background: var(--bg); color: var(--fg); font: 14px/1.45 var(--sans); }
#app { height: 100%; }
.mono, pre, code, .filter, textarea, input.mono { font-family: var(--mono); font-size: 12.5px; }
.muted { color: var(--muted); }
.bad { color: var(--bad); }
button, a.button, label.button {
  font: inherit; font-size: 13px; color: var(--fg); background: var(--bg);
  border: 1px solid var(--line); border-radius: 6px; padding: 3px 10px; cursor: pointer;
  text-decoration: none; display: inline-flex; align-items: center; gap: 4px; line-height: 1.5;
}
button:hover:not(:disabled), a.button:hover, label.button:hover { background: var(--bg-hover); }
button:disabled { opacity: .45; cursor: default; }
button.primary { background: var(--accent); border-color: var(--accent); color: #fff; }
button.link { border: none; background: none; color: var(--accent); padding: 0 4px; }
:focus-visible { outline: 2px solid var(--accent); outline-offset: -2px; }

.app { display: flex; flex-direction: column; height: 100%; }
.toolbar {
  display: flex; align-items: center; gap: 10px; padding: 8px 12px;
  border-bottom: 1px solid var(--line); background: var(--bg-soft);
}
.toolbar h1 { font-size: 14px; font-weight: 600; margin: 0 6px 0 0; display: flex; align-items: center; gap: 8px; white-space: nowrap; }
.live { font-size: 11px; font-weight: 500; color: var(--muted); border: 1px solid var(--line); border-radius: 10px; padding: 0 7px; }
.live.live { color: var(--ok); border-color: currentColor; }
.live.live::before { content: "● "; }
.live.reconnecting { color: var(--warn); }
.filter {
  width: min(420px, 40vw); padding: 4px 8px; border: 1px solid var(--line); border-radius: 6px;
  background: var(--bg); color: var(--fg);
}
.count-label { white-space: nowrap; font-size: 12px; }
.spacer { flex: 1; }

.panes { flex: 1; display: grid; grid-template-columns: minmax(400px, 38%) minmax(0, 1fr); min-height: 0; }
.left { display: flex; flex-direction: column; min-height: 0; min-width: 0; border-right: 1px solid var(--line); position: relative; }
.right { overflow: auto; min-width: 0; padding: 0 0 24px; }
.hint { font-size: 11px; padding: 4px 10px; border-top: 1px solid var(--line); }

.list-pane { flex: 1; display: flex; flex-direction: column; min-height: 0; }
.vlist { flex: 1; overflow-y: auto; position: relative; min-height: 0; outline: none; }
.vspace { position: relative; width: 100%; }
.vrow { position: absolute; left: 0; right: 0; }
.row {
  display: grid; grid-template-columns: 58px minmax(0, 1fr) 56px 68px 68px 92px;
  align-items: center; gap: 8px; height: 100%; padding: 0 10px;
  border-bottom: 1px solid var(--line); cursor: default; white-space: nowrap;
}
.row.head { height: 26px; font-size: 11px; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: .03em; background: var(--bg-soft); cursor: default; }
.vlist .row:hover { background: var(--bg-hover); }
.vlist .row.selected { background: var(--bg-sel); }
.vlist:focus .row.selected { box-shadow: inset 3px 0 0 var(--accent); }
.row > span { overflow: hidden; text-overflow: ellipsis; }
.vrow:has(.gen-start) { z-index: 1; }
.row.gen-start { position: relative; border-bottom: 2px solid var(--accent); overflow: visible; }
.row .reload-divider {
  position: absolute; right: 12px; bottom: -6px; font-size: 10px; line-height: 12px; padding: 0 8px;
  border-radius: 6px; background: var(--accent); color: #fff; overflow: visible;
}
.banner {
  margin: 0; padding: 8px 14px; border-bottom: 1px solid var(--line); background: #fdecea; color: #8a1c1c;
}
.banner pre { margin: 6px 0 0; font: 12px/1.45 var(--mono); white-space: pre; overflow-x: auto; color: #5b1212; }
.banner strong { font-weight: 600; }
.banner.faults { background: #fff4d6; color: #6b4a00; }
.banner.faults pre { color: #4a3400; }
.banner .dismiss { float: right; font-size: 11px; padding: 1px 8px; }
.banner details summary { cursor: pointer; font-size: 12px; margin-top: 2px; }
@media (prefers-color-scheme: dark) {
  .banner { background: #3a1d1d; color: #ffb4ab; }
  .banner pre { color: #ffd7d2; }
  .banner.faults { background: #3a3118; color: #ffd98a; }
  .banner.faults pre { color: #ffe9b8; }
}
.row .target { font-family: var(--mono); font-size: 12.5px; }
.row .num { text-align: right; font-variant-numeric: tabular-nums; font-size: 12px; }
.row .time { color: var(--muted); font-family: var(--mono); font-size: 11.5px; }
.row.has-errors .target { color: var(--bad); }
.replay-mark { color: var(--accent); margin-right: 4px; }
.method { font-family: var(--mono); font-size: 11.5px; font-weight: 600; color: var(--muted); }
.method.m-get { color: var(--ok); }
.method.m-post, .method.m-put, .method.m-patch { color: var(--warn); }
.method.m-delete { color: var(--bad); }
.status { font-family: var(--mono); font-size: 12px; font-weight: 600; }
.status.s2 { color: var(--ok); }
.status.s3 { color: var(--redirect); }
.status.s4 { color: var(--warn); }
.status.s5 { color: var(--bad); }
.status.pending { color: var(--muted); }

.empty { color: var(--muted); margin: 8px 0; }
.empty.big { padding: 48px 24px; text-align: center; }
.empty.big p { margin: 4px 0; }
.note { padding: 6px 10px; border-radius: 6px; background: var(--bg-soft); margin: 8px 12px; }
.note.warn { color: var(--warn); }
.replay-changes p { margin: 0 0 4px; }
.replay-changes ul { margin: 0; padding-left: 20px; }
.pill { font-size: 11px; border: 1px solid var(--line); border-radius: 10px; padding: 0 7px; color: var(--muted); margin-left: 6px; font-family: var(--sans); }
.pill.ok { color: var(--ok); }
.pill.warn { color: var(--warn); }

.exchange-head { padding: 12px 16px 10px; border-bottom: 1px solid var(--line); display: flex; flex-direction: column; gap: 6px; }
.exchange-head .head-row { display: flex; gap: 12px; align-items: flex-start; }
.exchange-head .title { display: flex; gap: 8px; align-items: baseline; min-width: 0; flex: 1; padding-top: 3px; }
.exchange-head .target { font-size: 14px; word-break: break-all; }
.exchange-head .facts { display: flex; gap: 12px; align-items: center; font-size: 13px; font-variant-numeric: tabular-nums; }
.exchange-head .actions { display: flex; gap: 6px; flex: none; }
.curl { margin: 8px 16px; display: flex; gap: 8px; align-items: flex-start; }
.curl pre { flex: 1; margin: 0; padding: 8px; background: var(--bg-soft); border-radius: 6px; white-space: pre-wrap; word-break: break-all; }
.replay-form { margin: 8px 16px; padding: 10px; border: 1px solid var(--line); border-radius: 8px; display: flex; flex-direction: column; gap: 8px; }
.replay-form label { display: flex; flex-direction: column; gap: 2px; font-size: 12px; }
.replay-form input, .replay-form textarea { padding: 4px 6px; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); color: var(--fg); }
.replay-form .line { display: flex; gap: 6px; }
.replay-form .line.end { justify-content: flex-end; }
.replay-form .grow { flex: 1; }
.method-input { width: 90px; }

.tabs { display: flex; gap: 2px; padding: 0 12px; border-bottom: 1px solid var(--line); position: sticky; top: 0; background: var(--bg); z-index: 2; }
.tabs button { border: none; border-bottom: 2px solid transparent; border-radius: 0; padding: 8px 10px 6px; color: var(--muted); background: none; }
.tabs button.on { color: var(--fg); border-bottom-color: var(--accent); }
.count { font-size: 11px; background: var(--bg-soft); border-radius: 8px; padding: 0 6px; color: var(--muted); }
.count.bad { color: var(--bad); }
.tab-body { padding: 4px 16px; }
section h4, .step-detail h3 { margin: 18px 0 6px; font-size: 13px; color: var(--muted); font-weight: 600; }
.step-detail h3 { font-size: 13px; color: var(--fg); border-top: 1px solid var(--line); padding-top: 12px; }
.card p { margin: 4px 0 8px; }

table.kv { border-collapse: collapse; width: 100%; table-layout: fixed; }
table.kv th, table.kv td { text-align: left; vertical-align: top; padding: 3px 8px; border-bottom: 1px solid var(--line); word-break: break-all; }
table.kv th { width: 34%; font-weight: 500; color: var(--muted); }
table.kv tr:hover { background: var(--bg-soft); }
.environ section h4 { margin-top: 14px; }

.body-bar { display: flex; align-items: center; gap: 12px; margin-bottom: 6px; }
.seg-buttons { display: inline-flex; }
.seg-buttons button { border-radius: 0; margin-left: -1px; padding: 2px 10px; font-size: 12px; }
.seg-buttons button:first-child { border-radius: 6px 0 0 6px; margin-left: 0; }
.seg-buttons button:last-child { border-radius: 0 6px 6px 0; }
.seg-buttons button.on { background: var(--bg-sel); }
.body-bar .muted { font-size: 12px; }
pre.body-text { margin: 0; padding: 8px 10px; background: var(--bg-soft); border-radius: 6px; white-space: pre-wrap; word-break: break-word; max-height: 480px; overflow: auto; }
.seg.odd { background: var(--seg-b); }
.seg.new { background: var(--new); }
.html-preview { width: 100%; height: 360px; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
.hexbox { position: relative; min-width: 0; }
.hexline.hexprobe { position: absolute; visibility: hidden; padding: 0; pointer-events: none; }
.hexdump { max-height: 430px; overflow-x: auto; background: var(--bg-soft); border-radius: 6px; flex: none; }
.hexline { padding: 0 10px; line-height: 20px; white-space: pre; font-family: var(--mono); font-size: 12px; }
.hexline .off { color: var(--muted); }
.hx.chunk-start { box-shadow: inset 2px 0 0 var(--chunk); }
.as.chunk-start { box-shadow: -2px 0 0 var(--chunk); }
.hx.new, .as.new { background: var(--new); }
.chunk-label { color: var(--chunk); font-size: 11px; font-family: var(--sans); margin-left: 12px; }

.timeline-tab > * { min-width: 0; }
.timeline-tab { display: grid; grid-template-columns: minmax(270px, 32%) minmax(0, 1fr); gap: 16px; padding: 10px 16px; align-items: start; }
.timeline { position: sticky; top: 44px; display: flex; flex-direction: column; gap: 8px; max-height: calc(100vh - 180px); min-height: 0; }
.stepper-bar { display: flex; gap: 6px; align-items: center; }
.step-pos { font-size: 12px; color: var(--muted); margin-left: 4px; font-variant-numeric: tabular-nums; }
ol.steps { list-style: none; margin: 0; padding: 0; overflow-y: auto; position: relative; border: 1px solid var(--line); border-radius: 8px; }
li.step { display: grid; grid-template-columns: 62px 108px minmax(0, 1fr); gap: 6px; padding: 3px 8px; border-bottom: 1px solid var(--line); cursor: pointer; font-size: 12.5px; }
li.step:last-child { border-bottom: none; }
li.step:hover { background: var(--bg-hover); }
li.step.current { background: var(--bg-sel); box-shadow: inset 3px 0 0 var(--accent); }
li.step.future { opacity: .5; }
li.step .t { color: var(--muted); text-align: right; font-variant-numeric: tabular-nums; }
li.step .label { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
li.step.t-error .type, li.step.t-abort .type, li.step.t-lint .type { color: var(--bad); }
li.step.t-chunk .type, li.step.t-write .type { color: var(--chunk); }
li.step.t-start_response .type, li.step.t-headers_sent .type { color: var(--ok); }
.step-detail section { margin-bottom: 4px; }
.change { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; background: var(--bg-soft); }
.change-head { display: flex; justify-content: space-between; align-items: center; }
.badge { font-family: var(--mono); font-size: 12px; font-weight: 600; }
.change .summary { margin: 6px 0 0; font-family: var(--mono); font-size: 13px; word-break: break-word; }
.change pre.details { margin: 6px 0 0; color: var(--muted); white-space: pre-wrap; word-break: break-all; }
.state-environ { margin-top: 14px; }
section h4 .muted, .state-environ summary .muted { font-weight: 400; }
h4 code { font-size: 12.5px; }
.state-environ summary { cursor: pointer; font-size: 13px; color: var(--muted); font-weight: 600; }
pre.stack, pre.errors-text { margin: 4px 0; padding: 8px 10px; background: var(--bg-soft); border-radius: 6px; white-space: pre-wrap; word-break: break-word; }
pre.stack { color: var(--bad); }
.error-item { border-left: 3px solid var(--bad); padding-left: 10px; margin-bottom: 12px; }
.error-item p { margin: 2px 0; }
ul.lints { margin: 0; padding-left: 18px; }
.hidden-input { display: none; }
.drop-zone {
  position: fixed; inset: 0; z-index: 10; display: flex; align-items: center; justify-content: center;
  background: color-mix(in srgb, var(--bg) 80%, transparent); border: 3px dashed var(--accent);
  font-size: 18px; font-weight: 600; color: var(--accent); pointer-events: none;
}
.import-note { display: flex; gap: 8px; align-items: baseline; }
.search-state { font-size: 12px; white-space: nowrap; }
.elapsed { color: var(--warn); font-variant-numeric: tabular-nums; }
.elapsed::before { content: "◷ "; }
.import-mark { color: var(--accent); margin-right: 4px; }
.note.client-left { margin: 8px 16px; }
table.sse th, table.sse td { padding: 3px 6px; }
table.sse thead th { width: auto; color: var(--muted); font-weight: 600; font-size: 12px; }
table.sse td:nth-child(1), table.sse th:nth-child(1) { width: 36px; }
table.sse td:nth-child(2), table.sse th:nth-child(2) { width: 72px; }
table.sse td:nth-child(3), table.sse th:nth-child(3) { width: 110px; }
table.sse td:nth-child(4), table.sse th:nth-child(4) { width: 80px; }
table.sse td:nth-child(5), table.sse th:nth-child(5) { width: 56px; }
pre.sse-data { margin: 0; white-space: pre-wrap; word-break: break-word; }
.multipart .part { border: 1px solid var(--line); border-radius: 8px; padding: 4px 10px 10px; margin-bottom: 10px; }
.multipart .part h4 { margin: 6px 0; color: var(--fg); }
.multipart .part-headers { margin-bottom: 6px; }
.compare-sides { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.compare-side { border: 1px solid var(--line); border-radius: 8px; padding: 6px 10px; min-width: 0; word-break: break-all; }
.compare-side .facts { margin-top: 4px; }
table.diff th { width: 24%; }
table.diff tr.changed td { background: color-mix(in srgb, var(--new) 60%, transparent); }
table.diff td.absent { color: var(--muted); font-style: italic; }
table.steps-diff th { width: 48px; }
.compare-section h4 .link { font-size: 12px; margin-left: 6px; }
pre.body-diff { margin: 0; padding: 8px 0; background: var(--bg-soft); border-radius: 6px; max-height: 480px; overflow: auto; white-space: pre-wrap; word-break: break-word; }
pre.body-diff > span { display: block; padding: 0 10px; }
pre.body-diff .d-removed { background: color-mix(in srgb, var(--bad) 16%, transparent); }
pre.body-diff .d-added { background: color-mix(in srgb, var(--ok) 16%, transparent); }
button.on { background: var(--bg-sel); }
@media (max-width: 1180px) {
  .panes { grid-template-columns: minmax(340px, 36%) minmax(0, 1fr); }
  .row { grid-template-columns: 56px minmax(0, 1fr) 48px 60px 60px; gap: 6px; }
  .row.head { letter-spacing: 0; }
  .row > :nth-child(6) { display: none; }
  .timeline-tab { grid-template-columns: minmax(0, 1fr); }
  .timeline { position: static; max-height: 280px; }
}
`;
