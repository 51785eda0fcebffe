// AI interactions: every model call (and kokanee's own fallback answers) with prompt, reply,
// latency, tokens, cost and outcome; per-model comparison; the configured providers and routes
// (edited on the AI settings page, /ai/settings).
import { Fragment, useState } from "react";
import { useApi } from "../api/client";
import { href, Link } from "../app/router";
import { Guard } from "../components/States";

interface Interaction {
  at_unix_ms: number;
  id: string;
  conversation_id: string;
  task: string;
  provider: string;
  model: string;
  prompt: string;
  response: string;
  latency_ms: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  outcome: string;
  detail: string;
}

interface ModelRow {
  task: string;
  provider: string;
  model: string;
  calls: number;
  ok: number;
  rejected: number;
  failed: number;
  success_rate: number;
  p50_latency_ms: number;
  p95_latency_ms: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

interface AiConfig {
  configured: boolean;
  source: "ui" | "file" | "env" | "none";
  providers: { name: string; kind: string; base_url: string; has_key: boolean }[];
  tasks: { task: string; models: string[]; max_tokens: number; budget_tokens_per_day: number | null; budget_usd_per_day: number | null; tokens_today: number; cost_usd_today: number }[];
}

const SOURCE: Record<string, string> = {
  ui: "settings saved on the AI settings page",
  file: "the --ai-config file",
  env: "environment variables",
  none: "nothing configured",
};

function Settings() {
  const config = useApi<AiConfig>("/ai/config", {}, { windowed: false });
  return (
    <Guard query={config} what="AI settings" hint={false}>
      {(c) => (
        <div className="panel" data-testid="ai-config">
          <h3>Providers and routes</h3>
          <p className="muted small">
            From {SOURCE[c.source] ?? c.source}.{" "}
            <Link to={href("/ai/settings")} data-testid="ai-settings-link">Edit AI settings</Link>
          </p>
          {!c.configured && (
            <p className="muted">
              No model is configured: kokanee answers with its own analysis. Add a provider on the{" "}
              <Link to={href("/ai/settings")}>AI settings</Link> page, start the server with <code>--ai-config FILE</code>, or
              set <code>KOKANEE_OPENAI_BASE_URL</code> (any OpenAI-compatible server) or <code>KOKANEE_ANTHROPIC_API_KEY</code>.
            </p>
          )}
          {c.providers.length > 0 && (
            <table className="table">
              <thead><tr><th>Provider</th><th>Protocol</th><th>Base URL</th><th>Key</th></tr></thead>
              <tbody>
                {c.providers.map((p) => (
                  <tr key={p.name}><td>{p.name}</td><td>{p.kind}</td><td className="mono small">{p.base_url || "default"}</td><td>{p.has_key ? "set" : "none"}</td></tr>
                ))}
              </tbody>
            </table>
          )}
          <table className="table">
            <thead><tr><th>Task</th><th>Models, in order</th><th className="num">Tokens today</th><th className="num">Budget (tokens/day)</th><th className="num">Cost today</th></tr></thead>
            <tbody>
              {c.tasks.map((t) => (
                <tr key={t.task}>
                  <td>{t.task}</td>
                  <td>{t.models.length ? `${t.models.join(" → ")} → kokanee` : <span className="muted">kokanee's own analysis</span>}</td>
                  <td className="num">{t.tokens_today}</td>
                  <td className="num">{t.budget_tokens_per_day ?? "–"}</td>
                  <td className="num">${t.cost_usd_today.toFixed(4)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Guard>
  );
}

function Comparison() {
  const models = useApi<{ models: ModelRow[] }>("/ai/models", {}, { windowed: false });
  return (
    <Guard query={models} what="model comparison" isEmpty={(d) => d.models.length === 0} empty={<>No model calls recorded yet.</>} hint={false}>
      {(d) => (
        <div className="panel">
          <h3>Models compared</h3>
          <table className="table" data-testid="ai-models">
            <thead>
              <tr><th>Task</th><th>Model</th><th className="num">Calls</th><th className="num">OK</th><th className="num">Rejected</th><th className="num">Failed</th><th className="num">p50 ms</th><th className="num">p95 ms</th><th className="num">Tokens in/out</th><th className="num">Cost</th></tr>
            </thead>
            <tbody>
              {d.models.map((m) => (
                <tr key={`${m.task}/${m.provider}/${m.model}`}>
                  <td>{m.task}</td><td>{m.provider}/{m.model}</td><td className="num">{m.calls}</td>
                  <td className="num">{(m.success_rate * 100).toFixed(0)}%</td><td className="num">{m.rejected}</td><td className="num">{m.failed}</td>
                  <td className="num">{m.p50_latency_ms}</td><td className="num">{m.p95_latency_ms}</td>
                  <td className="num">{m.input_tokens}/{m.output_tokens}</td><td className="num">${m.cost_usd.toFixed(4)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Guard>
  );
}

export function AiInteractions() {
  const [task, setTask] = useState("");
  const list = useApi<{ interactions: Interaction[] }>("/ai/interactions", { task, limit: 200 }, { windowed: false });
  const [open, setOpen] = useState<string | null>(null);
  return (
    <div>
      <div className="page-head">
        <h1>AI interactions</h1>
        <label className="field">
          <span>Task</span>
          <select aria-label="Task" value={task} onChange={(e) => setTask(e.target.value)}>
            {["", "sql", "analysis", "summary", "dashboard", "naming"].map((t) => <option key={t} value={t}>{t || "all"}</option>)}
          </select>
        </label>
      </div>
      <Settings />
      <Comparison />
      <Guard query={list} what="interactions" isEmpty={(d) => d.interactions.length === 0} empty={<>No interactions yet: ask a question on the Ask page.</>} hint={false}>
        {(d) => (
          <div className="panel">
            <table className="table" data-testid="ai-interactions">
              <thead>
                <tr><th>When</th><th>Task</th><th>Model</th><th>Outcome</th><th className="num">Latency ms</th><th className="num">Tokens</th><th>Detail</th></tr>
              </thead>
              <tbody>
                {d.interactions.map((i) => (
                  <Fragment key={i.id}>
                    <tr className="log-row" onClick={() => setOpen(open === i.id ? null : i.id)}>
                      <td className="nowrap small">{new Date(i.at_unix_ms).toLocaleString()}</td>
                      <td>{i.task}</td>
                      <td>{i.provider}/{i.model}</td>
                      <td><span className={`badge ai-outcome-${i.outcome}`}>{i.outcome}</span></td>
                      <td className="num">{i.latency_ms}</td>
                      <td className="num">{i.input_tokens + i.output_tokens}</td>
                      <td className="small">{i.detail.slice(0, 120)}</td>
                    </tr>
                    {open === i.id && (
                      <tr className="log-detail">
                        <td colSpan={7}>
                          <div className="grid2">
                            <div><h4>Prompt</h4><pre className="ai-pre">{i.prompt}</pre></div>
                            <div><h4>Response</h4><pre className="ai-pre">{i.response || "(none)"}</pre></div>
                          </div>
                        </td>
                      </tr>
                    )}
                  </Fragment>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Guard>
    </div>
  );
}
