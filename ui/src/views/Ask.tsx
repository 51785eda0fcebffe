// The Ask console: a question in words → the answer, the SQL that produced it, a chart and the
// rows; a history of questions; and a SQL tab for writing ClickHouse SQL through the same sandbox.
import { useState, type FormEvent } from "react";
import { ApiError, postJson } from "../api/client";
import { setParams, useLocation } from "../app/router";
import { AXIS, Chart, TOOLTIP } from "../components/Chart";
import { ErrorBox } from "../components/States";

export interface ChartSpec {
  kind: "line" | "bar" | "stat" | "table" | "pie";
  x: string | null;
  y: string[];
  series: string | null;
}

interface Attempt {
  provider: string;
  model: string;
  outcome: string;
  detail: string;
  latency_ms: number;
}

interface AskAnswer {
  question: string;
  answered: boolean;
  source: "model" | "deterministic" | "none";
  text: string;
  sql: string | null;
  columns: string[];
  rows: unknown[][];
  truncated: boolean;
  chart: ChartSpec;
  attempts: Attempt[];
  model: string | null;
  needs_model: boolean;
}

interface QueryResult {
  columns: string[];
  rows: unknown[][];
  truncated: boolean;
}

const HISTORY_KEY = "kokanee.ask.history";
const EXAMPLES = [
  "error rate by service in the last hour",
  "p95 latency by operation over the last 30 minutes",
  "slowest operations",
  "top errors in the last hour",
  "what changed in the last 15 minutes?",
  "request rate over time",
];

function loadHistory(): string[] {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(HISTORY_KEY) ?? "[]");
    return Array.isArray(parsed) ? parsed.filter((q): q is string => typeof q === "string") : [];
  } catch {
    return [];
  }
}

/** A chart spec from a result's shape, the way the server chooses one (for the SQL tab). */
export function chooseChart(columns: string[], rows: unknown[][]): ChartSpec {
  const isNum = (c: number) => rows.some((r) => r[c] !== null) && rows.every((r) => r[c] === null || typeof r[c] === "number");
  const isTime = (name: string, c: number) =>
    ["time", "minute", "hour", "day", "t", "ts", "timestamp", "bucket"].includes(name.toLowerCase()) ||
    rows.every((r) => typeof r[c] === "string" && /^\d{4}-\d\d-\d\dT/.test(r[c] as string));
  if (!rows.length) return { kind: "table", x: null, y: [], series: null };
  const times = columns.filter((c, i) => isTime(c, i));
  const numbers = columns.filter((c, i) => !times.includes(c) && isNum(i));
  const cats = columns.filter((c) => !times.includes(c) && !numbers.includes(c));
  if (times.length && numbers.length) return { kind: "line", x: times[0]!, y: numbers.slice(0, 4), series: cats.length === 1 ? cats[0]! : null };
  if (rows.length === 1 && numbers.length && numbers.length <= 4) return { kind: "stat", x: null, y: numbers, series: null };
  if (cats.length && numbers.length && rows.length <= 50) return { kind: "bar", x: cats[0]!, y: numbers.slice(0, 3), series: null };
  return { kind: "table", x: null, y: [], series: null };
}

function timeValue(v: unknown): number | string {
  if (typeof v === "number") return v > 1e15 ? v / 1e6 : v > 1e11 ? v : v * 1000;
  return typeof v === "string" ? (v.endsWith("Z") || v.includes("+") ? v : `${v}Z`) : String(v);
}

