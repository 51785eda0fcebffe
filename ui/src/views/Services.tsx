// Every node with RED over the range, sortable; services carry sparklines of rate, errors and p95.
import { useMemo } from "react";
import { useApi } from "../api/client";
import type { SparklineSeries, SparklinesAnswer, Topology, TopologyNode } from "../api/types";
import { href, Link } from "../app/router";
import { HealthBadge, ServiceDot } from "../components/Health";
import { SortableTable, type Column } from "../components/SortableTable";
import { Sparkline } from "../components/Sparkline";
import { Guard } from "../components/States";
import { serviceColor } from "../lib/colors";
import { fmtMs, fmtPct, fmtRate } from "../lib/format";
import { redColumns } from "./redColumns";

// Which RED column gets which line. Databases, queues and the user have no entry spans, so no lines.
const LINES: Record<string, { pick: (s: SparklineSeries) => readonly (number | null)[]; color: string; label: string; format: (v: number) => string }> = {
  rate: { pick: (s) => s.rate, color: "#5b8def", label: "requests/s over the range", format: fmtRate },
  errors: { pick: (s) => s.error_rate, color: "#e5534b", label: "error % over the range", format: (v) => fmtPct(v, 2) },
  p95: { pick: (s) => s.p95_ms, color: "#f2a93b", label: "p95 over the range", format: fmtMs },
};

const SPARK_SPACE = 80; // a sparkline's width and margin

function columns(lines: Record<string, SparklineSeries>): Column<TopologyNode>[] {
  const red = redColumns<TopologyNode>((n) => n.red).map((c) => {
    const line = LINES[c.key];
    if (!line) return c;
    return {
      ...c,
      render: (n: TopologyNode) => {
        const series = lines[n.name];
        return (
          <span className="nowrap">
            {c.render ? c.render(n) : String(c.value(n) ?? "–")}
            {series ? (
              <Sparkline values={line.pick(series)} color={line.color} label={`${n.name} ${line.label}`} format={line.format} />
            ) : (
              <span style={{ display: "inline-block", width: SPARK_SPACE }} /> // keeps the numbers aligned
            )}
          </span>
        );
      },
    };
  });
  return [
    {
      key: "name",
      label: "Service",
      value: (n) => n.name,
      render: (n) => (
        <Link to={href(`/services/${encodeURIComponent(n.name)}`)}>
          <ServiceDot color={serviceColor(n.name)} /> {n.name}
        </Link>
      ),
    },
    { key: "type", label: "Type", value: (n) => n.type },
    { key: "health", label: "Health", value: (n) => n.health.status, render: (n) => <HealthBadge health={n.health} /> },
    ...red,
  ];
}

export function Services() {
  const query = useApi<Topology>("topology");
  // The table does not wait for the lines: without them (loading, or an error) it shows numbers only.
  const sparks = useApi<SparklinesAnswer>("services/sparklines", { points: 30 });
  const lines = sparks.data?.services;
  const cols = useMemo(() => columns(lines ?? {}), [lines]);
  return (
    <section>
      <div className="page-head">
        <h1>Services</h1>
      </div>
      <Guard query={query} what="services" isEmpty={(t) => t.nodes.length === 0}>
        {(topo) => (
          <div className="panel">
            <SortableTable rows={topo.nodes} columns={cols} rowKey={(n) => n.name} defaultSort="rate" testId="services-table" />
          </div>
        )}
      </Guard>
    </section>
  );
}
