// Incidents: the list over the shared time range, and one incident's timeline, map, causes and feedback.
import { useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { postJson, useApi } from "../api/client";
import type { Anomaly, IncidentDetail, IncidentsAnswer, RankedCause, RedPoint, ServiceDetail, Topology } from "../api/types";
import { href, Link } from "../app/router";
import { AXIS, Chart, TOOLTIP } from "../components/Chart";
import { ExplainPanel } from "../components/ExplainPanel";
import { ErrorBox, Guard } from "../components/States";
import { fmtDateTime, fmtMs, fmtPct } from "../lib/format";
import { positions } from "../lib/mapLayout";
import { Can } from "../app/auth";

const SEVERITY_COLOR: Record<string, string> = { info: "#8b949e", warning: "#f2a93b", critical: "#e5534b" };

function escape(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
}

function fmtNumber(metric: string, v: number | null): string {
  if (v === null) return "–";
  if (metric === "error_rate") return `${(v * 100).toFixed(1)}%`;
  if (metric.endsWith("_ms")) return `${v.toFixed(0)} ms`;
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toPrecision(3);
}

function duration(startNs: number, endNs: number | null): string {
  const s = Math.max(0, Math.round(((endNs ?? Date.now() * 1e6) - startNs) / 1e9));
  return s >= 3600 ? `${(s / 3600).toFixed(1)} h` : s >= 60 ? `${Math.round(s / 60)} min` : `${s} s`;
}

function SeverityTag({ severity }: { severity: string }) {
  return (
    <span className="chip" style={{ borderColor: SEVERITY_COLOR[severity], color: SEVERITY_COLOR[severity] }}>
      {severity}
    </span>
  );
}

export function Incidents({ id }: { id?: string }) {
  return id ? <IncidentPage id={id} /> : <IncidentList />;
}

function IncidentList() {
  const query = useApi<IncidentsAnswer>("incidents");
  return (
    <section>
      <div className="page-head">
        <h1>Incidents</h1>
        <span className="muted">Anomalies of connected services, grouped; opened and resolved by the detector.</span>
      </div>
      <Guard
        query={query}
        what="incidents"
        hint={false}
        isEmpty={(a) => a.incidents.length === 0}
        empty={<>No incidents in this time range. The detector judges each minute about half a minute after it ends.</>}
      >
        {(answer) => (
          <div className="panel">
            <table className="table" data-testid="incident-list">
              <thead>
                <tr>
                  <th>Opened</th>
                  <th>Status</th>
                  <th>Severity</th>
                  <th>Incident</th>
                  <th>Services</th>
                  <th className="num">Anomalies</th>
                  <th className="num">Duration</th>
                </tr>
              </thead>
              <tbody>
                {answer.incidents.map((i) => (
                  <tr key={i.id}>
                    <td>{fmtDateTime(i.opened_unix_nano)}</td>
                    <td>{i.status}</td>
                    <td><SeverityTag severity={i.severity} /></td>
                    <td><Link to={href(`/incidents/${encodeURIComponent(i.id)}`)}>{i.title}</Link></td>
                    <td>{i.services.join(", ")}</td>
                    <td className="num">{i.anomaly_count}</td>
                    <td className="num">{duration(i.opened_unix_nano, i.resolved_unix_nano)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Guard>
    </section>
  );
}

function timelineOption(timeline: Anomaly[], startNs: number, endNs: number) {
  const series = [...new Set(timeline.map((a) => a.series))];
  return {
    tooltip: { ...TOOLTIP, confine: true },
    grid: { left: 260, right: 30, top: 20, bottom: 40 },
    xAxis: { type: "time", min: startNs / 1e6 - 60_000, max: endNs / 1e6 + 60_000, ...AXIS },
    yAxis: { type: "category", data: series, ...AXIS, axisLabel: { ...AXIS.axisLabel, width: 240, overflow: "truncate" } },
    series: [
      {
        type: "scatter",
        data: timeline.map((a) => ({
          value: [a.time_unix_nano / 1e6, a.series],
          symbolSize: 8 + Math.min(20, Math.abs(a.score ?? 0)),
          itemStyle: { color: SEVERITY_COLOR[a.severity] },
          tooltip: {
            formatter: () =>
              `<b>${escape(a.series)}</b><br/>${escape(a.detector)}: ${fmtNumber(a.metric, a.actual)} ` +
              `(expected ${fmtNumber(a.metric, a.expected)}), score ${(a.score ?? 0).toFixed(1)}` +
              (a.detail ? `<br/><i>${escape(a.detail)}</i>` : ""),
          },
        })),
      },
    ],
  };
}

function mapOption(topo: Topology, affected: Set<string>) {
  const pos = positions(topo.nodes, topo.edges, 1000, 460);
  return {
    tooltip: { ...TOOLTIP, confine: true },
    series: [
      {
        type: "graph",
        layout: "none",
        roam: true,
        left: 90,
        right: 130,
        top: 30,
        bottom: 30,
        edgeSymbol: ["none", "arrow"],
        edgeSymbolSize: 7,
        label: { show: true, position: "bottom", color: "#e6edf3", fontSize: 12 },
        data: topo.nodes.map((n) => ({
          id: n.name,
          name: n.name,
          x: pos.get(n.name)?.x ?? 0,
          y: pos.get(n.name)?.y ?? 0,
          symbolSize: affected.has(n.name) ? 34 : 20,
          itemStyle: {
            color: affected.has(n.name) ? "#e5534b" : "#30363d",
            borderColor: affected.has(n.name) ? "#ffb4ae" : "#0d1117",
            borderWidth: 2,
          },
          label: { color: affected.has(n.name) ? "#ffb4ae" : "#8b949e", fontWeight: affected.has(n.name) ? "bold" : "normal" },
        })),
        links: topo.edges.map((e) => ({
          source: e.source,
          target: e.target,
          lineStyle: {
            color: affected.has(e.source) && affected.has(e.target) ? "#e5534b" : "#484f58",
            width: affected.has(e.source) && affected.has(e.target) ? 3 : 1.2,
            curveness: 0.08,
          },
        })),
      },
    ],
  };
}

function IncidentMap({ detail }: { detail: IncidentDetail }) {
  const topo = useApi<Topology>(
    "topology",
    { start: detail.window.start_unix_nano, end: detail.window.end_unix_nano },
    { windowed: false },
  );
  const affected = useMemo(() => new Set(detail.services), [detail.services]);
  const option = useMemo(() => (topo.data ? mapOption(topo.data, affected) : null), [topo.data, affected]);
  return (
    <Guard query={topo} what="the service map" hint={false} isEmpty={(t) => t.nodes.length === 0}>
      {() => <Chart option={option!} height={480} renderer="svg" testId="incident-map" />}
    </Guard>
  );
}

function evidenceText(e: Record<string, unknown>): string {
  if (typeof e.detail === "string") return e.detail;
  return Object.entries(e)
    .filter(([k]) => k !== "kind")
    .map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : String(v)}`)
    .join(" · ");
}

type Window = IncidentDetail["window"];

const iso = (ns: number): string => new Date(ns / 1e6).toISOString();

/** The service's log patterns over the incident, the most changed against as long a stretch
 * before it first: a template that stopped or surged comes up top. */
function patternsHref(service: string, w: Window): string {
  return href("/logs", { view: "patterns", sort: "change", service, start: iso(w.start_unix_nano), end: iso(w.end_unix_nano) });
}

/** The lines of one stored pattern from an hour before the incident to its end: one that stopped
 * shows where it did. */
function linesHref(service: string, pattern: string, w: Window): string {
  return href("/logs", { service, pattern, start: iso(w.start_unix_nano - 3600e9), end: iso(w.end_unix_nano) });
}

const CHART_LEAD_NS = 30 * 60e9;

/** A cause's error rate and p95 from half an hour before the incident to its end, the incident shaded. */
function causeOption(points: RedPoint[], w: Window) {
  const at = (p: RedPoint) => p.time_unix_nano / 1e6;
  return {
    tooltip: { ...TOOLTIP, trigger: "axis" },
    legend: { top: 0, textStyle: { color: "#8b949e" } },
    grid: { left: 56, right: 64, top: 28, bottom: 24 },
    // The whole stretch asked for, so the incident's band is drawn even past the last minute with requests.
    xAxis: { type: "time", ...AXIS, min: (w.start_unix_nano - CHART_LEAD_NS) / 1e6, max: w.end_unix_nano / 1e6 },
    yAxis: [
      { type: "value", ...AXIS, axisLabel: { ...AXIS.axisLabel, formatter: (v: number) => fmtPct(v) } },
      { type: "value", ...AXIS, splitLine: { show: false }, axisLabel: { ...AXIS.axisLabel, formatter: (v: number) => fmtMs(v) } },
    ],
    series: [
      {
        name: "error %",
        type: "line",
        color: "#e5534b",
        showSymbol: points.length < 10,
        data: points.map((p) => [at(p), p.error_rate]),
        markArea: {
          silent: true,
          itemStyle: { color: "rgba(229, 83, 75, 0.22)" },
          label: { show: true, position: "insideTop", color: "#e5534b", fontSize: 10 },
          data: [[{ name: "incident", xAxis: w.start_unix_nano / 1e6 }, { xAxis: w.end_unix_nano / 1e6 }]],
        },
      },
      { name: "p95", type: "line", yAxisIndex: 1, color: "#f2a93b", showSymbol: points.length < 10, data: points.map((p) => [at(p), p.p95_ms]) },
    ],
  };
}

function CauseChart({ service, window }: { service: string; window: Window }) {
  const query = useApi<ServiceDetail>(
    `services/${encodeURIComponent(service)}`,
    { start: iso(window.start_unix_nano - CHART_LEAD_NS), end: iso(window.end_unix_nano), step: "1m" },
    { windowed: false },
  );
  const series = query.data?.series;
  const option = useMemo(() => (series && series.length > 0 ? causeOption(series, window) : null), [series, window]);
  // A service without requests of its own (metrics only, a database) has no RED to draw.
  return option ? <Chart option={option} height={160} testId="cause-chart" /> : null;
}

function traceLinks(e: Record<string, unknown>) {
  const ids = Array.isArray(e.trace_ids) ? e.trace_ids.filter((t): t is string => typeof t === "string") : [];
  if (ids.length === 0) return null;
  return (
    <>
      {" "}· traces{" "}
      {ids.map((id, i) => (
        <span key={id}>
          {i > 0 ? " " : null}
          <Link to={href(`/traces/${id}`)} data-testid="evidence-trace" title={id}><code className="small">{id.slice(0, 8)}</code></Link>
        </span>
      ))}
    </>
  );
}

function CauseRow({ incidentId, cause, rank, given, window }: { incidentId: string; cause: RankedCause; rank: number; given?: string; window: Window }) {
  const client = useQueryClient();
  const [sent, setSent] = useState<string | undefined>(given);
  const [error, setError] = useState<Error | null>(null);
  const send = async (useful: boolean) => {
    try {
      await postJson(`incidents/${encodeURIComponent(incidentId)}/feedback`, {
        service: cause.service,
        operation: cause.operation,
        useful,
      });
      setSent(useful ? "useful" : "not useful");
      setError(null);
      await client.invalidateQueries({ queryKey: [`incidents/${incidentId}`] });
    } catch (e) {
      setError(e as Error);
    }
  };
  return (
    <li className="panel cause" data-testid="cause">
      <div className="cause-head">
        <strong>#{rank} {cause.service}</strong>
        {cause.operation ? <span className="muted"> · {cause.operation}</span> : null}
        <span className="muted"> · score {cause.score.toFixed(3)}</span>
        <span className="feedback">
          {sent ? <span className="muted">Marked {sent}. </span> : null}
          <Can role="editor">
          <button type="button" onClick={() => void send(true)}>Useful</button>{" "}
          <button type="button" onClick={() => void send(false)}>Not useful</button>
          </Can>
        </span>
      </div>
      <ul className="evidence">
        {cause.evidence.map((e, i) => (
          <li key={i}>
            <span className="chip">{String(e.kind ?? "evidence")}</span> {evidenceText(e)}
            {typeof e.detail === "string" && typeof e.template === "string" && e.template ? (
              <>
                {" "}· <code className="small">{e.template}</code> ·{" "}
                <Link to={patternsHref(cause.service, window)} data-testid="evidence-patterns">its log patterns</Link>
                {typeof e.pattern_id === "string" ? (
                  <> · <Link to={linesHref(cause.service, e.pattern_id, window)} data-testid="evidence-lines">its lines</Link></>
                ) : null}
              </>
            ) : null}
            {traceLinks(e)}
          </li>
        ))}
      </ul>
      <CauseChart service={cause.service} window={window} />
      <ErrorBox error={error} />
    </li>
  );
}

function IncidentPage({ id }: { id: string }) {
  const query = useApi<IncidentDetail>(`incidents/${encodeURIComponent(id)}`, {}, { windowed: false });
  return (
    <section>
      <div className="page-head">
        <h1>Incident</h1>
        <Link to={href("/incidents")}>All incidents</Link>
      </div>
      <Guard query={query} what="the incident" hint={false} isEmpty={() => false}>
        {(d) => {
          const given = new Map(
            d.feedback.map((f) => [`${f.service}|${f.operation}`, f.useful >= f.not_useful ? "useful" : "not useful"]),
          );
          return (
            <>
              <div className="panel" data-testid="incident-head">
                <h2>{d.title}</h2>
                <div className="chips">
                  <SeverityTag severity={d.severity} />
                  <span className="chip">{d.status}</span>
                  <span className="muted">
                    opened {fmtDateTime(d.opened_unix_nano)}
                    {d.resolved_unix_nano ? `, resolved ${fmtDateTime(d.resolved_unix_nano)}` : ", still open"} ·{" "}
                    {duration(d.opened_unix_nano, d.resolved_unix_nano)} · {d.anomaly_count} anomalies
                  </span>
                </div>
                <h3>Affected services</h3>
                <div className="chips" data-testid="affected-services">
                  {d.affected_services.map((s) => (
                    <Link key={s.service} className="chip" to={href(`/services/${encodeURIComponent(s.service)}`)}>
                      {s.service} <span className="muted">{s.anomalies} anomalies, max score {s.max_score.toFixed(0)}</span>
                    </Link>
                  ))}
                </div>
              </div>
              <ExplainPanel path={`explain/incidents/${encodeURIComponent(d.id)}`} what="incident" />
              <div className="panel">
                <h2>Timeline</h2>
                <Chart
                  option={timelineOption(d.timeline, d.window.start_unix_nano, d.window.end_unix_nano)}
                  height={Math.max(200, 60 + 22 * new Set(d.timeline.map((a) => a.series)).size)}
                  testId="incident-timeline"
                />
              </div>
              <div className="panel">
                <h2>On the service map</h2>
                <IncidentMap detail={d} />
              </div>
              <div className="panel">
                <h2>Ranked causes</h2>
                {d.causes_note ? <div className="state muted">{d.causes_note}</div> : null}
                {d.causes.length === 0 && !d.causes_note ? <div className="state muted">No candidate causes.</div> : null}
                <ol className="causes">
                  {d.causes.map((c, i) => (
                    <CauseRow
                      key={`${c.service}|${c.operation ?? ""}`}
                      incidentId={d.id}
                      cause={c}
                      rank={i + 1}
                      given={given.get(`${c.service}|${c.operation ?? ""}`)}
                      window={d.window}
                    />
                  ))}
                </ol>
              </div>
            </>
          );
        }}
      </Guard>
    </section>
  );
}