export function ResultChart({ columns, rows, spec, unit = "", height = 260 }: { columns: string[]; rows: unknown[][]; spec: ChartSpec; unit?: string; height?: number }) {
  const col = (name: string | null) => (name === null ? -1 : columns.indexOf(name));
  if (spec.kind === "table" || !rows.length) return null;
  if (spec.kind === "stat") {
    return (
      <div className="ai-stats" data-testid="ai-stat">
        {spec.y.map((y) => (
          <div key={y} className="ai-stat">
            <div className="ai-stat-value">{String(rows[0]![col(y)] ?? "–")}{unit === "percent" ? "%" : unit === "ms" ? " ms" : ""}</div>
            <div className="muted small">{y}</div>
          </div>
        ))}
      </div>
    );
  }
  const x = col(spec.x);
  let option: Record<string, unknown>;
  if (spec.kind === "line") {
    const s = col(spec.series);
    const groups = new Map<string, [number | string, unknown][]>();
    for (const r of rows) {
      for (const y of s >= 0 ? spec.y.slice(0, 1) : spec.y) {
        const name = s >= 0 ? String(r[s]) : y;
        if (!groups.has(name)) groups.set(name, []);
        groups.get(name)!.push([timeValue(r[x]), r[col(y)]]);
      }
    }
    option = {
      tooltip: { ...TOOLTIP, trigger: "axis" },
      legend: { top: 0, textStyle: { color: "#8b949e" }, type: "scroll" },
      grid: { left: 50, right: 16, top: 36, bottom: 28 },
      xAxis: { type: "time", ...AXIS },
      yAxis: { type: "value", ...AXIS },
      series: [...groups.entries()].slice(0, 12).map(([name, data]) => ({ name, type: "line", showSymbol: false, data })),
    };
  } else {
    // Every text column names a bar (service and operation both), not only the first.
    const text = columns.map((_, i) => i).filter((i) => i === x || rows.every((r) => typeof r[i] === "string"));
    const labels = rows.map((r) => text.map((i) => String(r[i])).join(" "));
    option = {
      tooltip: { ...TOOLTIP, trigger: "axis" },
      legend: { top: 0, textStyle: { color: "#8b949e" } },
      grid: { left: 50, right: 16, top: 36, bottom: 60 },
      xAxis: { type: "category", data: labels, ...AXIS, axisLabel: { ...AXIS.axisLabel, rotate: labels.length > 6 ? 30 : 0 } },
      yAxis: { type: "value", ...AXIS },
      series: spec.y.map((y) => ({ name: y, type: "bar", data: rows.map((r) => r[col(y)]) })),
    };
  }
  return <Chart option={option} height={height} testId="ai-chart" />;
}

