// Log search by service, severity, text and trace id; each line links to its trace. "Live"
// (?live=1) tails the newest records instead of reading the time range; "Patterns"
// (?view=patterns) shows the range's log templates instead of the records, most lines first or
// (&sort=change) most changed against the stretch before, and a pattern opens its own lines
// (?pattern=template id, with its service).
import { useQuery } from "@tanstack/react-query";
import { useRef, useState, type FormEvent } from "react";
import { getJson, useApi, type ApiError } from "../api/client";
import type { LogPatternsAnswer, LogRecord, LogsAnswer, ServiceSummary } from "../api/types";
import { href, Link, setParams, useLocation } from "../app/router";
import { ServiceDot } from "../components/Health";
import { Sparkline } from "../components/Sparkline";
import { Guard } from "../components/States";
import { serviceColor } from "../lib/colors";
import { fmtDateTime, shortId } from "../lib/format";
import { mergeTail, tailStart, TAIL_MAX, TAIL_POLL_MS } from "../lib/logTail";

const SEVERITIES = ["", "TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];
const FIELDS = ["service", "severity", "q", "trace_id", "pattern", "limit"] as const;
type Filters = Record<(typeof FIELDS)[number], string>;

function severityClass(n: number): string {
  if (n >= 17) return "sev-error";
  if (n >= 13) return "sev-warn";
  if (n >= 9) return "sev-info";
  return "sev-debug";
}

export function LogTable({ logs, showTraceLink = true, onSpan }: { logs: LogRecord[]; showTraceLink?: boolean; onSpan?: (spanId: string) => void }) {
  // The open row is the record itself, not its index: a live tail adds rows above it.
  const [open, setOpen] = useState<LogRecord | null>(null);
  return (
    <table className="table logs" data-testid="log-lines">
      <thead>
        <tr>
          <th>Time</th><th>Severity</th><th>Service</th><th>Message</th><th>{showTraceLink ? "Trace" : "Span"}</th>
        </tr>
      </thead>
      <tbody>
        {logs.map((l, i) => (
          <LogRow key={`${l.time_unix_nano}-${i}`} log={l} open={open === l} onToggle={() => setOpen(open === l ? null : l)} showTraceLink={showTraceLink} onSpan={onSpan} />
        ))}
      </tbody>
    </table>
  );
}

function LogRow({ log, open, onToggle, showTraceLink, onSpan }: { log: LogRecord; open: boolean; onToggle: () => void; showTraceLink: boolean; onSpan?: (spanId: string) => void }) {
  return (
    <>
      <tr className="log-row" onClick={onToggle}>
        <td className="nowrap mono small">{fmtDateTime(log.time_unix_nano)}</td>
        <td><span className={`sev ${severityClass(log.severity_number)}`}>{log.severity_text || log.severity_number}</span></td>
        <td className="nowrap"><ServiceDot color={serviceColor(log.service_name)} /> {log.service_name}</td>
        <td className="log-body">{log.body}</td>
        <td className="nowrap" onClick={(e) => e.stopPropagation()}>
          {log.trace_id && showTraceLink ? (
            <Link to={href(`/traces/${log.trace_id}`, { span: log.span_id || undefined })} className="mono trace-link" data-testid="log-trace-link">
              {shortId(log.trace_id)} →
            </Link>
          ) : log.span_id && onSpan ? (
            <button className="ghost mono" onClick={() => onSpan(log.span_id)}>{shortId(log.span_id)}</button>
          ) : null}
        </td>
      </tr>
      {open && (
        <tr className="log-detail">
          <td colSpan={5}>
            <pre>{JSON.stringify({ attributes: log.attributes, resource: log.resource?.attributes }, null, 2)}</pre>
          </td>
        </tr>
      )}
    </>
  );
}

function LogForm({ filters, services }: { filters: Filters; services: string[] }) {
  const [draft, setDraft] = useState(filters);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    // A pattern's id is its service's: another service's lines cannot be of it.
    setParams({ ...draft, pattern: draft.service === filters.service ? draft.pattern : null }, false);
  };
  return (
    <form className="filters" onSubmit={submit}>
      <label className="field">
        <span>Service</span>
        <select name="service" value={draft.service} onChange={(e) => setDraft({ ...draft, service: e.target.value })}>
          <option value="">any</option>
          {services.map((s) => <option key={s} value={s}>{s}</option>)}
        </select>
      </label>
      <label className="field">
        <span>Min severity</span>
        <select name="severity" value={draft.severity} onChange={(e) => setDraft({ ...draft, severity: e.target.value })}>
          {SEVERITIES.map((s) => <option key={s} value={s}>{s || "any"}</option>)}
        </select>
      </label>
      <label className="field">
        <span>Text</span>
        <input name="q" value={draft.q} placeholder="body contains…" style={{ width: 240 }} onChange={(e) => setDraft({ ...draft, q: e.target.value })} />
      </label>
      <label className="field">
        <span>Trace id</span>
        <input name="trace_id" value={draft.trace_id} placeholder="32 hex characters" style={{ width: 280 }} onChange={(e) => setDraft({ ...draft, trace_id: e.target.value })} />
      </label>
      <label className="field">
        <span>Limit</span>
        <input name="limit" type="number" value={draft.limit} style={{ width: 70 }} onChange={(e) => setDraft({ ...draft, limit: e.target.value })} />
      </label>
      <button type="submit" className="primary">Search</button>
    </form>
  );
}

