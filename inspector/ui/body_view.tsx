/**
 * A body (request or response) four ways: text, pretty JSON, an HTML preview
 * in a sandboxed frame, and a hex dump with offsets. Chunk boundaries are
 * marked in the text and hex views, and a byte range can be highlighted (the
 * bytes the stepper's current step added).
 *
 * `BodyView` is pure (bytes and mode in, markup out); `BodyPanel` adds the
 * mode switch and picks a first mode from the content type.
 *
 * @module
 */

import { useMemo, useState } from "preact/hooks";
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
import { formatBytes } from "./format.ts";
import { VirtualList } from "./virtual_list.tsx";

/** How a body is shown. */
export type BodyMode = "text" | "json" | "html" | "hex";

/** Every mode, in the switch's order. */
export const BODY_MODES: BodyMode[] = ["text", "json", "html", "hex"];

/** Props of {@linkcode BodyView}. */
export interface BodyViewProps {
  bytes: Uint8Array;
  mode: BodyMode;
  /** Offsets where each chunk began (marks boundaries). */
  chunkOffsets?: number[];
  /** A byte range to highlight, `[start, end)`. */
  highlight?: [number, number];
}

const HEX_ROW = 20;
/** The gap between a hex dump's columns. */
const GAP = "  ";

/**
 * The mode a body first shows in: from its content type, else from its bytes.
 */
export function defaultMode(contentType: string | undefined, bytes: Uint8Array): BodyMode {
  const type = (contentType ?? "").toLowerCase();
  if (/\bjson\b|\+json/.test(type)) return "json";
  if (bytes.length === 0 || isText(bytes)) return "text";
  return "hex";
}

/** Index of the chunk that starts at `offset`, or -1. */
function chunkAt(offsets: number[], offset: number): number {
  return offsets.indexOf(offset);
}

function HexDump({ bytes, chunkOffsets = [], highlight }: Omit<BodyViewProps, "mode">) {
  const starts = useMemo(() => new Set(chunkOffsets.filter((o) => o > 0)), [chunkOffsets]);
  const lines = hexLineCount(bytes.length);
  const inRange = (offset: number) =>
    highlight !== undefined && offset >= highlight[0] && offset < highlight[1];
  return (
    <VirtualList
      class="hexdump mono"
      data-testid="hex-dump"
      count={lines}
      rowHeight={HEX_ROW}
      containerProps={{ style: { height: `${Math.min(lines, 21) * HEX_ROW + 2}px` } }}
      renderRow={(i) => {
        const line = hexLine(bytes, i);
        const cells = [];
        const ascii = [];
        let boundary = -1;
        for (let j = 0; j < HEX_WIDTH; j++) {
          const offset = line.offset + j;
          // The gap before a byte belongs to its cell, so that highlights run on.
          const gap = j === 0 ? "" : j === HEX_WIDTH / 2 ? "  " : " ";
          if (j >= line.bytes.length) {
            cells.push(gap + "  ");
            continue;
          }
          const byte = line.bytes[j]!;
          const start = starts.has(offset);
          if (start && boundary === -1) boundary = chunkAt(chunkOffsets, offset);
          const cls = `${start ? "chunk-start" : ""} ${inRange(offset) ? "new" : ""}`;
          const title = start ? `chunk #${chunkAt(chunkOffsets, offset)} starts at ${offset}` : "";
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
            <span class="ascii">{ascii}</span>
            {boundary > 0 && <span class="chunk-label">▸ chunk {boundary}</span>}
          </div>
        );
      }}
    />
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
export function BodyView({ bytes, mode, chunkOffsets, highlight }: BodyViewProps) {
  if (bytes.length === 0) return <p class="empty" data-testid="body-empty">No bytes.</p>;
  switch (mode) {
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
          {BODY_MODES.map((m) => (
            <button
              key={m}
              type="button"
              role="tab"
              aria-selected={m === mode}
              class={m === mode ? "on" : ""}
              data-testid={`${name}-mode-${m}`}
              onClick={() => setChosen(m)}
            >
              {m === "json" ? "JSON" : m === "html" ? "HTML" : m === "hex" ? "Hex" : "Text"}
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
      <BodyView
        bytes={bytes}
        mode={mode}
        chunkOffsets={props.chunkOffsets}
        highlight={props.highlight}
      />
    </div>
  );
}
