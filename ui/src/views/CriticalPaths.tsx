// Per entry operation: which services its critical path waits on (stacked bar of mean shares).
import { useQueries } from "@tanstack/react-query";
import type { ECElementEvent } from "echarts/core";
import { getJson, useApi, type ApiError } from "../api/client";
import type { CriticalPathEntry, CriticalPathsAnswer, EntryBreakdown } from "../api/types";
import { href, Link, navigate, useLocation } from "../app/router";
import { useTimeRange } from "../app/timeRange";
import { AXIS, Chart, TOOLTIP } from "../components/Chart";
import { ErrorBox, Guard } from "../components/States";
import { serviceColor } from "../lib/colors";
import { fmtNs, fmtPct } from "../lib/format";

function stackedOption(entries: CriticalPathEntry[], breakdowns: (EntryBreakdown | undefined)[]) {
  const services = [...new Set(breakdowns.flatMap((b) => b?.services.map((s) => s.service) ?? []))].sort();
  const labels = entries.map((e) => `${e.service} · ${e.label}`);
  return {
    tooltip: { ...TOOLTIP, trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: (v: number) => fmtPct(v) },
    legend: { type: "scroll", top: 0, textStyle: { color: "#8b949e" }, pageTextStyle: { color: "#8b949e" } },
    grid: { left: 300, right: 24, top: 36, bottom: 24 },
    xAxis: { type: "value", max: 1, ...AXIS, axisLabel: { ...AXIS.axisLabel, formatter: (v: number) => fmtPct(v, 0) } },
    yAxis: { type: "category", inverse: true, data: labels, ...AXIS, axisLabel: { ...AXIS.axisLabel, width: 280, overflow: "truncate" } },
    series: services.map((svc) => ({
      name: svc,
      type: "bar",
      stack: "share",
      color: serviceColor(svc),
      barMaxWidth: 26,
      data: breakdowns.map((b) => b?.services.find((s) => s.service === svc)?.share_mean ?? 0),
    })),
  };
}

export function CriticalPaths() {
  const { params } = useLocation();
  const service = params.get("service") ?? "";
  const time = useTimeRange();
  const list = useApi<CriticalPathsAnswer>("critical-paths", { service, limit: 10 });
  const entries = list.data?.entries ?? [];
  const details = useQueries({
    queries: entries.map((e) => {
      const p = { entry: e.operation, service: e.service, start: time.start, end: time.end, limit: 5 };
      return {
        queryKey: ["critical-paths", p],
        queryFn: () => getJson<EntryBreakdown>("critical-paths", p),
        refetchInterval: time.refreshMs,
        placeholderData: (prev: EntryBreakdown | undefined) => prev,
      };
    }),
  });
  const breakdowns = details.map((d) => d.data);
  const detailError = (details.find((d) => d.error)?.error ?? null) as ApiError | null;
  const option = stackedOption(entries, breakdowns);
  const onBar = (e: ECElementEvent) => {
    const entry = entries[e.dataIndex];
    if (entry) navigate(href("/traces", { service: entry.service, operation: entry.operation }));
  };
  return (
    <section>
      <div className="page-head">
        <h1>Critical paths {service && <span className="muted">· {service}</span>}</h1>
        <span className="muted small">Share of each entry operation's critical path spent in each service (mean over sampled traces)</span>
      </div>
      <Guard query={list} what="critical paths" isEmpty={(d) => d.entries.length === 0} empty={<>No entry operations with traces in this range.</>}>
        {(d) => (
          <>
            <ErrorBox error={detailError} />
            <div className="panel">
              <Chart option={option} height={Math.max(220, 60 + d.entries.length * 40)} onClick={onBar} testId="critical-paths-chart" />
            </div>
            <div className="panel">
              <table className="table">
                <thead><tr><th>Entry</th><th className="num">Traces</th><th className="num">p50</th><th className="num">p95</th><th>Dominant path</th></tr></thead>
                <tbody>
                  {d.entries.map((e) => (
                    <tr key={e.service + e.operation}>
                      <td><Link to={href("/traces", { service: e.service, operation: e.operation })}>{e.service} · {e.label}</Link></td>
                      <td className="num">{e.count}</td>
                      <td className="num">{fmtNs(e.p50_ns)}</td>
                      <td className="num">{fmtNs(e.p95_ns)}</td>
                      <td className="path">
                        {e.dominant_path.map((s, i) => (
                          <span key={i}>{i > 0 && <span className="muted"> → </span>}<span style={{ color: serviceColor(s) }}>{s}</span></span>
                        ))}
                        {e.paths[0] && <span className="muted small"> ({fmtPct(e.paths[0].share, 0)} of traces)</span>}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {d.errors.length > 0 && <p className="muted small">Left out: {d.errors.slice(0, 3).join("; ")}</p>}
            </div>
          </>
        )}
      </Guard>
    </section>
  );
}
