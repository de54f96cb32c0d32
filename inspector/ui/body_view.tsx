/**
 * A body (request or response) several ways: text, pretty JSON, an HTML
 * preview in a sandboxed frame, a hex dump with offsets, and, where the
 * content type says so, the events of a `text/event-stream` (`./sse.ts`) or
 * the parts of a multipart body (`./multipart.ts`). Chunk boundaries are
 * marked in the text and hex views, and a byte range can be highlighted (the
 * bytes the stepper's current step added).
 *
 * `BodyView` is pure (bytes and mode in, markup out); `BodyPanel` adds the
 * mode switch and picks a first mode from the content type and the bytes (a
 * JSON body opens as JSON whatever its type says).
 *
 * The hex dump lays out 16 bytes a line where that fits its width, else 8:
 * its ASCII column is never cut off.
 *
 * A mode's view that throws on some body shows a short error in its place
 * (`./error_boundary.tsx`); the mode switch still works. The multipart view
 * shows at most {@linkcode MAX_PARTS_SHOWN} parts, and marks a part's header
 * block that was cut (`MAX_PART_HEADER_BYTES`).
 *
 * @module
 */

import { useLayoutEffect, useMemo, useRef, useState } from "preact/hooks";
import { ErrorBoundary } from "./error_boundary.tsx";
import {
  MAX_PART_HEADER_BYTES,
  type Multipart,
  multipartBoundary,
  parseMultipart,
} from "./multipart.ts";
import { parseEventStream, type SseEvent } from "./sse.ts";
import {
  asciiChar,
  HEX_WIDTH,
  hexByte,
  hexLine,
  hexLineCount,
  hexOffset,
  isText,
  utf8Text,
} from "./bytes.ts";
import { formatBytes, formatMs } from "./format.ts";
import { VirtualList } from "./virtual_list.tsx";

/** How a body is shown. */
export type BodyMode = "text" | "json" | "html" | "hex" | "events" | "parts";

/** Every mode, in the switch's order (`events` and `parts` only where the content type fits). */
export const BODY_MODES: BodyMode[] = ["events", "parts", "text", "json", "html", "hex"];

const MODE_LABEL: Record<BodyMode, string> = {
  events: "Events",
  parts: "Parts",
  text: "Text",
  json: "JSON",
  html: "HTML",
  hex: "Hex",
};

/** Whether a content type is an event stream. */
const isEventStream = (contentType: string | undefined) =>
  /^\s*text\/event-stream\b/i.test(contentType ?? "");

/** The modes a body of this content type can be shown in. */
export function modesFor(contentType: string | undefined): BodyMode[] {
  return BODY_MODES.filter((m) =>
    m === "events"
      ? isEventStream(contentType)
      : m === "parts"
      ? multipartBoundary(contentType) !== undefined
      : true
  );
}

/** Props of {@linkcode BodyView}. */
export interface BodyViewProps {
  bytes: Uint8Array;
  mode: BodyMode;
  /** Offsets where each chunk began (marks boundaries). */
  chunkOffsets?: number[];
  /** When each chunk came, ms since the request arrived (same order as `chunkOffsets`). */
  chunkTimes?: number[];
  /** A byte range to highlight, `[start, end)`. */
  highlight?: [number, number];
  /** The content type (the multipart boundary is in it). */
  contentType?: string;
}

const HEX_ROW = 20;
/** The gap between a hex dump's columns. */
const GAP = "  ";

/**
 * The mode a body first shows in: from its content type, else from its bytes.
 */
export function defaultMode(contentType: string | undefined, bytes: Uint8Array): BodyMode {
  const type = (contentType ?? "").toLowerCase();
  if (isEventStream(type)) return "events";
  if (multipartBoundary(contentType) !== undefined) return "parts";
  if (/\bjson\b|\+json/.test(type)) return "json";
  if (bytes.length === 0) return "text";
  if (isText(bytes)) return looksLikeJson(bytes) ? "json" : "text";
  return "hex";
}

/**
 * Whether text bytes are a JSON object or array (a body sent as `text/plain`
 * or form data by a client that did not say it was JSON).
 */
export function looksLikeJson(bytes: Uint8Array): boolean {
  let i = 0;
  while (
    i < bytes.length &&
    (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)
  ) i++;
  if (bytes[i] !== 0x7b && bytes[i] !== 0x5b) return false;
  try {
    JSON.parse(utf8Text(bytes));
    return true;
  } catch {
    return false;
  }
}

/** Index of the chunk that starts at `offset`, or -1. */
function chunkAt(offsets: number[], offset: number): number {
  return offsets.indexOf(offset);
}

