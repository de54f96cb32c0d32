/**
 * A windowed list: of `count` fixed-height rows it renders only those in view
 * (plus a few either side), so ten thousand exchanges or a megabyte of hex
 * dump cost the same to show as a screenful.
 *
 * @module
 */

import type { ComponentChildren, HTMLAttributes } from "preact";
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";

/** Props of {@linkcode VirtualList}. */
export interface VirtualListProps {
  /** How many rows there are. */
  count: number;
  /** Every row's height in CSS pixels. */
  rowHeight: number;
  /** Renders row `index`; the list positions it. */
  renderRow: (index: number) => ComponentChildren;
  /** Keeps this row in view when it changes (the selected row). */
  scrollToIndex?: number;
  /** Rows rendered beyond each edge of the view. */
  overscan?: number;
  class?: string;
  "data-testid"?: string;
  /** Extra attributes for the scrolling element (role, tabIndex, key handlers). */
  containerProps?: HTMLAttributes<HTMLDivElement>;
}

/** Renders the rows of a long list that are in view. */
export function VirtualList(props: VirtualListProps) {
  const { count, rowHeight, renderRow, scrollToIndex, overscan = 6 } = props;
  const ref = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [height, setHeight] = useState(600);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    setHeight(el.clientHeight || 600);
    const observer = new ResizeObserver(() => setHeight(el.clientHeight || 600));
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  useEffect(() => {
    const el = ref.current;
    if (!el || scrollToIndex === undefined || scrollToIndex < 0) return;
    const top = scrollToIndex * rowHeight;
    if (top < el.scrollTop) el.scrollTop = top;
    else if (top + rowHeight > el.scrollTop + el.clientHeight) {
      el.scrollTop = top + rowHeight - el.clientHeight;
    }
  }, [scrollToIndex, rowHeight]);

  useLayoutEffect(() => {
    // A shorter list (filtered, cleared) clamps the element's scroll position,
    // and browsers need not say so with a scroll event: read it back.
    if (ref.current) setScrollTop(ref.current.scrollTop);
  }, [count]);

  const top = Math.min(scrollTop, Math.max(0, count * rowHeight - height));
  const first = Math.max(0, Math.floor(top / rowHeight) - overscan);
  const last = Math.min(count, Math.ceil((top + height) / rowHeight) + overscan);
  const rows = [];
  for (let i = first; i < last; i++) {
    rows.push(
      <div key={i} class="vrow" style={{ top: `${i * rowHeight}px`, height: `${rowHeight}px` }}>
        {renderRow(i)}
      </div>,
    );
  }
  return (
    <div
      {...props.containerProps}
      ref={ref}
      class={`vlist ${props.class ?? ""}`}
      data-testid={props["data-testid"]}
      onScroll={(e) => setScrollTop((e.currentTarget as HTMLDivElement).scrollTop)}
    >
      <div class="vspace" style={{ height: `${count * rowHeight}px` }}>{rows}</div>
    </div>
  );
}
