// Raw capture: what is kept (segments over time, sizes, the outbox), sessions (start, stop,
// export, replay to an endpoint) and retention (policies, last run, dry run).
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState, type FormEvent } from "react";
import { ApiError, apiUrl, getJson, postJson, useApi } from "../api/client";
import type {
  CaptureReplay,
  CaptureSegment,
  CaptureSegmentsResponse,
  CaptureSession,
  CaptureSignal,
  CaptureStatus,
  RetentionRun,
  RetentionState,
} from "../api/types";
import { AXIS, Chart, TOOLTIP } from "../components/Chart";
import { SortableTable, type Column } from "../components/SortableTable";
import { ErrorBox, Guard } from "../components/States";
import { Can } from "../app/auth";

const SIGNALS: CaptureSignal[] = ["traces", "logs", "metrics"];
const COLORS: Record<CaptureSignal, string> = { traces: "#5b8def", logs: "#f2a93b", metrics: "#3fb950" };

function bytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

function time(ns: number | null): string {
  return ns ? new Date(ns / 1e6).toISOString().slice(0, 19).replace("T", " ") : "–";
}

/** State that is not about the time range (status, sessions, replays): polled every few seconds. */
function useLive<T>(path: string) {
  return useQuery<T, ApiError>({ queryKey: ["captures-page", path], queryFn: () => getJson<T>(path), refetchInterval: 3000 });
}

function useAction(): [string | null, (f: () => Promise<unknown>) => Promise<void>] {
  const client = useQueryClient();
  const [error, setError] = useState<string | null>(null);
  const act = async (f: () => Promise<unknown>) => {
    setError(null);
    try {
      await f();
    } catch (e) {
      setError((e as Error).message);
    }
    await client.invalidateQueries();
  };
  return [error, act];
}

function StatusPanel() {
  const query = useLive<CaptureStatus>("capture/status");
  return (
    <Guard query={query} what="capture status">
      {(s) => (
        <div className="stats" data-testid="capture-status">
          <div>
            <div className="muted small">Capture</div>
            {s.enabled ? <b>on → {s.location}</b> : <b>off</b>}
          </div>
          {s.enabled && (
            <>
              <div>
                <div className="muted small">Object store</div>
                <b className={s.object_store_ok ? "" : "bad"}>{s.object_store_ok ? "reachable" : "failing"}</b>
                {!s.object_store_ok && <div className="small bad">{s.last_upload_error}</div>}
              </div>
              <div>
                <div className="muted small">Waiting in the outbox</div>
                <b>{s.outbox_segments} segments, {bytes(s.outbox_bytes ?? 0)}</b>
              </div>
              <div>
                <div className="muted small">Sampled</div>
                <b>{Object.entries(s.sample ?? {}).map(([k, v]) => `${k} ${Math.round(v * 100)}%`).join(", ")}</b>
              </div>
            </>
          )}
          {s.totals.map((t) => (
            <div key={`${t.signal}-${t.tier}`}>
              <div className="muted small">{t.signal} ({t.tier})</div>
              <b>{t.segments} segments · {t.items.toLocaleString()} items · {bytes(t.bytes)}</b>
              <div className="small muted">{bytes(t.raw_bytes)} raw, {(t.raw_bytes / Math.max(1, t.bytes)).toFixed(1)}× compressed</div>
            </div>
          ))}
        </div>
      )}
    </Guard>
  );
}

function SegmentsPanel() {
  const query = useApi<CaptureSegmentsResponse>("capture/segments", { limit: 200 });
  const option = useMemo(() => {
    const data = query.data;
    if (!data) return {};
    const times = [...new Set(data.series.map((p) => p.t))].sort((a, b) => a - b);
    return {
      tooltip: { ...TOOLTIP, trigger: "axis", valueFormatter: (v: number) => bytes(v) },
      legend: { top: 0, textStyle: { color: "#8b949e" } },
      grid: { left: 70, right: 16, top: 30, bottom: 30 },
      xAxis: { type: "category", data: times.map((t) => new Date(t * 1000).toISOString().slice(11, 16)), ...AXIS },
      yAxis: { type: "value", ...AXIS, axisLabel: { ...AXIS.axisLabel, formatter: (v: number) => bytes(v) } },
      series: SIGNALS.map((signal) => ({
        name: signal,
        type: "bar",
        stack: "bytes",
        color: COLORS[signal],
        data: times.map((t) => data.series.find((p) => p.t === t && p.signal === signal)?.bytes ?? 0),
      })),
    };
  }, [query.data]);
  const columns: Column<CaptureSegment>[] = [
    { key: "arrival", label: "Arrived", value: (s) => s.arrival_start, render: (s) => time(s.arrival_start) },
    { key: "signal", label: "Signal", value: (s) => s.signal },
    { key: "services", label: "Services", value: (s) => s.services.join(", ") },
    { key: "requests", label: "Requests", value: (s) => s.requests, numeric: true },
    { key: "items", label: "Items", value: (s) => s.items, numeric: true },
    { key: "bytes", label: "Size", value: (s) => s.bytes, render: (s) => bytes(s.bytes), numeric: true },
    { key: "tier", label: "Tier", value: (s) => s.tier },
  ];
  return (
    <div className="panel">
      <h2>Captured segments</h2>
      <Guard query={query} what="segments" isEmpty={(d) => d.count === 0} empty="Nothing captured in this time range.">
        {(d) => (
          <>
            <div className="muted small">
              {d.count} segments, {d.items.toLocaleString()} items, {bytes(d.bytes)} (compressed) · bytes per {d.step_s} s
            </div>
            <Chart option={option} height={220} testId="capture-chart" />
            <SortableTable rows={d.segments} columns={columns} rowKey={(s) => s.key} defaultSort="arrival" prefix="seg-" testId="segments-table" />
          </>
        )}
      </Guard>
    </div>
  );
}