/** Polls for records newer than those shown and merges them in on top, keeping the newest
 * TAIL_MAX. Mounted per filter set (keyed by the caller), so new filters start a new tail. */
function LiveTail({ filters }: { filters: Omit<Filters, "limit"> }) {
  const shown = useRef<LogRecord[]>([]);
  const arrived = useRef(0); // records added by polls after the first, for "new lines arrive"
  const polls = useRef(0);
  const query = useQuery<LogRecord[], ApiError>({
    queryKey: ["logs-tail", filters],
    queryFn: async () => {
      const d = await getJson<{ logs: LogRecord[] }>("logs", { ...filters, start: tailStart(shown.current), limit: TAIL_MAX });
      const { rows, added } = mergeTail(shown.current, d.logs);
      if (polls.current++ > 0) arrived.current += added;
      shown.current = rows;
      return rows;
    },
    refetchInterval: TAIL_POLL_MS,
    gcTime: 0, // a tail is only good while it runs
  });
  return (
    <>
      <div className="panel small" data-testid="logs-live-status" data-arrived={arrived.current}>
        <span className="bad">●</span> Live: the newest {TAIL_MAX.toLocaleString()} records, checked every {TAIL_POLL_MS / 1000} s
        {" "}· {arrived.current.toLocaleString()} arrived since it started
        <span className="muted"> · the time range does not apply while live</span>
      </div>
      <Guard query={query} what="logs" isEmpty={(rows) => rows.length === 0} empty={<>Waiting for log records…</>}>
        {(rows) => (
          <div className="panel">
            <h2>{rows.length} records <span className="muted small">newest first · click a line for its attributes</span></h2>
            <LogTable logs={rows} />
          </div>
        )}
      </Guard>
    </>
  );
}

