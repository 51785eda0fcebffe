// Pick a metric, see its series; histograms as p50/p95/p99.
import { useMemo } from "react";
import { useApi } from "../api/client";
import type { MetricInfo, MetricPoint, MetricSeriesAnswer } from "../api/types";
import { setParams, useLocation } from "../app/router";
import { AXIS, Chart, TOOLTIP } from "../components/Chart";
import { Guard } from "../components/States";
import { fmtValue } from "../lib/format";

const MAX_SERIES = 24;

function label(s: MetricSeriesAnswer["series"][number]): string {
  const attrs = Object.entries(s.attributes).map(([k, v]) => `${k}=${String(v)}`).join(", ");
  return attrs ? `${s.service_name} {${attrs}}` : s.service_name;
}

function lines(answer: MetricSeriesAnswer, service: string): { name: string; data: [number, number | null][] }[] {
  const series = answer.series.filter((s) => !service || s.service_name === service).slice(0, MAX_SERIES);
  const hist = answer.type.toLowerCase().includes("histogram");
  const pick = (key: keyof MetricPoint) => (p: MetricPoint): [number, number | null] => [p.t / 1e6, (p[key] as number | undefined) ?? null];
  if (!hist) return series.map((s) => ({ name: label(s), data: s.points.map(pick("value")) }));
  return series.flatMap((s) =>
    (["p50", "p95", "p99"] as const).map((q) => ({ name: `${q} ${label(s)}`, data: s.points.map(pick(q)) })),
  );
}

function chartOption(answer: MetricSeriesAnswer, service: string) {
  const unit = answer.unit;
  return {
    tooltip: { ...TOOLTIP, trigger: "axis", confine: true, valueFormatter: (v: number) => fmtValue(v, unit) },
    legend: { type: "scroll", bottom: 0, textStyle: { color: "#8b949e" }, pageTextStyle: { color: "#8b949e" } },
    grid: { left: 70, right: 20, top: 20, bottom: 60 },
    xAxis: { type: "time", ...AXIS },
    yAxis: { type: "value", ...AXIS, axisLabel: { ...AXIS.axisLabel, formatter: (v: number) => fmtValue(v, unit) } },
    series: lines(answer, service).map((l) => ({ ...l, type: "line", showSymbol: false, connectNulls: false })),
  };
}

export function Metrics() {
  const { params } = useLocation();
  const name = params.get("metric") ?? "";
  const chosen = params.get("service") ?? "";
  const list = useApi<{ metrics: MetricInfo[] }>("metrics");
  const detail = useApi<MetricSeriesAnswer>(name ? `metrics/${encodeURIComponent(name)}` : null);
  // Many series at once is noise: unless asked for "all", show one service's.
  const many = (detail.data?.series.length ?? 0) > 6;
  const service = chosen === "all" ? "" : chosen || (many ? (detail.data?.services[0] ?? "") : "");
  const option = useMemo(() => (detail.data ? chartOption(detail.data, service) : null), [detail.data, service]);
  const info = list.data?.metrics.find((m) => m.name === name);
  return (
    <section>
      <div className="page-head"><h1>Metrics</h1></div>
      <Guard query={list} what="metrics" isEmpty={(d) => d.metrics.length === 0} empty={<>No metrics in this range.</>}>
        {(d) => (
          <>
            <div className="filters">
              <label className="field">
                <span>Metric</span>
                <select aria-label="Metric" value={name} onChange={(e) => setParams({ metric: e.target.value, service: null }, false)}>
                  <option value="">choose a metric…</option>
                  {d.metrics.map((m) => <option key={m.name} value={m.name}>{m.name} ({m.type})</option>)}
                </select>
              </label>
              {info && (
                <label className="field">
                  <span>Service</span>
                  <select aria-label="Service" value={service || "all"} onChange={(e) => setParams({ service: e.target.value })}>
                    <option value="all">all</option>
                    {info.services.map((s) => <option key={s} value={s}>{s}</option>)}
                  </select>
                </label>
              )}
            </div>
            {!name && (
              <div className="panel">
                <table className="table">
                  <thead><tr><th>Metric</th><th>Type</th><th>Unit</th><th>Description</th><th className="num">Services</th></tr></thead>
                  <tbody>
                    {d.metrics.map((m) => (
                      <tr key={m.name} className="clickable" onClick={() => setParams({ metric: m.name }, false)}>
                        <td className="mono">{m.name}</td><td>{m.type}</td><td>{m.unit}</td><td className="muted">{m.description}</td><td className="num">{m.services.length}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            )}
            {name && (
              <Guard query={detail} what={name}>
                {(m) => (
                  <div className="panel">
                    <h2>{m.name} <span className="muted small">{m.type} · {m.unit} · {m.description}{m.type.toLowerCase().includes("histogram") ? " · p50/p95/p99 per series" : ""}{m.series.length > MAX_SERIES ? ` · first ${MAX_SERIES} of ${m.series.length} series` : ""}</span></h2>
                    <Chart option={option!} height={420} testId="metric-chart" />
                  </div>
                )}
              </Guard>
            )}
          </>
        )}
      </Guard>
    </section>
  );
}
