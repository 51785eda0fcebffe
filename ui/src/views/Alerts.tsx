// Alerts: what is firing, the rules (create, edit, test against the last hour), silences, scheduled
// review reports, and the notification history with every delivery attempt.
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { ApiError, getJson, postJson, sendJson } from "../api/client";
import type {
  Alert,
  AlertNotification,
  AlertRule,
  AlertRulesResponse,
  RuleTestResult,
  Silence,
} from "../api/types";
import { Link } from "../app/router";
import { ErrorBox, Guard } from "../components/States";
import { Can } from "../app/auth";

const REFRESH_MS = 5000;

function useLive<T>(path: string, params: Record<string, string> = {}) {
  const qs = new URLSearchParams(params).toString();
  return useQuery<T, ApiError>({
    queryKey: ["alerts-page", path, qs],
    queryFn: () => getJson<T>(path, params),
    refetchInterval: REFRESH_MS,
  });
}

function labelText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
}

function SeverityBadge({ severity }: { severity: string }) {
  const cls = severity === "critical" ? "sev sev-error" : severity === "warning" ? "sev sev-warn" : "sev sev-info";
  return <span className={cls}>{severity}</span>;
}

function when(text: string | null): string {
  return text ? text.slice(0, 19).replace("T", " ") : "–";
}