function Patterns({ service, sort }: { service: string; sort: string }) {
  const query = useApi<LogPatternsAnswer>("logs/patterns", { service, limit: 50, points: 30, sort: sort || "count" });
  const changed = sort === "change";
  return (
    <Guard
      query={query}
      what="log patterns"
      isEmpty={(d) => d.patterns.length === 0}
      empty={<>No log templates in this range yet: they are mined once a minute, after it closes.</>}
    >
      {(d) => (
        <div className="panel" data-testid="log-patterns">
          <h2>
            {d.patterns.length} patterns{" "}
            <span className="muted small">
              Drain templates per service, {changed ? "most changed against the stretch before" : "most lines first"} · trend:
              lines per {d.step_s / 60} min
            </span>{" "}
            <span className="segmented">
              <button type="button" className={changed ? "ghost" : "primary"} aria-pressed={!changed} onClick={() => setParams({ sort: null }, false)}>Most lines</button>
              <button type="button" className={changed ? "primary" : "ghost"} aria-pressed={changed} data-testid="patterns-sort-change" onClick={() => setParams({ sort: "change" }, false)}>Changed most</button>
            </span>
          </h2>
          <table className="table">
            <thead>
              <tr>
                <th className="num">Lines</th>
                <th className="num" title={`${fmtDateTime(d.before_s[0] * 1e9)} to ${fmtDateTime(d.before_s[1] * 1e9)}`}>Before</th>
                <th>Trend</th><th>Service</th><th>Template</th>
              </tr>
            </thead>
            <tbody>
              {d.patterns.map((p) => (
                <tr
                  key={`${p.service}/${p.template_id}`}
                  className="clickable"
                  data-testid="log-pattern"
                  title="Show this pattern's lines"
                  onClick={() => setParams({ view: null, service: p.service, pattern: p.template_id }, false)}
                >
                  <td className="num">{p.count.toLocaleString()}</td>
                  <td className="num muted">{p.before.toLocaleString()}</td>
                  <td>
                    <Sparkline values={p.series} color={serviceColor(p.service)} label="lines per step" format={(v) => `${v.toLocaleString()} lines`} />
                  </td>
                  <td className="nowrap"><ServiceDot color={serviceColor(p.service)} /> {p.service}</td>
                  <td className="log-body mono small">
                    {p.new ? <span className="chip" title={`first seen ${fmtDateTime(p.first_seen * 1e9)}`}>new</span> : null} {p.template}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Guard>
  );
}

function PatternChip({ template }: { template: string }) {
  return (
    <p className="small" data-testid="log-pattern-filter">
      Lines of the pattern <code className="mono">{template}</code>{" "}
      <button type="button" className="ghost" onClick={() => setParams({ pattern: null }, false)}>✕ all lines</button>{" "}
      <button type="button" className="ghost" onClick={() => setParams({ pattern: null, view: "patterns" }, false)}>← patterns</button>
    </p>
  );
}

export function Logs() {
  const { params } = useLocation();
  const filters = Object.fromEntries(FIELDS.map((f) => [f, params.get(f) ?? ""])) as Filters;
  const live = params.get("live") === "1";
  const patterns = !live && params.get("view") === "patterns";
  const services = useApi<{ services: ServiceSummary[] }>("services");
  // Off while live: the tail makes its own requests.
  const query = useApi<LogsAnswer>(live || patterns ? null : "logs", { ...filters, limit: filters.limit || 200 });
  const { limit: _, ...tailFilters } = filters;
  return (
    <section>
      <div className="page-head">
        <h1>Logs</h1>
        <div className="actions">
          <button
            type="button"
            className={patterns ? "primary" : undefined}
            aria-pressed={patterns}
            data-testid="logs-patterns-toggle"
            onClick={() => setParams({ view: patterns ? null : "patterns", live: null }, false)}
          >
            Patterns
          </button>{" "}
          <button
            type="button"
            className={live ? "primary" : undefined}
            aria-pressed={live}
            data-testid="logs-live-toggle"
            onClick={() => setParams({ live: live ? null : "1", view: null }, false)}
          >
            {live ? "■ Stop live" : "▶ Live"}
          </button>
        </div>
      </div>
      <LogForm key={params.toString()} filters={filters} services={(services.data?.services ?? []).map((s) => s.name)} />
      {live ? (
        <LiveTail key={JSON.stringify(tailFilters)} filters={tailFilters} />
      ) : patterns ? (
        <Patterns service={filters.service} sort={params.get("sort") ?? ""} />
      ) : (
        <Guard query={query} what="logs" isEmpty={(d) => d.logs.length === 0} empty={<>No log records match in this range.</>}>
          {(d) => (
            <div className="panel">
              {d.pattern && <PatternChip template={d.pattern.template} />}
              <h2>{d.logs.length} records <span className="muted small">newest first · click a line for its attributes</span></h2>
              <LogTable logs={d.logs} />
            </div>
          )}
        </Guard>
      )}
    </section>
  );
}
