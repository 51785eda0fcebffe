// One service: RED over time, its operations, and who calls it and whom it calls.
import { useMemo } from "react";
import { useApi } from "../api/client";
import type { Operation, RedPoint, ServiceDetail, TopologyEdge, TraceSummary } from "../api/types";
import { href, Link } from "../app/router";
import { AXIS, Chart, TOOLTIP } from "../components/Chart";
import { useTimeRange } from "../app/timeRange";
import { ExplainPanel } from "../components/ExplainPanel";
import { HealthBadge } from "../components/Health";
import { SortableTable, type Column } from "../components/SortableTable";
import { Guard } from "../components/States";
import { fmtDateTime, fmtMs, fmtNs, fmtPct, fmtRate } from "../lib/format";
import { redColumns } from "./redColumns";

type Pick = (p: RedPoint) => number | null;

function lineOption(points: RedPoint[], lines: [string, Pick, string][], unit: (v: number) => string) {
  return {
    tooltip: { ...TOOLTIP, trigger: "axis", valueFormatter: (v: number) => unit(v) },
    legend: { top: 0, textStyle: { color: "#8b949e" } },
    grid: { left: 60, right: 16, top: 30, bottom: 28 },
    xAxis: { type: "time", ...AXIS },
    yAxis: { type: "value", ...AXIS, axisLabel: { ...AXIS.axisLabel, formatter: unit } },
    series: lines.map(([name, pick, color]) => ({
      name,
      type: "line",
      showSymbol: points.length < 10, // a line needs two points: show a lone minute as a dot
      smooth: false,
      color,
      areaStyle: lines.length === 1 ? { opacity: 0.12 } : undefined,
      data: points.map((p) => [p.time_unix_nano / 1e6, pick(p)]),
    })),
  };
}

export function RedCharts({ series }: { series: RedPoint[] }) {
  const rate = useMemo(() => lineOption(series, [["requests/s", (p) => p.rate_per_s, "#5b8def"]], (v) => fmtRate(v)), [series]);
  const errors = useMemo(() => lineOption(series, [["error %", (p) => p.error_rate, "#e5534b"]], (v) => fmtPct(v)), [series]);
  const latency = useMemo(
    () =>
      lineOption(
        series,
        [
          ["p50", (p) => p.p50_ms, "#3fb68b"],
          ["p95", (p) => p.p95_ms, "#f2a93b"],
          ["p99", (p) => p.p99_ms, "#e5534b"],
        ],
        (v) => fmtMs(v),
      ),
    [series],
  );
  return (
    <div className="grid3">
      <div className="panel"><h2>Rate</h2><Chart option={rate} height={200} /></div>
      <div className="panel"><h2>Errors</h2><Chart option={errors} height={200} /></div>
      <div className="panel"><h2>Latency</h2><Chart option={latency} height={200} /></div>
    </div>
  );
}

function opColumns(service: string): Column<Operation>[] {
  return [
    {
      key: "operation",
      label: "Operation",
      value: (o) => o.operation,
      render: (o) => <Link to={href("/traces", { service, operation: o.operation })}>{o.operation}</Link>,
    },
    { key: "kind", label: "Kind", value: (o) => o.kind },
    { key: "health", label: "Health", value: (o) => o.health.status, render: (o) => <HealthBadge health={o.health} /> },
    ...redColumns<Operation>((o) => o),
  ];
}

function edgeColumns(side: "source" | "target"): Column<TopologyEdge>[] {
  return [
    {
      key: "peer",
      label: side === "source" ? "Caller" : "Callee",
      value: (e) => e[side],
      render: (e) => <Link to={href(`/services/${encodeURIComponent(e[side])}`)}>{e[side]}</Link>,
    },
    { key: "health", label: "Health", value: (e) => e.health.status, render: (e) => <HealthBadge health={e.health} /> },
    ...redColumns<TopologyEdge>((e) => e.red),
    {
      key: "calls",
      label: "",
      value: () => null,
      render: (e) => (
        <Link to={href("/", { from: e.source, to: e.target })} data-testid="edge-link">calls</Link>
      ),
    },
  ];
}