function FiringAlerts() {
  const query = useLive<{ alerts: Alert[] }>("alerts", { state: "all" });
  const client = useQueryClient();
  const [error, setError] = useState<Error | null>(null);
  const silence = async (alert: Alert) => {
    setError(null);
    try {
      await postJson("silences", {
        matchers: alert.labels,
        ends_at: (Date.now() + 3600_000) * 1_000_000,
        comment: `silenced from the Alerts page (${alert.rule_id})`,
      });
      await client.invalidateQueries({ queryKey: ["alerts-page"] });
    } catch (e) {
      setError(e as Error);
    }
  };
  return (
    <div className="panel" data-testid="firing-alerts">
      <h2>Firing and recent <span className="muted small">times in UTC</span></h2>
      <ErrorBox error={error} />
      <Guard query={query} what="alerts" isEmpty={(d) => d.alerts.length === 0} empty={<>Nothing is firing.</>} hint={false}>
        {(d) => (
          <table className="table">
            <thead>
              <tr><th>state</th><th>severity</th><th>rule</th><th>labels</th><th>why</th><th>since</th><th /></tr>
            </thead>
            <tbody>
              {d.alerts.map((a) => (
                <tr key={`${a.rule_id}/${a.fingerprint}`} className={a.state === "resolved" ? "muted" : undefined}>
                  <td className="nowrap">
                    <span className={a.state === "firing" ? "bad" : undefined}>{a.state}</span>
                    {a.silenced && <span className="muted small"> (silenced)</span>}
                  </td>
                  <td><SeverityBadge severity={a.severity} /></td>
                  <td className="mono">{a.rule_id}</td>
                  <td>
                    {a.labels.service ? <Link to={`/services/${a.labels.service}`}>{labelText(a.labels)}</Link> : labelText(a.labels)}
                  </td>
                  <td>{a.why}</td>
                  <td className="nowrap small">{when(a.state === "resolved" ? a.resolved_at : a.fired_at ?? a.active_since)}</td>
                  <td>{a.state !== "resolved" && !a.silenced && <Can role="editor"><button className="ghost" onClick={() => void silence(a)}>Silence 1h</button></Can>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Guard>
    </div>
  );
}

// The fields each rule kind takes, as the form shows them; numbers are sent as numbers.
type FieldSpec = { name: string; label: string; kind?: "number" | "select"; options?: string[]; placeholder?: string };
const COMMON: FieldSpec[] = [
  { name: "id", label: "id", placeholder: "checkout-errors" },
  { name: "name", label: "name" },
  { name: "severity", label: "severity", kind: "select", options: ["info", "warning", "critical"] },
  { name: "for", label: "for", placeholder: "0s" },
  { name: "channels", label: "channels", placeholder: "comma-separated ids; empty: all" },
];
const OPS = [">", ">=", "<", "<="];
const KIND_FIELDS: Record<string, FieldSpec[]> = {
  threshold: [
    { name: "signal", label: "signal", kind: "select", options: ["error_rate", "p95_ms", "p99_ms", "request_rate"] },
    { name: "scope", label: "scope", kind: "select", options: ["service", "operation", "edge"] },
    { name: "service", label: "service", placeholder: "* for every service" },
    { name: "operation", label: "operation" },
    { name: "client", label: "edge client" },
    { name: "server", label: "edge server" },
    { name: "op", label: "op", kind: "select", options: OPS },
    { name: "value", label: "value", kind: "number" },
    { name: "window", label: "window", placeholder: "5m" },
    { name: "min_requests", label: "min requests", kind: "number" },
  ],
  slo_burn: [
    { name: "service", label: "service", placeholder: "* for every service" },
    { name: "objective", label: "objective", kind: "number", placeholder: "0.999" },
  ],
  absence: [
    { name: "service", label: "service", placeholder: "* for every service" },
    { name: "window", label: "window", placeholder: "5m" },
    { name: "lookback", label: "lookback", placeholder: "1h" },
  ],
  log_count: [
    { name: "service", label: "service" },
    { name: "min_log_severity", label: "min log severity", kind: "select", options: ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"] },
    { name: "contains", label: "body contains" },
    { name: "op", label: "op", kind: "select", options: OPS },
    { name: "value", label: "value", kind: "number" },
    { name: "window", label: "window", placeholder: "5m" },
  ],
  anomaly: [
    { name: "service", label: "service" },
    { name: "min_anomaly_severity", label: "min severity", kind: "select", options: ["info", "warning", "critical"] },
    { name: "window", label: "window", placeholder: "5m" },
  ],
  incident: [
    { name: "service", label: "service" },
    { name: "min_incident_severity", label: "min severity", kind: "select", options: ["warning", "critical"] },
  ],
};
const NEW_RULE: Record<string, string> = {
  kind: "threshold", severity: "warning", signal: "error_rate", scope: "service", op: ">", window: "5m", value: "0.05", for: "0s",
};

function toForm(rule: AlertRule): Record<string, string> {
  const form: Record<string, string> = {};
  for (const [k, v] of Object.entries(rule)) {
    if (k === "channels") form[k] = (v as string[]).join(", ");
    else if (v !== null && v !== undefined && typeof v !== "object") form[k] = String(v);
  }
  return form;
}

/** The rule to send: the form's fields over what the form does not show of the original (per-service
 * objectives, burn windows, labels, group_by), so an edit keeps them. */
function toBody(form: Record<string, string>, original?: AlertRule): Record<string, unknown> {
  const fields = [...COMMON, ...(KIND_FIELDS[form.kind ?? "threshold"] ?? [])];
  const shown = new Set(["source", "status", ...fields.map((f) => f.name)]);
  const kept = Object.fromEntries(Object.entries(original ?? {}).filter(([k]) => !shown.has(k)));
  const body: Record<string, unknown> = { ...kept, kind: form.kind };
  for (const f of fields) {
    const raw = (form[f.name] ?? "").trim();
    if (raw === "") continue;
    if (f.name === "channels") body.channels = raw.split(",").map((s) => s.trim()).filter(Boolean);
    else body[f.name] = f.kind === "number" && !Number.isNaN(Number(raw)) ? Number(raw) : raw;
  }
  return body;
}

function RuleEditor({ initial, original, onDone }: { initial: Record<string, string>; original?: AlertRule; onDone: () => void }) {
  const editing = original !== undefined;
  const [form, setForm] = useState(initial);
  const [error, setError] = useState<Error | null>(null);
  const [result, setResult] = useState<RuleTestResult | null>(null);
  const [busy, setBusy] = useState(false);
  const client = useQueryClient();
  const set = (name: string, value: string) => setForm((f) => ({ ...f, [name]: value }));
  const run = async (what: "save" | "test") => {
    setError(null);
    setBusy(true);
    try {
      const body = toBody(form, original);
      if (what === "test") setResult(await postJson<RuleTestResult>("alert-rules/test", body));
      else {
        if (editing) await sendJson("PUT", `alert-rules/${encodeURIComponent(String(body.id))}`, body);
        else await postJson("alert-rules", body);
        await client.invalidateQueries({ queryKey: ["alerts-page"] });
        onDone();
      }
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run("save");
  };
  const fields = [...COMMON, ...(KIND_FIELDS[form.kind ?? "threshold"] ?? [])];
  return (
    <form className="panel" onSubmit={submit} data-testid="rule-editor">
      <h2>{editing ? `Edit rule ${form.id}` : "New rule"}</h2>
      <div className="filters">
        <label className="field">
          kind
          <select value={form.kind} onChange={(e) => set("kind", e.target.value)} disabled={editing} data-testid="rule-kind">
            {Object.keys(KIND_FIELDS).map((k) => <option key={k}>{k}</option>)}
          </select>
        </label>
        {fields.map((f) => (
          <label className="field" key={f.name}>
            {f.label}
            {f.kind === "select" ? (
              <select value={form[f.name] ?? ""} onChange={(e) => set(f.name, e.target.value)} data-testid={`rule-${f.name}`}>
                <option value="">(default)</option>
                {f.options!.map((o) => <option key={o}>{o}</option>)}
              </select>
            ) : (
              <input value={form[f.name] ?? ""} placeholder={f.placeholder} disabled={editing && f.name === "id"}
                onChange={(e) => set(f.name, e.target.value)} data-testid={`rule-${f.name}`} />
            )}
          </label>
        ))}
      </div>
      <ErrorBox error={error} />
      <div className="chips">
        <button type="submit" className="primary" disabled={busy} data-testid="rule-save">Save</button>
        <button type="button" disabled={busy} onClick={() => void run("test")} data-testid="rule-test">Test against the last hour</button>
        <button type="button" className="ghost" onClick={onDone}>Cancel</button>
      </div>
      {result && <TestResult result={result} />}
    </form>
  );
}

function TestResult({ result }: { result: RuleTestResult }) {
  const breaching = result.series.filter((s) => s.points.some((p) => p.breaching));
  return (
    <div className="panel" data-testid="rule-test-result" style={{ marginTop: 12 }}>
      <h2>
        Last hour ({when(result.from)} – {when(result.to)}): {result.series.length} series watched, {breaching.length} breached,{" "}
        {result.events.length} {result.events.length === 1 ? "notification" : "notifications"}
      </h2>
      {result.error && <div className="state error">{result.error}</div>}
      {result.events.length === 0 ? (
        <div className="muted">It would not have notified.</div>
      ) : (
        <table className="table">
          <thead><tr><th>at</th><th>event</th><th>severity</th><th>labels</th><th>why</th></tr></thead>
          <tbody>
            {result.events.map((e, i) => (
              <tr key={i}>
                <td className="nowrap small">{when(e.at)}</td>
                <td className={e.event === "firing" ? "bad" : undefined}>{e.event}</td>
                <td><SeverityBadge severity={e.severity} /></td>
                <td>{labelText(e.labels)}</td>
                <td>{e.why}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function condition(rule: AlertRule): string {
  const r = rule as Record<string, unknown>;
  const who = r.service && r.service !== "*" ? String(r.service) : "every service";
  switch (rule.kind) {
    case "threshold": {
      const scope = r.scope === "edge" ? `edge ${r.client ?? "*"} → ${r.server ?? "*"}` : r.scope === "operation" ? `${who} ${r.operation ?? "(each operation)"}` : who;
      return `${r.signal} ${r.op} ${r.value} over ${r.window} · ${scope}`;
    }
    case "slo_burn":
      return `burn rate of a ${Number(r.objective) * 100}% SLO · ${who}`;
    case "absence":
      return `no requests for ${r.window} (seen in ${r.lookback}) · ${who}`;
    case "log_count":
      return `${r.min_log_severity}+ logs${r.contains ? ` containing "${r.contains}"` : ""} ${r.op} ${r.value} over ${r.window} · ${who}`;
    case "anomaly":
      return `anomalies ≥ ${r.min_anomaly_severity} · ${who}`;
    case "incident":
      return `open incidents ≥ ${r.min_incident_severity} · ${who}`;
  }
}

function Rules() {
  const query = useLive<AlertRulesResponse>("alert-rules");
  const client = useQueryClient();
  const [editor, setEditor] = useState<{ form: Record<string, string>; original?: AlertRule; key: number } | null>(null);
  const [tested, setTested] = useState<RuleTestResult | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const act = async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(e as Error);
    }
  };
  return (
    <>
      {editor && <RuleEditor key={editor.key} initial={editor.form} original={editor.original} onDone={() => setEditor(null)} />}
      <div className="panel" data-testid="alert-rules">
        <div className="details-head">
          <h2>Rules</h2>
          <Can role="editor">
          <button className="primary" onClick={() => setEditor({ form: { ...NEW_RULE }, key: Date.now() })} data-testid="new-rule">
            New rule
          </button>
          </Can>
        </div>
        {query.data?.file_error && <div className="state error">Alerts file not reloaded: {query.data.file_error}</div>}
        <ErrorBox error={error} />
        <Guard query={query} what="rules" isEmpty={(d) => d.rules.length === 0} hint={false}
          empty={<>No rules yet. Create one here, through <code>POST /api/v1/alert-rules</code>, or in a YAML file (<code>--alerts-file</code>).</>}>
          {(d) => (
            <table className="table">
              <thead><tr><th>rule</th><th>kind</th><th>severity</th><th>condition</th><th>for</th><th>channels</th><th>status</th><th /></tr></thead>
              <tbody>
                {d.rules.map((r) => (
                  <tr key={r.id}>
                    <td className="mono">{r.id}{r.source === "file" && <span className="muted small"> (file)</span>}</td>
                    <td>{r.kind}</td>
                    <td><SeverityBadge severity={r.severity} /></td>
                    <td>{condition(r)}</td>
                    <td>{r.for}</td>
                    <td className="small">{r.channels.length ? r.channels.join(", ") : "all"}</td>
                    <td className="small">
                      {!r.enabled ? "disabled" : r.status?.error ? <span className="bad">{r.status.error}</span> : r.status ? `${r.status.series} series` : "not evaluated yet"}
                    </td>
                    <td className="nowrap">
                      <Can role="editor">
                      <button className="ghost" onClick={() => void act(async () => setTested(await postJson<RuleTestResult>(`alert-rules/${encodeURIComponent(r.id)}/test`, {})))}>Test</button>
                      {r.source === "api" && (
                        <>
                          <button className="ghost" onClick={() => setEditor({ form: toForm(r), original: r, key: Date.now() })}>Edit</button>
                          <button className="ghost" data-testid={`toggle-${r.id}`} onClick={() => void act(async () => {
                            await sendJson("PUT", `alert-rules/${encodeURIComponent(r.id)}`, { ...toBody(toForm(r), r), enabled: !r.enabled });
                            await client.invalidateQueries({ queryKey: ["alerts-page"] });
                          })}>{r.enabled ? "Disable" : "Enable"}</button>
                          <button className="ghost" onClick={() => void act(async () => {
                            await sendJson("DELETE", `alert-rules/${encodeURIComponent(r.id)}`);
                            await client.invalidateQueries({ queryKey: ["alerts-page"] });
                          })}>Delete</button>
                        </>
                      )}
                      </Can>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </Guard>
        {tested && <TestResult result={tested} />}
      </div>
    </>
  );
}

function Silences() {
  const query = useLive<{ silences: Silence[] }>("silences");
  const client = useQueryClient();
  const [matchers, setMatchers] = useState("");
  const [hours, setHours] = useState("2");
  const [comment, setComment] = useState("");
  const [error, setError] = useState<Error | null>(null);
  const act = async (fn: () => Promise<unknown>) => {
    setError(null);
    try {
      await fn();
      await client.invalidateQueries({ queryKey: ["alerts-page"] });
    } catch (e) {
      setError(e as Error);
    }
  };
  const create = (e: FormEvent) => {
    e.preventDefault();
    const parsed: Record<string, string> = {};
    for (const part of matchers.split(",")) {
      const [k, ...v] = part.split("=");
      if (k?.trim()) parsed[k.trim()] = v.join("=").trim();
    }
    void act(() => postJson("silences", { matchers: parsed, ends_at: Math.round((Date.now() + Number(hours) * 3600_000) * 1_000_000), comment }));
  };
  return (
    <div className="panel" data-testid="silences">
      <h2>Silences</h2>
      <Can role="editor">
      <form className="filters" onSubmit={create}>
        <label className="field">matchers<input value={matchers} onChange={(e) => setMatchers(e.target.value)} placeholder="service=cart, rule…" data-testid="silence-matchers" /></label>
        <label className="field">hours<input value={hours} onChange={(e) => setHours(e.target.value)} size={4} /></label>
        <label className="field">comment<input value={comment} onChange={(e) => setComment(e.target.value)} /></label>
        <button type="submit" className="primary">Silence</button>
      </form>
      </Can>
      <ErrorBox error={error} />
      <Guard query={query} what="silences" isEmpty={(d) => d.silences.length === 0} empty={<>No active silences.</>} hint={false}>
        {(d) => (
          <table className="table">
            <thead><tr><th>matchers</th><th>until</th><th>comment</th><th /></tr></thead>
            <tbody>
              {d.silences.map((s) => (
                <tr key={s.id}>
                  <td>{labelText(s.matchers)}</td>
                  <td className="nowrap small">{new Date(s.ends_at / 1_000_000).toISOString().slice(0, 19).replace("T", " ")}</td>
                  <td>{s.comment}</td>
                  <td><Can role="editor"><button className="ghost" onClick={() => void act(() => sendJson("DELETE", `silences/${s.id}`))}>Expire</button></Can></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Guard>
    </div>
  );
}

// A scheduled architecture review (/api/v1/reports); its messages go through the outbox like alerts.
interface ScheduledReport {
  id: string;
  name: string;
  every: string;
  at: string | null;
  window: string | null;
  channels: string[];
  enabled: boolean;
  source: "api" | "file";
  last_sent: string | null;
  next_at: string | null;
}

function ScheduledReports() {
  const query = useLive<{ reports: ScheduledReport[] }>("reports");
  const client = useQueryClient();
  const [error, setError] = useState<Error | null>(null);
  const [queued, setQueued] = useState<string | null>(null);
  const sendNow = async (report: ScheduledReport) => {
    setError(null);
    setQueued(null);
    try {
      const r = await postJson<{ notification_id: string; channels: number }>(`reports/${encodeURIComponent(report.id)}/send`, {});
      setQueued(`${report.id}: queued for ${r.channels} ${r.channels === 1 ? "channel" : "channels"} (notification ${r.notification_id})`);
      await client.invalidateQueries({ queryKey: ["alerts-page"] });
    } catch (e) {
      setError(e as Error);
    }
  };
  return (
    <div className="panel" data-testid="scheduled-reports">
      <h2>Scheduled reports <span className="muted small">architecture review · times in UTC</span></h2>
      <ErrorBox error={error} />
      {queued && <div className="muted small" data-testid="report-queued">{queued}</div>}
      <Guard query={query} what="reports" isEmpty={(d) => d.reports.length === 0} hint={false}
        empty={<>No scheduled reports. Add one through <code>POST /api/v1/reports</code> or under <code>reports:</code> in the alerts file.</>}>
        {(d) => (
          <table className="table">
            <thead><tr><th>report</th><th>every</th><th>covers</th><th>channels</th><th>last sent</th><th>next</th><th /></tr></thead>
            <tbody>
              {d.reports.map((r) => (
                <tr key={r.id} data-testid={`report-${r.id}`} className={r.enabled ? undefined : "muted"}>
                  <td className="mono">{r.id}{r.source === "file" && <span className="muted small"> (file)</span>}</td>
                  <td>{r.every}{r.at ? ` at ${r.at}` : ""}</td>
                  <td>{r.window ?? r.every}</td>
                  <td className="small">{r.channels.join(", ")}</td>
                  <td className="nowrap small" data-testid={`report-last-sent-${r.id}`}>{r.last_sent ? when(r.last_sent) : "never"}</td>
                  <td className="nowrap small">{r.enabled ? when(r.next_at) : "disabled"}</td>
                  <td><Can role="editor"><button className="ghost" onClick={() => void sendNow(r)} data-testid={`send-report-${r.id}`}>Send now</button></Can></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Guard>
    </div>
  );
}

function History() {
  const query = useLive<{ notifications: AlertNotification[]; pending: number }>("notifications", { limit: "100" });
  return (
    <div className="panel" data-testid="notification-history">
      <h2>Notifications {query.data && <span className="muted small">{query.data.pending} waiting to be sent</span>}</h2>
      <Guard query={query} what="notifications" isEmpty={(d) => d.notifications.length === 0} empty={<>No notifications sent yet.</>} hint={false}>
        {(d) => (
          <table className="table">
            <thead><tr><th>created</th><th>rule</th><th>labels</th><th>event</th><th>channel</th><th>status</th><th>attempts</th><th>last answer</th></tr></thead>
            <tbody>
              {d.notifications.map((n) => (
                <tr key={n.id}>
                  <td className="nowrap small">{new Date(n.created_ms).toISOString().slice(0, 19).replace("T", " ")}</td>
                  <td className="mono">{n.rule_id}</td>
                  <td>{labelText(n.alert.labels)}</td>
                  <td className={n.event === "firing" ? "bad" : undefined}>{n.event}{n.digest ? " (digest)" : ""}</td>
                  <td>{n.channel}</td>
                  <td className={n.status === "delivered" ? undefined : "bad"}>{n.status}</td>
                  <td className="num">{n.attempts}</td>
                  <td className="small">{n.attempts_log.at(-1)?.detail ?? n.last_error}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Guard>
    </div>
  );
}

export function Alerts() {
  return (
    <div>
      <div className="page-head"><h1>Alerts</h1></div>
      <FiringAlerts />
      <Rules />
      <Silences />
      <ScheduledReports />
      <History />
    </div>
  );
}
