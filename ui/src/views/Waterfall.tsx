// The waterfall: one virtualised row per visible span, bars in service colours, critical-path
// segments marked on the bars. Thousands of spans render only the rows on screen.
import { useVirtualizer } from "@tanstack/react-virtual";
import { useRef } from "react";
import type { Span } from "../api/types";
import type { Highlight } from "../lib/criticalPath";
import { serviceColor } from "../lib/colors";
import { fmtNs, fmtPct } from "../lib/format";
import { barGeometry, type Bounds, type Row } from "../lib/waterfall";

const ROW_HEIGHT = 26;

interface Props {
  rows: Row<Span>[];
  bounds: Bounds;
  path: Map<string, Highlight>;
  selected: string | null;
  onSelect: (spanId: string) => void;
  onToggle: (spanId: string) => void;
}

function Ticks({ bounds }: { bounds: Bounds }) {
  const total = bounds.end - bounds.start;
  return (
    <div className="ticks">
      {[0, 0.25, 0.5, 0.75, 1].map((f) => (
        <span key={f} style={{ left: `${f * 100}%` }}>{fmtNs(total * f)}</span>
      ))}
    </div>
  );
}

export function Waterfall({ rows, bounds, path, selected, onSelect, onToggle }: Props) {
  const scroller = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 20,
  });
  const height = Math.min(640, Math.max(ROW_HEIGHT * 4, rows.length * ROW_HEIGHT));
  const items = virtualizer.getVirtualItems();
  return (
    <div className="waterfall" data-testid="waterfall">
      <div className="wf-head">
        <div className="wf-name">Span</div>
        <div className="wf-bars"><Ticks bounds={bounds} /></div>
      </div>
      <div ref={scroller} className="wf-scroll" style={{ height }}>
        <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
          {items.map((item) => {
            const row = rows[item.index]!;
            return (
              <WaterfallRow
                key={row.span.span_id}
                row={row}
                top={item.start}
                bounds={bounds}
                highlight={path.get(row.span.span_id)}
                selected={row.span.span_id === selected}
                onSelect={onSelect}
                onToggle={onToggle}
              />
            );
          })}
        </div>
      </div>
    </div>
  );
}

function WaterfallRow({
  row,
  top,
  bounds,
  highlight,
  selected,
  onSelect,
  onToggle,
}: {
  row: Row<Span>;
  top: number;
  bounds: Bounds;
  highlight: Highlight | undefined;
  selected: boolean;
  onSelect: (id: string) => void;
  onToggle: (id: string) => void;
}) {
  const s = row.span;
  const bar = barGeometry(s.start_time_unix_nano, s.end_time_unix_nano, bounds);
  const color = serviceColor(s.service_name);
  const error = s.status_code === "Error";
  const classes = ["wf-row", selected ? "selected" : "", highlight ? "on-path" : "", error ? "error" : ""].join(" ");
  return (
    <div className={classes} style={{ top, height: ROW_HEIGHT }} onClick={() => onSelect(s.span_id)} data-span-id={s.span_id} data-testid="waterfall-row">
      <div className="wf-name" style={{ paddingLeft: 6 + Math.min(row.depth, 40) * 14 }}>
        {row.childCount > 0 ? (
          <button
            className="toggle"
            aria-label={row.collapsed ? "Expand" : "Collapse"}
            onClick={(e) => {
              e.stopPropagation();
              onToggle(s.span_id);
            }}
          >
            {row.collapsed ? "▸" : "▾"}
          </button>
        ) : (
          <span className="toggle-space" />
        )}
        <span className="svc-bar" style={{ background: color }} />
        <span className="svc-name">{s.service_name}</span>
        <span className="op-name" title={s.name}>{s.name}</span>
        {row.collapsed && <span className="muted small"> +{row.childCount}</span>}
        {highlight && (
          <span className="cp-marker" data-testid="critical-path-marker" title="On the critical path: share of the path's time">
            ◆ {fmtPct(highlight.share, 0)}
          </span>
        )}
      </div>
      <div className="wf-bars">
        <div className="bar" style={{ left: `${bar.left * 100}%`, width: `${bar.width * 100}%`, background: color }} />
        {highlight?.marks.map((m, i) => (
          <div key={i} className="cp-mark" style={{ left: `${m.left * 100}%`, width: `${m.width * 100}%` }} />
        ))}
        <span className="bar-label" style={{ left: `calc(${Math.min(bar.left + bar.width, 0.9) * 100}% + 4px)` }}>
          {fmtNs(s.duration_ns)}
        </span>
      </div>
    </div>
  );
}
