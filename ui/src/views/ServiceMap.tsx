// The landing page: services, databases, messaging and external systems, coloured by health.
import type { ECElementEvent } from "echarts/core";
import { useMemo } from "react";
import { useApi } from "../api/client";
import type { EdgeDetail, EdgeSample, NodeType, Topology, TopologyEdge, TopologyNode } from "../api/types";
import { href, Link, navigate, setParams, useLocation } from "../app/router";
import { Chart, TOOLTIP } from "../components/Chart";
import { HealthBadge } from "../components/Health";
import { SortableTable, type Column } from "../components/SortableTable";
import { Guard } from "../components/States";
import { healthColor } from "../lib/colors";
import { fmtMs, fmtPct, fmtRate } from "../lib/format";
import { positions } from "../lib/mapLayout";
import { RedCharts } from "./ServicePage";

const SYMBOL: Record<NodeType, string> = {
  service: "circle",
  database: "roundRect",
  messaging: "diamond",
  external: "triangle",
  user: "pin",
};

function redLines(n: { red: TopologyNode["red"]; health: TopologyNode["health"] }): string {
  const r = n.red;
  return [
    `<b style="color:${healthColor(n.health.status)}">${n.health.status}</b>: ${escape(n.health.reason)}`,
    `rate ${fmtRate(r.rate_per_s)} · errors ${fmtPct(r.error_rate)}`,
    `p50 ${fmtMs(r.p50_ms)} · p95 ${fmtMs(r.p95_ms)} · p99 ${fmtMs(r.p99_ms)}`,
  ].join("<br/>");
}

