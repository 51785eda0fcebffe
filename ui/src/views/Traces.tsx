// Trace search with the API's filters: a duration-over-time scatter and a table of results.
import type { ECElementEvent } from "echarts/core";
import { useMemo, useState, type FormEvent } from "react";
import { useApi } from "../api/client";
import type { ServiceSummary, TraceSummary } from "../api/types";
import { href, Link, navigate, setParams, useLocation } from "../app/router";
import { AXIS, Chart, TOOLTIP } from "../components/Chart";
import { ServiceDot } from "../components/Health";
import { Guard } from "../components/States";
import { serviceColor } from "../lib/colors";
import { fmtDateTime, fmtNs, shortId } from "../lib/format";

const FIELDS = ["service", "operation", "status", "min_ms", "max_ms", "attrs", "limit"] as const;
type Field = (typeof FIELDS)[number];
type Filters = Record<Field, string>;

/** `http.route=/cart, user=x` to {"attr.http.route": "/cart", "attr.user": "x"}. */
export function attrParams(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of text.split(/[,\n]/)) {
    const i = part.indexOf("=");
    if (i > 0) out[`attr.${part.slice(0, i).trim()}`] = part.slice(i + 1).trim();
  }
  return out;
}

function scatterOption(traces: TraceSummary[]) {
  const point = (t: TraceSummary) => ({ value: [t.start_time_unix_nano / 1e6, t.duration_ns / 1e6], id: t.trace_id, t });
  return {
    tooltip: {
      ...TOOLTIP,
      formatter: (p: { data: { t: TraceSummary } }) =>
        `<b>${p.data.t.root_service}</b> ${p.data.t.root_operation}<br/>${fmtNs(p.data.t.duration_ns)} · ${p.data.t.span_count} spans${p.data.t.error_count ? ` · ${p.data.t.error_count} errors` : ""}`,
    },
    grid: { left: 64, right: 16, top: 16, bottom: 28 },
    xAxis: { type: "time", ...AXIS },
    yAxis: { type: "value", name: "ms", nameTextStyle: { color: "#8b949e" }, ...AXIS },
    series: [
      { name: "ok", type: "scatter", symbolSize: 8, color: "#5b8def", data: traces.filter((t) => !t.error_count).map(point) },
      { name: "error", type: "scatter", symbolSize: 9, color: "#e5534b", data: traces.filter((t) => t.error_count).map(point) },
    ],
  };
}

function SearchForm({ filters, services }: { filters: Filters; services: string[] }) {
  const [draft, setDraft] = useState(filters);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setParams(draft, false);
  };
  const field = (key: Field, label: string, props: { placeholder?: string; type?: string; width?: number } = {}) => (
    <label className="field">
      <span>{label}</span>
      <input
        name={key}
        value={draft[key]}
        placeholder={props.placeholder}
        type={props.type ?? "text"}
        style={props.width ? { width: props.width } : undefined}
        onChange={(e) => setDraft({ ...draft, [key]: e.target.value })}
      />
    </label>
  );
  return (
    <form className="filters" onSubmit={submit}>
      <label className="field">
        <span>Service</span>
        <select name="service" value={draft.service} onChange={(e) => setDraft({ ...draft, service: e.target.value })}>
          <option value="">any</option>
          {services.map((s) => (
            <option key={s} value={s}>{s}</option>
          ))}
        </select>
      </label>
      {field("operation", "Operation", { placeholder: "span name" })}
      <label className="field">
        <span>Status</span>
        <select name="status" value={draft.status} onChange={(e) => setDraft({ ...draft, status: e.target.value })}>
          <option value="">any</option>
          <option value="error">error</option>
          <option value="ok">ok</option>
          <option value="unset">unset</option>
        </select>
      </label>
      {field("min_ms", "Min ms", { type: "number", width: 80 })}
      {field("max_ms", "Max ms", { type: "number", width: 80 })}
      {field("attrs", "Attributes", { placeholder: "key=value, key2=value2", width: 220 })}
      {field("limit", "Limit", { type: "number", width: 70 })}
      <button type="submit" className="primary">Search</button>
    </form>
  );
}

export function Traces() {
  const { params } = useLocation();
  const filters = Object.fromEntries(FIELDS.map((f) => [f, params.get(f) ?? ""])) as Filters;
  const services = useApi<{ services: ServiceSummary[] }>("services");
  const query = useApi<{ traces: TraceSummary[] }>("traces", {
    service: filters.service,
    operation: filters.operation,
    status: filters.status,
    min_duration_ms: filters.min_ms,
    max_duration_ms: filters.max_ms,
    limit: filters.limit || 200,
    ...attrParams(filters.attrs),
  });
  const option = useMemo(() => scatterOption(query.data?.traces ?? []), [query.data]);
  const onDot = (e: ECElementEvent) => {
    const id = (e.data as { id?: string } | undefined)?.id;
    if (id) navigate(href(`/traces/${id}`));
  };
  return (
    <section>
      <div className="page-head">
        <h1>Traces</h1>
      </div>
      <SearchForm key={params.toString()} filters={filters} services={(services.data?.services ?? []).map((s) => s.name)} />
      <Guard query={query} what="traces" isEmpty={(d) => d.traces.length === 0} empty={<>No traces match these filters in this range.</>}>
        {(d) => (
          <>
            <div className="panel">
              <h2>Duration over time <span className="muted small">click a dot to open the trace</span></h2>
              <Chart option={option} height={220} renderer="svg" onClick={onDot} testId="trace-scatter" />
            </div>
            <div className="panel">
              <h2>{d.traces.length} traces</h2>
              <TraceTable traces={d.traces} />
            </div>
          </>
        )}
      </Guard>
    </section>
  );
}

function TraceTable({ traces }: { traces: TraceSummary[] }) {
  return (
    <table className="table" data-testid="trace-results">
      <thead>
        <tr>
          <th>Start</th><th>Root</th><th>Services</th><th className="num">Spans</th><th className="num">Errors</th><th className="num">Duration</th><th>Trace</th>
        </tr>
      </thead>
      <tbody>
        {traces.map((t) => (
          <tr key={t.trace_id}>
            <td className="nowrap">{fmtDateTime(t.start_time_unix_nano)}</td>
            <td>
              <Link to={href(`/traces/${t.trace_id}`)} className="trace-link">
                <ServiceDot color={serviceColor(t.root_service)} /> {t.root_service} <span className="muted">{t.root_operation}</span>
              </Link>
            </td>
            <td className="services-cell">
              {t.services.map((s) => (
                <span key={s} className="svc-tag" style={{ borderColor: serviceColor(s) }}>{s}</span>
              ))}
            </td>
            <td className="num">{t.span_count}</td>
            <td className={t.error_count ? "num bad" : "num"}>{t.error_count}</td>
            <td className="num">{fmtNs(t.duration_ns)}</td>
            <td className="mono">{shortId(t.trace_id)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