// Traces touching the service, newest first: each row opens the trace view.
function TraceList({ params, testId, empty }: { params: Record<string, string | number> | null; testId: string; empty: string }) {
  const query = useApi<{ traces: TraceSummary[] }>(params ? "traces" : null, params ?? {});
  if (!params) return <p className="muted">{empty}</p>;
  return (
    <Guard query={query} what="traces" isEmpty={(d) => d.traces.length === 0} empty={empty} hint={false}>
      {(d) => (
        <table className="table" data-testid={`${testId}-table`}>
          <thead>
            <tr><th>Time</th><th>Operation</th><th className="num">Duration</th><th>Status</th></tr>
          </thead>
          <tbody>
            {d.traces.map((t) => (
              <tr key={t.trace_id}>
                <td className="nowrap mono small">
                  <Link to={href(`/traces/${t.trace_id}`)} data-testid="service-trace-link">{fmtDateTime(t.start_time_unix_nano)}</Link>
                </td>
                <td>{t.root_service} · {t.root_operation}</td>
                <td className="num">{fmtNs(t.duration_ns)}</td>
                <td>{t.error_count ? <span className="bad">error ({t.error_count})</span> : <span className="muted">ok</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Guard>
  );
}

function TracePanels({ s }: { s: ServiceDetail }) {
  const p95 = s.red.p95_ms;
  return (
    <div className="grid2">
      <div className="panel" data-testid="service-recent-errors">
        <h2>Recent errors</h2>
        <TraceList params={{ service: s.name, status: "error", limit: 10 }} testId="service-recent-errors" empty="No failed traces in this range." />
      </div>
      <div className="panel" data-testid="service-slow-traces">
        <h2>Slow traces {p95 !== null && <span className="muted small">slower than the p95, {fmtMs(p95)}</span>}</h2>
        <TraceList
          params={p95 === null ? null : { service: s.name, min_duration_ms: p95, limit: 10 }}
          testId="service-slow-traces"
          empty={p95 === null ? "No p95 in this range." : "No traces slower than the p95 in this range."}
        />
      </div>
    </div>
  );
}

function Header({ s }: { s: ServiceDetail }) {
  return (
    <div className="stats">
      <div><span className="label">Health</span><HealthBadge health={s.health} /><span className="muted small">{s.health.reason}</span></div>
      <div><span className="label">Rate</span>{fmtRate(s.red.rate_per_s)}</div>
      <div><span className="label">Errors</span>{fmtPct(s.red.error_rate, 2)}</div>
      <div><span className="label">p50</span>{fmtMs(s.red.p50_ms)}</div>
      <div><span className="label">p95</span>{fmtMs(s.red.p95_ms)}</div>
      <div><span className="label">p99</span>{fmtMs(s.red.p99_ms)}</div>
    </div>
  );
}

export function ServicePage({ name }: { name: string }) {
  const query = useApi<ServiceDetail>(`services/${encodeURIComponent(name)}`);
  const time = useTimeRange();
  return (
    <section>
      <div className="page-head">
        <h1>
          <Link to={href("/services")} className="muted">Services /</Link> {name}
        </h1>
        <div className="actions">
          <Link className="button" to={href("/traces", { service: name })}>Traces</Link>
          <Link className="button" to={href("/logs", { service: name })}>Logs</Link>
          <Link className="button" to={href("/critical-paths", { service: name })}>Critical paths</Link>
        </div>
      </div>
      <Guard query={query} what={name}>
        {(s) => (
          <>
            <Header s={s} />
            <RedCharts series={s.series} />
            <ExplainPanel path={`explain/services/${encodeURIComponent(name)}`} params={{ start: time.start, end: time.end }} what="service" />
            <div className="panel">
              <h2>Operations</h2>
              <SortableTable rows={s.operations} columns={opColumns(name)} rowKey={(o) => o.operation + o.kind} defaultSort="rate" prefix="op" testId="operations-table" />
            </div>
            <TracePanels s={s} />
            <div className="grid2">
              <div className="panel">
                <h2>Upstream (callers)</h2>
                {s.upstream.length ? <SortableTable rows={s.upstream} columns={edgeColumns("source")} rowKey={(e) => e.source} defaultSort="rate" prefix="up" /> : <p className="muted">No callers seen.</p>}
              </div>
              <div className="panel">
                <h2>Downstream (callees)</h2>
                {s.downstream.length ? <SortableTable rows={s.downstream} columns={edgeColumns("target")} rowKey={(e) => e.target} defaultSort="rate" prefix="down" /> : <p className="muted">No calls out seen.</p>}
              </div>
            </div>
          </>
        )}
      </Guard>
    </section>
  );
}