function ReplayForm({ session, onDone }: { session: CaptureSession; onDone: () => void }) {
  const [to, setTo] = useState("http://127.0.0.1:4318");
  const [speed, setSpeed] = useState("10");
  const [rebase, setRebase] = useState(true);
  const [signals, setSignals] = useState<CaptureSignal[]>(SIGNALS);
  const [error, act] = useAction();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void act(async () => {
      await postJson("capture/replays", { session: session.id, to, speed: Number(speed), rebase_time: rebase ? "now" : null, signals });
      onDone();
    });
  };
  return (
    <form className="filters" onSubmit={submit} data-testid="replay-form">
      <b>Replay “{session.name}”</b>
      <label className="field">To (OTLP/HTTP)<input value={to} onChange={(e) => setTo(e.target.value)} size={30} /></label>
      <label className="field">Speed<input value={speed} onChange={(e) => setSpeed(e.target.value)} size={4} /></label>
      <label className="field">
        <span>Times</span>
        <span><input type="checkbox" checked={rebase} onChange={(e) => setRebase(e.target.checked)} /> end now</span>
      </label>
      {SIGNALS.map((s) => (
        <label key={s} className="nowrap">
          <input type="checkbox" checked={signals.includes(s)}
            onChange={(e) => setSignals(e.target.checked ? [...signals, s] : signals.filter((x) => x !== s))} /> {s}
        </label>
      ))}
      <button type="submit">Start replay</button>
      <button type="button" className="ghost" onClick={onDone}>Cancel</button>
      {error && <div className="bad">{error}</div>}
    </form>
  );
}

function SessionsPanel() {
  const query = useLive<{ sessions: CaptureSession[] }>("capture/sessions");
  const [name, setName] = useState("");
  const [labels, setLabels] = useState("");
  const [replaying, setReplaying] = useState<CaptureSession | null>(null);
  const [error, act] = useAction();
  const start = (e: FormEvent) => {
    e.preventDefault();
    const parsed = Object.fromEntries(
      labels.split(",").map((l) => l.trim()).filter(Boolean).map((l) => [l.split("=")[0]!.trim(), l.split("=").slice(1).join("=").trim()]),
    );
    void act(async () => {
      await postJson("capture/sessions", { name, labels: parsed });
      setName("");
      setLabels("");
    });
  };
  const columns: Column<CaptureSession>[] = [
    { key: "name", label: "Session", value: (s) => s.name, render: (s) => <b>{s.name}</b> },
    { key: "labels", label: "Labels", value: (s) => Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(", ") },
    { key: "start", label: "Start", value: (s) => s.start, render: (s) => time(s.start) },
    { key: "end", label: "End", value: (s) => s.end ?? Infinity, render: (s) => (s.recording ? <span className="sev sev-error">recording</span> : time(s.end)) },
    { key: "segments", label: "Segments", value: (s) => s.segments, numeric: true },
    { key: "items", label: "Spans / logs / points", value: (s) => s.items.traces + s.items.logs + s.items.metrics,
      render: (s) => `${s.items.traces.toLocaleString()} / ${s.items.logs.toLocaleString()} / ${s.items.metrics.toLocaleString()}` },
    { key: "bytes", label: "Size", value: (s) => s.bytes, render: (s) => bytes(s.bytes), numeric: true },
    { key: "actions", label: "", value: () => 0, render: (s) => (
      <span className="nowrap">
        <Can role="editor">{s.recording && <button onClick={() => void act(() => postJson(`capture/sessions/${s.id}/stop`, {}))}>Stop</button>}{" "}</Can>
        <a className="button" href={apiUrl(`capture/sessions/${s.id}/export`)}>Export</a>{" "}
        <Can role="editor"><button onClick={() => setReplaying(s)}>Replay…</button></Can>
      </span>
    ) },
  ];
  return (
    <div className="panel">
      <h2>Sessions</h2>
      <Can role="editor">
      <form className="filters" onSubmit={start} data-testid="session-form">
        <label className="field">Name<input value={name} onChange={(e) => setName(e.target.value)} placeholder="fault: payment failure" /></label>
        <label className="field">Labels<input value={labels} onChange={(e) => setLabels(e.target.value)} placeholder="env=prod, ticket=123" /></label>
        <button type="submit" disabled={!name.trim()}>Start session</button>
      </form>
      </Can>
      {error && <div className="state error">{error}</div>}
      {replaying && <ReplayForm session={replaying} onDone={() => setReplaying(null)} />}
      <Guard query={query} what="sessions" isEmpty={(d) => d.sessions.length === 0} empty="No sessions yet: start one above." hint={false}>
        {(d) => <SortableTable rows={d.sessions} columns={columns} rowKey={(s) => s.id} defaultSort="start" prefix="ses-" testId="sessions-table" />}
      </Guard>
      <Replays />
    </div>
  );
}