function escape(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

function edgeWidth(edge: TopologyEdge, maxRate: number): number {
  if (maxRate <= 0) return 1.5;
  return 1.2 + 6 * Math.sqrt(edge.red.rate_per_s / maxRate);
}

function mapOption(topo: Topology) {
  const pos = positions(topo.nodes, topo.edges, 1000, 560);
  const maxRate = Math.max(0, ...topo.edges.map((e) => e.red.rate_per_s));
  const maxNodeRate = Math.max(0, ...topo.nodes.map((n) => n.red.rate_per_s));
  return {
    tooltip: { ...TOOLTIP, confine: true },
    animationDurationUpdate: 300,
    series: [
      {
        type: "graph",
        layout: "none",
        roam: true,
        draggable: false,
        left: 110,
        right: 150,
        top: 40,
        bottom: 40,
        edgeSymbol: ["none", "arrow"],
        edgeSymbolSize: 7,
        label: { show: true, position: "bottom", color: "#e6edf3", fontSize: 12, distance: 4 },
        emphasis: { focus: "adjacency", lineStyle: { width: 4 } },
        data: topo.nodes.map((n) => ({
          id: n.name,
          name: n.name,
          x: pos.get(n.name)?.x ?? 0,
          y: pos.get(n.name)?.y ?? 0,
          symbol: SYMBOL[n.type] ?? "circle",
          symbolSize: 22 + (maxNodeRate > 0 ? 16 * Math.sqrt(n.red.rate_per_s / maxNodeRate) : 0),
          itemStyle: { color: healthColor(n.health.status), borderColor: "#0d1117", borderWidth: 2 },
          tooltip: { formatter: () => `<b>${escape(n.name)}</b> <i>${n.type}</i><br/>${redLines(n)}` },
        })),
        links: topo.edges.map((e) => ({
          source: e.source,
          target: e.target,
          lineStyle: {
            width: edgeWidth(e, maxRate),
            color: healthColor(e.health.status),
            opacity: 0.75,
            curveness: 0.08,
          },
          tooltip: { formatter: () => `<b>${escape(e.source)} → ${escape(e.target)}</b><br/>${redLines(e)}` },
        })),
      },
    ],
  };
}

const LEGEND: [NodeType, string][] = [
  ["service", "●"],
  ["database", "■"],
  ["messaging", "◆"],
  ["external", "▲"],
];

export function ServiceMap() {
  const query = useApi<Topology>("topology");
  const option = useMemo(() => (query.data ? mapOption(query.data) : null), [query.data]);
  const onClick = (e: ECElementEvent) => {
    if (e.dataType === "node" && typeof e.name === "string") navigate(href(`/services/${encodeURIComponent(e.name)}`));
    const link = e.data as { source?: string; target?: string } | undefined;
    if (e.dataType === "edge" && link?.source && link.target) setParams({ from: link.source, to: link.target }, false);
  };
  const { params } = useLocation();
  const from = params.get("from");
  const to = params.get("to");
  return (
    <section>
      <div className="page-head">
        <h1>Service map</h1>
        <div className="legend">
          {LEGEND.map(([t, s]) => (
            <span key={t}>{s} {t}</span>
          ))}
          <span><span className="dot" style={{ background: healthColor("healthy") }} /> healthy</span>
          <span><span className="dot" style={{ background: healthColor("degraded") }} /> degraded</span>
          <span><span className="dot" style={{ background: healthColor("critical") }} /> critical</span>
          <span className="muted">edge width: request rate</span>
        </div>
      </div>
      <Guard
        query={query}
        what="the service map"
        isEmpty={(t) => t.nodes.length === 0}
        empty={<>No services in this range yet. The map is built per closed minute, so new data shows after a minute or two.</>}
      >
        {(topo) => (
          <>
            <div className="panel">
              <Chart option={option!} height={600} renderer="svg" onClick={onClick} testId="service-map" replace={false} />
            </div>
            {from && to ? <EdgePanel source={from} target={to} /> : null}
            <NodeList nodes={topo.nodes} />
          </>
        )}
      </Guard>
    </section>
  );
}

function NodeList({ nodes }: { nodes: TopologyNode[] }) {
  const unhealthy = nodes.filter((n) => n.health.status !== "healthy");
  return (
    <div className="panel">
      <h2>{unhealthy.length ? `${unhealthy.length} need attention` : "All nodes healthy"}</h2>
      <div className="chips">
        {[...unhealthy, ...nodes.filter((n) => n.health.status === "healthy")].map((n) => (
          <Link key={n.name} to={href(`/services/${encodeURIComponent(n.name)}`)} className="chip" title={n.health.reason}>
            <HealthBadge health={n.health} /> {n.name} <span className="muted">{n.type}</span>
          </Link>
        ))}
      </div>
    </div>
  );
}

const SAMPLE_COLUMNS: Column<EdgeSample>[] = [
  {
    key: "trace",
    label: "Trace",
    value: (s) => s.trace_id,
    render: (s) => <Link to={href(`/traces/${s.trace_id}`, { span: s.span_id })}>{s.trace_id.slice(0, 16)}…</Link>,
  },
  { key: "start", label: "Start", value: (s) => s.start_time_unix_nano, render: (s) => new Date(s.start_time_unix_nano / 1e6).toLocaleTimeString() },
  { key: "span", label: "Span", value: (s) => `${s.service}: ${s.name}`, render: (s) => <span>{s.service}: {s.name} <span className="muted">{s.kind}</span></span> },
  { key: "duration", label: "Duration", numeric: true, value: (s) => s.duration_ms, render: (s) => fmtMs(s.duration_ms) },
  { key: "status", label: "Status", value: (s) => s.status, render: (s) => <span style={s.status === "Error" ? { color: healthColor("critical") } : undefined}>{s.status}</span> },
];

/** The edge picked on the map: its RED over time and sample calls, failed first, then slowest. */
function EdgePanel({ source, target }: { source: string; target: string }) {
  const query = useApi<EdgeDetail>("edges", { source, target });
  return (
    <div className="panel" data-testid="edge-panel">
      <div className="page-head">
        <h2>
          <Link to={href(`/services/${encodeURIComponent(source)}`)}>{source}</Link> →{" "}
          <Link to={href(`/services/${encodeURIComponent(target)}`)}>{target}</Link>
        </h2>
        <button type="button" onClick={() => setParams({ from: null, to: null }, false)}>Close</button>
      </div>
      <Guard query={query} what="this edge" isEmpty={() => false} empty={null}>
        {(edge) => (
          <>
            <p>
              <HealthBadge health={edge.health} /> {edge.health.reason} · rate {fmtRate(edge.red.rate_per_s)} · errors{" "}
              {fmtPct(edge.red.error_rate)} · p95 {fmtMs(edge.red.p95_ms)}
            </p>
            <RedCharts series={edge.series} />
            <h2>Sample calls</h2>
            <SortableTable rows={edge.traces} columns={SAMPLE_COLUMNS} rowKey={(s) => s.span_id} defaultSort="duration" prefix="edge" testId="edge-samples" />
          </>
        )}
      </Guard>
    </div>
  );
}
