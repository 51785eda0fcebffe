// One trace: summary, critical-path shares, the waterfall, the selected span, and the trace's logs.
import { useMemo, useState } from "react";
import { useApi } from "../api/client";
import type { CriticalPathAnswer, LogRecord, TraceDetail } from "../api/types";
import { href, Link, setParams, useLocation } from "../app/router";
import { ExplainPanel } from "../components/ExplainPanel";
import { ErrorBox, Guard } from "../components/States";
import { highlights, serviceShares } from "../lib/criticalPath";
import { serviceColor } from "../lib/colors";
import { fmtDateTime, fmtNs, fmtPct } from "../lib/format";
import { buildTree, parentsOf, traceBounds, visibleRows } from "../lib/waterfall";
import { LogTable } from "./Logs";
import { SpanDetails } from "./SpanDetails";
import { Waterfall } from "./Waterfall";

const FIVE_MIN_NS = 300_000_000_000;

export function TraceView({ traceId }: { traceId: string }) {
  const trace = useApi<TraceDetail>(`traces/${traceId}`, {}, { windowed: false });
  const path = useApi<CriticalPathAnswer>(`traces/${traceId}/critical-path`, {}, { windowed: false });
  return (
    <section>
      <div className="page-head">
        <h1>
          <Link to={href("/traces")} className="muted">Traces /</Link> <span className="mono">{traceId}</span>
        </h1>
      </div>
      <Guard query={trace} what="the trace">
        {(t) => <TraceBody trace={t} path={path.data} pathError={path.error} />}
      </Guard>
      {trace.data ? <ExplainPanel path={`explain/traces/${traceId}`} what="trace" /> : null}
    </section>
  );
}

function TraceBody({ trace, path, pathError }: { trace: TraceDetail; path: CriticalPathAnswer | undefined; pathError: Error | null }) {
  const { params } = useLocation();
  const selected = params.get("span");
  const tree = useMemo(() => buildTree(trace.spans), [trace]);
  const bounds = useMemo(() => traceBounds(trace.spans), [trace]);
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(new Set());
  const rows = useMemo(() => visibleRows(tree, collapsed), [tree, collapsed]);
  const marks = useMemo(() => highlights(path?.segments ?? [], bounds, path?.total_ns), [path, bounds]);
  const shares = useMemo(() => serviceShares(path?.segments ?? []), [path]);
  const services = useMemo(() => [...new Set(trace.spans.map((s) => s.service_name))].sort(), [trace]);
  const errors = trace.spans.filter((s) => s.status_code === "Error").length;
  const root = tree[0]?.span;
  const selectedSpan = trace.spans.find((s) => s.span_id === selected);

  const toggle = (id: string) => {
    const next = new Set(collapsed);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setCollapsed(next);
  };

  return (
    <>
      <div className="stats">
        <div><span className="label">Root</span>{root ? `${root.service_name} · ${root.name}` : "–"}</div>
        <div><span className="label">Started</span>{fmtDateTime(bounds.start)}</div>
        <div><span className="label">Duration</span>{fmtNs(bounds.end - bounds.start)}</div>
        <div><span className="label">Spans</span>{trace.spans.length}</div>
        <div><span className="label">Services</span>{services.length}</div>
        <div><span className="label">Errors</span><span className={errors ? "bad" : undefined}>{errors}</span></div>
      </div>
      <div className="panel" data-testid="critical-path-summary">
        <h2>
          Critical path <span className="muted small">what the root waited on ({path ? fmtNs(path.total_ns) : "…"}), by service</span>
        </h2>
        <ErrorBox error={pathError} />
        <div className="share-bar">
          {shares.map((s) => (
            <div key={s.service} style={{ width: `${s.share * 100}%`, background: serviceColor(s.service) }} title={`${s.service}: ${fmtPct(s.share)} (${fmtNs(s.ns)})`} />
          ))}
        </div>
        <div className="share-legend">
          {shares.map((s) => (
            <span key={s.service}><span className="dot" style={{ background: serviceColor(s.service) }} /> {s.service} <b>{fmtPct(s.share)}</b></span>
          ))}
        </div>
        {path?.errors.length ? <p className="muted small">Left out: {path.errors.join("; ")}</p> : null}
      </div>
      <div className="panel">
        <div className="wf-toolbar">
          <h2>Waterfall</h2>
          <span className="muted small">◆ critical path (share of path time) · click a span for details</span>
          <span className="spacer" />
          <button onClick={() => setCollapsed(new Set())}>Expand all</button>
          <button onClick={() => setCollapsed(parentsOf(tree))}>Collapse all</button>
        </div>
        <div className={selectedSpan ? "trace-split" : undefined}>
          <Waterfall rows={rows} bounds={bounds} path={marks} selected={selected} onSelect={(id) => setParams({ span: id })} onToggle={toggle} />
          {selectedSpan && <SpanDetails span={selectedSpan} traceStart={bounds.start} onClose={() => setParams({ span: null })} />}
        </div>
      </div>
      <TraceLogs traceId={trace.trace_id} start={bounds.start} end={bounds.end} />
    </>
  );
}

function TraceLogs({ traceId, start, end }: { traceId: string; start: number; end: number }) {
  const logs = useApi<{ logs: LogRecord[] }>(
    "logs",
    { trace_id: traceId, start: Math.floor(start - FIVE_MIN_NS), end: Math.ceil(end + FIVE_MIN_NS), limit: 500 },
    { windowed: false },
  );
  return (
    <div className="panel">
      <h2>Logs of this trace</h2>
      <Guard query={logs} what="logs" isEmpty={(d) => d.logs.length === 0} empty={<>This trace has no logs.</>} hint={false}>
        {(d) => <LogTable logs={[...d.logs].reverse()} showTraceLink={false} onSpan={(id) => setParams({ span: id })} />}
      </Guard>
    </div>
  );
}