/** Characters of a hex dump line of `width` bytes: offset, gap, cells, gap, ASCII. */
const hexChars = (width: number) => 8 + 2 + (width * 3 - 1 + (width > 8 ? 1 : 0)) + 2 + width;

/**
 * How many bytes a hex dump line holds in `px` of room with characters
 * `charPx` wide (and 20 px of padding): 16 when they fit, else 8.
 */
export function hexWidthFor(px: number, charPx: number): number {
  return px <= 0 || hexChars(HEX_WIDTH) * charPx + 24 <= px ? HEX_WIDTH : HEX_WIDTH / 2;
}

function HexDump({ bytes, chunkOffsets = [], highlight }: Omit<BodyViewProps, "mode">) {
  const starts = useMemo(() => new Set(chunkOffsets.filter((o) => o > 0)), [chunkOffsets]);
  const box = useRef<HTMLDivElement>(null);
  const probe = useRef<HTMLSpanElement>(null);
  const [width, setWidth] = useState(HEX_WIDTH);
  useLayoutEffect(() => {
    const el = box.current;
    if (!el) return;
    const measure = () => {
      const charPx = (probe.current?.getBoundingClientRect().width ?? 0) / 10 || 7.3;
      setWidth(hexWidthFor(el.clientWidth, charPx));
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);
  const lines = hexLineCount(bytes.length, width);
  const inRange = (offset: number) =>
    highlight !== undefined && offset >= highlight[0] && offset < highlight[1];
  return (
    <div class="hexbox" ref={box} data-bytes-per-line={width}>
      <span class="hexline hexprobe" ref={probe} aria-hidden="true">0000000000</span>
      <VirtualList
        class="hexdump mono"
        data-testid="hex-dump"
        count={lines}
        rowHeight={HEX_ROW}
        containerProps={{ style: { height: `${Math.min(lines, 21) * HEX_ROW + 2}px` } }}
        renderRow={(i) => {
          const line = hexLine(bytes, i, width);
          const cells = [];
          const ascii = [];
          let boundary = -1;
          for (let j = 0; j < width; j++) {
            const offset = line.offset + j;
            // The gap before a byte belongs to its cell, so that highlights run on.
            const gap = j === 0 ? "" : j === width / 2 && width > 8 ? "  " : " ";
            if (j >= line.bytes.length) {
              cells.push(gap + "  ");
              continue;
            }
            const byte = line.bytes[j]!;
            const start = starts.has(offset);
            if (start && boundary === -1) boundary = chunkAt(chunkOffsets, offset);
            const cls = `${start ? "chunk-start" : ""} ${inRange(offset) ? "new" : ""}`;
            const title = start
              ? `chunk #${chunkAt(chunkOffsets, offset)} starts at ${offset}`
              : "";
            cells.push(
              <span
                class={`hx ${cls}`}
                title={title}
                data-testid={start ? "chunk-mark" : undefined}
              >
                {gap}
                {hexByte(byte)}
              </span>,
            );
            ascii.push(<span class={`as ${cls}`}>{asciiChar(byte)}</span>);
          }
          return (
            <div class="hexline" data-testid="hex-line">
              <span class="off">{hexOffset(line.offset)}</span>
              {GAP}
              <span class="cells">{cells}</span>
              {GAP}
              <span class="ascii" data-testid="hex-ascii">{ascii}</span>
              {boundary > 0 && <span class="chunk-label">▸ chunk {boundary}</span>}
            </div>
          );
        }}
      />
    </div>
  );
}

/** The time of the chunk that holds byte `end - 1`, or undefined. */
function timeAt(end: number, offsets: number[], times: number[] | undefined): number | undefined {
  if (!times) return undefined;
  let k = -1;
  for (let i = 0; i < offsets.length; i++) if (offsets[i]! < end) k = i;
  return k === -1 ? undefined : times[k];
}

/** The events of a `text/event-stream` body, as a table. */
export function SseView(
  { bytes, chunkOffsets = [], chunkTimes }: Pick<
    BodyViewProps,
    "bytes" | "chunkOffsets" | "chunkTimes"
  >,
) {
  const events = useMemo(() => parseEventStream(bytes), [bytes]);
  const dispatched = events.filter((e) => e.data !== null && !e.partial).length;
  return (
    <div class="sse-view" data-testid="body-events">
      <p class="muted" data-testid="sse-count">
        {dispatched} event{dispatched === 1 ? "" : "s"} dispatched
        {events.length > dispatched
          ? `, ${events.length - dispatched} other block${
            events.length - dispatched === 1 ? "" : "s"
          } (comments, ids, an unfinished one)`
          : ""}
      </p>
      <table class="kv sse" data-testid="sse-table">
        <thead>
          <tr>
            <th>#</th>
            <th>at</th>
            <th>event</th>
            <th>id</th>
            <th>retry</th>
            <th>data</th>
          </tr>
        </thead>
        <tbody>
          {events.map((e: SseEvent, i) => {
            const t = timeAt(e.offset + e.length, chunkOffsets, chunkTimes);
            return (
              <tr
                key={i}
                class={e.data === null || e.partial ? "muted" : ""}
                data-testid="sse-event"
                data-event={e.event}
              >
                <td class="mono">{i}</td>
                <td class="mono">{t === undefined ? "" : formatMs(t)}</td>
                <td class="mono" data-testid="sse-event-type">
                  {e.data === null ? <span class="muted">(no data)</span> : e.event}
                  {e.partial && <span class="pill warn">unfinished</span>}
                </td>
                <td class="mono" data-testid="sse-event-id">
                  {e.id === null ? "" : e.ownId ? e.id : `${e.id} (last)`}
                </td>
                <td class="mono" data-testid="sse-event-retry">{e.retry ?? ""}</td>
                <td>
                  {e.data !== null && (
                    <pre class="mono sse-data" data-testid="sse-event-data">{e.data}</pre>
                  )}
                  {e.comments.map((c, k) => <div key={k} class="muted mono">: {c}</div>)}
                  {e.ignored.map((c, k) => (
                    <div key={k} class="muted mono" title="a line the standard ignores">
                      ignored: {c}
                    </div>
                  ))}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** Parts the multipart view lays out; the rest are counted (a body may hold thousands). */
export const MAX_PARTS_SHOWN = 200;

/** The parts of a multipart body: each one's headers, name, file name, size and content. */
export function MultipartView(
  { bytes, contentType }: Pick<BodyViewProps, "bytes" | "contentType">,
) {
  const parsed: Multipart | undefined = useMemo(() => {
    const boundary = multipartBoundary(contentType);
    return boundary === undefined ? undefined : parseMultipart(bytes, boundary);
  }, [bytes, contentType]);
  if (!parsed) return <p class="note warn">The content type names no multipart boundary.</p>;
  return (
    <div class="multipart" data-testid="body-parts">
      <p class="muted" data-testid="parts-count">
        {parsed.parts.length} part{parsed.parts.length === 1 ? "" : "s"} · boundary{" "}
        <code>{parsed.boundary}</code>
        {!parsed.complete && <span class="pill warn">no closing boundary</span>}
      </p>
      {parsed.problem && <p class="note warn" data-testid="parts-problem">{parsed.problem}</p>}
      {parsed.parts.slice(0, MAX_PARTS_SHOWN).map((part, i) => (
        <section key={i} class="part card" data-testid="part" data-name={part.name ?? ""}>
          <h4>
            <span class="mono" data-testid="part-name">{part.name ?? `part ${i}`}</span>
            {part.filename !== null && (
              <span class="pill" data-testid="part-filename">file: {part.filename}</span>
            )}
            <span class="muted" data-testid="part-size">
              {" "}
              {formatBytes(part.bytes.length)}
              {part.contentType ? ` · ${part.contentType}` : ""} · at byte {part.offset}
            </span>
          </h4>
          {part.headersCut && (
            <p class="note warn" data-testid="part-headers-cut">
              Header block cut: the first {formatBytes(MAX_PART_HEADER_BYTES)} of{" "}
              {formatBytes(part.headerBytes)} shown.
            </p>
          )}
          <table class="kv part-headers">
            <tbody>
              {part.headers.map(([n, v], k) => (
                <tr key={k}>
                  <th class="mono">{n}</th>
                  <td class="mono">{v}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {part.bytes.length === 0
            ? <p class="empty">Empty.</p>
            : part.text !== null && isText(part.bytes)
            ? <pre class="body-text mono" data-testid="part-text">{part.text}</pre>
            : <HexDump bytes={part.bytes} />}
        </section>
      ))}
      {parsed.parts.length > MAX_PARTS_SHOWN && (
        <p class="note" data-testid="parts-more">
          {parsed.parts.length - MAX_PARTS_SHOWN}{" "}
          more parts not shown; the Text and Hex views show the whole body.
        </p>
      )}
    </div>
  );
}

function TextChunks({ bytes, chunkOffsets = [], highlight }: Omit<BodyViewProps, "mode">) {
  const segments = useMemo(() => {
    const bounds = chunkOffsets.length > 0 ? [...chunkOffsets] : [0];
    if (bounds[0] !== 0) bounds.unshift(0);
    const decoder = new TextDecoder();
    return bounds.map((start, k) => {
      const end = bounds[k + 1] ?? bytes.length;
      const last = k === bounds.length - 1;
      return {
        start,
        end,
        text: decoder.decode(bytes.subarray(start, end), { stream: !last }),
      };
    });
  }, [bytes, chunkOffsets]);
  const marked = chunkOffsets.length > 1;
  return (
    <pre class="body-text mono" data-testid="body-text">
      {segments.map((s, k) => (
        <span
          key={k}
          class={`seg ${marked ? (k % 2 ? "odd" : "even") : ""} ${
            highlight && s.start >= highlight[0] && s.end <= highlight[1] && s.end > s.start
              ? "new"
              : ""
          }`}
          title={marked ? `chunk #${k}: ${formatBytes(s.end - s.start)} at ${s.start}` : undefined}
        >
          {s.text}
        </span>
      ))}
    </pre>
  );
}

function JsonView({ bytes }: { bytes: Uint8Array }) {
  const result = useMemo(() => {
    const text = utf8Text(bytes);
    try {
      return { ok: true, text: JSON.stringify(JSON.parse(text), null, 2) };
    } catch (error) {
      return { ok: false, text, message: (error as Error).message };
    }
  }, [bytes]);
  return (
    <div data-testid="body-json">
      {!result.ok && <p class="note warn">Not valid JSON ({result.message}); shown as text.</p>}
      <pre class="body-text mono">{result.text}</pre>
    </div>
  );
}

/** Shows bytes in one mode. */
export function BodyView(props: BodyViewProps) {
  const { bytes, mode, chunkOffsets, highlight } = props;
  if (bytes.length === 0) return <p class="empty" data-testid="body-empty">No bytes.</p>;
  switch (mode) {
    case "events":
      return <SseView bytes={bytes} chunkOffsets={chunkOffsets} chunkTimes={props.chunkTimes} />;
    case "parts":
      return <MultipartView bytes={bytes} contentType={props.contentType} />;
    case "json":
      return <JsonView bytes={bytes} />;
    case "html":
      return (
        <iframe
          class="html-preview"
          data-testid="body-html"
          sandbox=""
          title="HTML preview (sandboxed: no scripts, no same origin)"
          srcdoc={utf8Text(bytes)}
        />
      );
    case "hex":
      return <HexDump bytes={bytes} chunkOffsets={chunkOffsets} highlight={highlight} />;
    default:
      return <TextChunks bytes={bytes} chunkOffsets={chunkOffsets} highlight={highlight} />;
  }
}

/** Props of {@linkcode BodyPanel}. */
export interface BodyPanelProps extends Omit<BodyViewProps, "mode"> {
  /** The body's content type, for the first mode. */
  contentType?: string;
  /** The true size (the bytes may be cut at the capture cap). */
  size?: number;
  truncated?: boolean;
  /** Distinguishes test ids when a page shows two bodies. */
  name: string;
  /** What the size line calls the parts `chunkOffsets` marks ("chunks" by default). */
  partsWord?: string;
}

/** A body with its mode switch and size line. */
export function BodyPanel(props: BodyPanelProps) {
  const { bytes, name } = props;
  const [chosen, setChosen] = useState<BodyMode | null>(null);
  const mode = chosen ?? defaultMode(props.contentType, bytes);
  const size = props.size ?? bytes.length;
  const parts = props.chunkOffsets?.length ?? 0;
  const modes = modesFor(props.contentType);
  if (size === 0) {
    return (
      <div class="body-panel" data-testid={`${name}-body`} data-mode={mode}>
        <p class="empty" data-testid="body-empty">No bytes.</p>
      </div>
    );
  }
  return (
    <div class="body-panel" data-testid={`${name}-body`} data-mode={mode}>
      <div class="body-bar">
        <div class="seg-buttons" role="tablist" aria-label="Show the body as">
          {modes.map((m) => (
            <button
              key={m}
              type="button"
              role="tab"
              aria-selected={m === mode}
              class={m === mode ? "on" : ""}
              data-testid={`${name}-mode-${m}`}
              onClick={() => setChosen(m)}
            >
              {MODE_LABEL[m]}
            </button>
          ))}
        </div>
        <span class="muted" data-testid={`${name}-size`}>
          {formatBytes(size)}
          {parts > 1 ? ` in ${parts} ${props.partsWord ?? "chunks"}` : ""}
          {props.truncated || bytes.length < size
            ? ` · first ${formatBytes(bytes.length)} kept`
            : ""}
        </span>
      </div>
      <ErrorBoundary key={mode} what={`the ${MODE_LABEL[mode]} view of this body`}>
        <BodyView
          bytes={bytes}
          mode={mode}
          chunkOffsets={props.chunkOffsets}
          chunkTimes={props.chunkTimes}
          highlight={props.highlight}
          contentType={props.contentType}
        />
      </ErrorBoundary>
    </div>
  );
}