export function ResultTable({ columns, rows }: { columns: string[]; rows: unknown[][] }) {
  return (
    <div className="ai-table-wrap">
      <table className="table" data-testid="ai-rows">
        <thead>
          <tr>{columns.map((c) => <th key={c}>{c}</th>)}</tr>
        </thead>
        <tbody>
          {rows.slice(0, 500).map((r, i) => (
            <tr key={i}>{r.map((v, j) => <td key={j} className={typeof v === "number" ? "num" : undefined}>{v === null ? "–" : typeof v === "object" ? JSON.stringify(v) : String(v)}</td>)}</tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function AskTab({ onSql }: { onSql: (sql: string) => void }) {
  const [question, setQuestion] = useState("");
  const [answer, setAnswer] = useState<AskAnswer | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const [history, setHistory] = useState<string[]>(loadHistory);

  const ask = async (q: string) => {
    const text = q.trim();
    if (!text) return;
    setQuestion(text);
    setBusy(true);
    setError(null);
    try {
      setAnswer(await postJson<AskAnswer>("/ask", { question: text }));
      const next = [text, ...history.filter((h) => h !== text)].slice(0, 20);
      setHistory(next);
      localStorage.setItem(HISTORY_KEY, JSON.stringify(next));
    } catch (e) {
      setError(e as ApiError);
    } finally {
      setBusy(false);
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void ask(question);
  };

  return (
    <div className="ai-ask">
      <div>
        <form className="ai-question" onSubmit={submit}>
          <input aria-label="Question" placeholder="Ask about your services, e.g. error rate by service in the last hour" value={question} onChange={(e) => setQuestion(e.target.value)} />
          <button className="primary" type="submit" disabled={busy}>{busy ? "Asking…" : "Ask"}</button>
        </form>
        <ErrorBox error={error} />
        {answer && (
          <div className="panel" data-testid="ai-answer">
            <div className="ai-answer-head">
              <span className={`badge ai-source-${answer.source}`}>{answer.source === "model" ? `model ${answer.model ?? ""}` : answer.source === "deterministic" ? "kokanee's parser" : "not answered"}</span>
              {answer.truncated && <span className="badge">rows cut off</span>}
            </div>
            <p className="ai-answer-text" data-testid="ai-answer-text">{answer.text}</p>
            {answer.sql && (
              <details open>
                <summary>SQL</summary>
                <pre className="ai-sql" data-testid="ai-sql">{answer.sql}</pre>
                <button onClick={() => onSql(answer.sql!)}>Edit in the SQL tab</button>
              </details>
            )}
            <ResultChart columns={answer.columns} rows={answer.rows} spec={answer.chart} />
            {answer.columns.length > 0 && <ResultTable columns={answer.columns} rows={answer.rows} />}
            {answer.attempts.length > 0 && (
              <details>
                <summary>Model attempts ({answer.attempts.length})</summary>
                <ul className="small">
                  {answer.attempts.map((a, i) => (
                    <li key={i}>{a.provider}/{a.model}: <strong>{a.outcome}</strong> {a.detail} ({Math.round(a.latency_ms)} ms)</li>
                  ))}
                </ul>
              </details>
            )}
          </div>
        )}
        {!answer && !error && (
          <div className="panel muted">
            Try:{" "}
            {EXAMPLES.map((q) => (
              <button key={q} className="ghost chip" onClick={() => void ask(q)}>{q}</button>
            ))}
          </div>
        )}
      </div>
      <aside className="panel ai-history" data-testid="ai-history">
        <h3>History</h3>
        {history.length === 0 && <div className="muted small">Questions you ask show up here.</div>}
        {history.map((h) => (
          <button key={h} className="ghost ai-history-item" onClick={() => void ask(h)}>{h}</button>
        ))}
      </aside>
    </div>
  );
}

function SqlTab({ sql, setSql }: { sql: string; setSql: (s: string) => void }) {
  const [result, setResult] = useState<QueryResult | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    setError(null);
    try {
      setResult(await postJson<QueryResult>("/query", { sql }));
    } catch (e) {
      setResult(null);
      setError(e as ApiError);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div>
      <div className="panel">
        <textarea className="ai-editor" aria-label="SQL" spellCheck={false} value={sql} onChange={(e) => setSql(e.target.value)}
          onKeyDown={(e) => { if ((e.ctrlKey || e.metaKey) && e.key === "Enter") void run(); }} />
        <div className="ai-editor-foot">
          <button className="primary" onClick={() => void run()} disabled={busy || !sql.trim()}>{busy ? "Running…" : "Run (Ctrl+Enter)"}</button>
          <span className="muted small">One read-only SELECT over otel_* and kokanee_* tables; limits are set by kokanee.</span>
        </div>
      </div>
      <ErrorBox error={error} />
      {result && (
        <div className="panel" data-testid="sql-result">
          <div className="muted small">{result.rows.length} rows{result.truncated ? " (cut off)" : ""}</div>
          <ResultChart columns={result.columns} rows={result.rows} spec={chooseChart(result.columns, result.rows)} />
          <ResultTable columns={result.columns} rows={result.rows} />
        </div>
      )}
    </div>
  );
}

export function Ask() {
  const { params } = useLocation();
  const tab = params.get("tab") === "sql" ? "sql" : "ask";
  const [sql, setSql] = useState("SELECT ServiceName, count() AS spans\nFROM otel_traces\nWHERE Timestamp >= now() - INTERVAL 1 HOUR\nGROUP BY ServiceName\nORDER BY spans DESC");
  return (
    <div>
      <div className="page-head">
        <h1>Ask</h1>
        <div className="ai-tabs" role="tablist">
          <button role="tab" aria-selected={tab === "ask"} className={tab === "ask" ? "primary" : ""} onClick={() => setParams({ tab: undefined })}>Question</button>
          <button role="tab" aria-selected={tab === "sql"} className={tab === "sql" ? "primary" : ""} onClick={() => setParams({ tab: "sql" })}>SQL</button>
        </div>
      </div>
      {tab === "ask" ? <AskTab onSql={(s) => { setSql(s); setParams({ tab: "sql" }); }} /> : <SqlTab sql={sql} setSql={setSql} />}
    </div>
  );
}