function Replays() {
  const query = useLive<{ replays: CaptureReplay[] }>("capture/replays");
  const replays = query.data?.replays ?? [];
  if (!replays.length) return null;
  return (
    <table className="table" data-testid="replays-table">
      <thead><tr><th>Replay</th><th>To</th><th>State</th><th>Progress</th><th>Sent</th><th>Retries</th><th>Shift</th></tr></thead>
      <tbody>
        {replays.map((r) => (
          <tr key={r.id}>
            <td>{r.id}</td>
            <td>{r.to}</td>
            <td className={r.state === "failed" ? "bad" : ""}>{r.state}{r.error ? `: ${r.error}` : ""}</td>
            <td>{r.done_requests} / {r.total_requests} requests</td>
            <td>{SIGNALS.map((s) => `${r.sent_items[s] ?? 0} ${s}`).join(", ")}</td>
            <td>{r.retries}</td>
            <td>{(r.offset_ns / 1e9).toFixed(1)} s</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function RunSummary({ run }: { run: RetentionRun }) {
  return (
    <div data-testid="retention-run">
      <div>
        {run.dry_run ? "Dry run" : "Run"} at {new Date(run.at * 1000).toISOString().slice(0, 19).replace("T", " ")}:{" "}
        {run.deleted} to delete, {run.archived} to archive, {bytes(run.freed_bytes)} freed, {run.errors.length} errors
      </div>
      {run.actions.length > 0 && (
        <table className="table">
          <thead><tr><th>Action</th><th>Segment</th><th>Signal</th><th>Tier</th><th>Size</th><th>Why</th></tr></thead>
          <tbody>
            {run.actions.slice(0, 100).map((a) => (
              <tr key={a.key}><td>{a.action}</td><td className="small">{a.key}</td><td>{a.signal}</td><td>{a.tier}</td><td>{bytes(a.bytes)}</td><td>{a.reason}</td></tr>
            ))}
          </tbody>
        </table>
      )}
      {run.ttl.map((t) => <div key={t} className="small muted">table TTL: {t}</div>)}
      {run.errors.map((e) => <div key={e} className="small bad">{e}</div>)}
    </div>
  );
}

function RetentionPanel() {
  const query = useLive<RetentionState>("capture/retention");
  const [dry, setDry] = useState<RetentionRun | null>(null);
  const [error, act] = useAction();
  return (
    <div className="panel">
      <h2>Retention</h2>
      <Guard query={query} what="retention policies">
        {(r) => (
          <>
            {r.policies.length === 0 ? (
              <div className="muted">No policies: captured segments are kept until deleted. Set them in a TOML file given with --capture-retention.</div>
            ) : (
              <table className="table" data-testid="policies-table">
                <thead><tr><th>Signal</th><th>Tier</th><th>Archive after</th><th>Delete after</th><th>Size cap</th><th>Age from</th></tr></thead>
                <tbody>
                  {r.policies.map((p) => (
                    <tr key={`${p.signal}-${p.tier}`}>
                      <td>{p.signal}</td><td>{p.tier}</td>
                      <td>{p.archive_after_days ? `${p.archive_after_days} d → ${r.archive}` : "–"}</td>
                      <td>{p.delete_after_days ? `${p.delete_after_days} d` : "–"}</td>
                      <td>{p.max_total_mib ? `${p.max_total_mib} MiB` : "–"}</td>
                      <td>{p.age_from}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            <div className="muted small">{r.interval_minutes ? `Runs every ${r.interval_minutes} minutes.` : "Runs on demand only (interval_minutes = 0)."}</div>
            <h3>Last run</h3>
            {r.last_run ? <RunSummary run={r.last_run} /> : <div className="muted">Not run yet.</div>}
          </>
        )}
      </Guard>
      <Can role="admin"><button onClick={() => void act(async () => setDry(await postJson<RetentionRun>("capture/retention/run", { dry_run: true })))}>Dry run</button></Can>
      {error && <ErrorBox error={new Error(error)} />}
      {dry && <RunSummary run={dry} />}
    </div>
  );
}

export function Captures() {
  return (
    <div>
      <div className="page-head"><h1>Captures</h1><span className="muted">raw OTLP as received, kept for replay</span></div>
      <StatusPanel />
      <SegmentsPanel />
      <SessionsPanel />
      <RetentionPanel />
    </div>
  );
}
