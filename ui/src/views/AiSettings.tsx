// AI settings: the providers kokanee may call and each task's model route, edited here and saved
// on the server (PUT /api/v1/ai/config), where they win over --ai-config and the environment until
// "Revert to file/env". Keys are write-only: a blank key field keeps the stored one.
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { postJson, sendJson, useApi } from "../api/client";
import { href, Link } from "../app/router";
import { ErrorBox, Guard } from "../components/States";
import { Can } from "../app/auth";

const TASKS = ["default", "analysis", "sql", "summary", "dashboard", "naming"];
const SOURCES: Record<string, string> = {
  ui: "settings saved on this page",
  file: "the --ai-config file",
  env: "environment variables (KOKANEE_OPENAI_* / KOKANEE_ANTHROPIC_*)",
  none: "nothing: no model is configured",
};

interface SavedProvider { kind: string; base_url: string; api_key_env: string; timeout_s: number; max_retries: number }
interface SavedTask { models: string[]; max_tokens: number; budget_tokens_per_day: number | null; budget_usd_per_day: number | null }
interface Settings { providers: Record<string, SavedProvider>; tasks: Record<string, SavedTask>; prices: Record<string, unknown>; repairs: number }
export interface AiConfigBody {
  configured: boolean;
  source: "ui" | "file" | "env" | "none";
  providers: { name: string; has_key: boolean }[];
  settings: Settings;
}

interface ProviderRow { id: number; name: string; kind: string; base_url: string; api_key_env: string; api_key: string; has_key: boolean; timeout_s: string; max_retries: string }
interface TaskRow { task: string; models: string; max_tokens: string; budget_tokens_per_day: string; budget_usd_per_day: string }
interface Form { providers: ProviderRow[]; tasks: TaskRow[]; repairs: string; prices: Record<string, unknown> }

let nextId = 1;
const str = (v: number | null | undefined) => (v === null || v === undefined ? "" : String(v));

function toForm(c: AiConfigBody): Form {
  const keyed = new Set(c.providers.filter((p) => p.has_key).map((p) => p.name));
  return {
    providers: Object.entries(c.settings.providers).map(([name, p]) => ({
      id: nextId++, name, kind: p.kind, base_url: p.base_url, api_key_env: p.api_key_env, api_key: "", has_key: keyed.has(name),
      timeout_s: str(p.timeout_s), max_retries: str(p.max_retries),
    })),
    tasks: TASKS.map((task) => {
      const t = c.settings.tasks[task];
      return {
        task, models: t ? t.models.join(", ") : "", max_tokens: str(t?.max_tokens),
        budget_tokens_per_day: str(t?.budget_tokens_per_day), budget_usd_per_day: str(t?.budget_usd_per_day),
      };
    }),
    repairs: str(c.settings.repairs),
    prices: c.settings.prices,
  };
}

/** The PUT body: blank fields are left out (the server's defaults apply), a blank key keeps the stored one. */
function toBody(f: Form): Record<string, unknown> {
  const num = (v: string) => (v.trim() === "" ? undefined : Number(v));
  const providers: Record<string, unknown> = {};
  for (const p of f.providers) {
    providers[p.name.trim()] = {
      kind: p.kind, base_url: p.base_url.trim(), api_key_env: p.api_key_env.trim(),
      ...(p.api_key ? { api_key: p.api_key } : {}),
      timeout_s: num(p.timeout_s), max_retries: num(p.max_retries),
    };
  }
  const tasks: Record<string, unknown> = {};
  for (const t of f.tasks) {
    const models = t.models.split(",").map((m) => m.trim()).filter(Boolean);
    if (!models.length) continue; // no models: the task follows the default route
    tasks[t.task] = {
      models, max_tokens: num(t.max_tokens),
      budget_tokens_per_day: num(t.budget_tokens_per_day) ?? null, budget_usd_per_day: num(t.budget_usd_per_day) ?? null,
    };
  }
  return { providers, tasks, prices: f.prices, repairs: num(f.repairs) };
}

function ProviderTest({ provider, model }: { provider: string; model: string | undefined }) {
  const [result, setResult] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  if (!model) return <span className="muted small">no route uses it</span>;
  const run = async () => {
    setBusy(true);
    try {
      const r = await postJson<{ ok: boolean; error?: string; latency_ms: number }>("ai/config/test", { provider, model });
      setResult(r.ok ? `ok in ${r.latency_ms} ms` : `failed: ${r.error}`);
    } catch (e) {
      setResult(`failed: ${(e as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span>
      <Can role="admin"><button type="button" className="ghost" disabled={busy} onClick={() => void run()} data-testid={`ai-provider-test-${provider}`}>Test {model}</button>{" "}</Can>
      {result && <span className="small" data-testid={`ai-provider-test-result-${provider}`}>{result}</span>}
    </span>
  );
}

function Editor({ config }: { config: AiConfigBody }) {
  const [form, setForm] = useState<Form>(() => toForm(config));
  const [saved, setSaved] = useState(config);
  const [error, setError] = useState<Error | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const client = useQueryClient();
  useEffect(() => {
    setForm(toForm(config));
    setSaved(config);
  }, [config]);

  const setProvider = (id: number, patch: Partial<ProviderRow>) =>
    setForm((f) => ({ ...f, providers: f.providers.map((p) => (p.id === id ? { ...p, ...patch } : p)) }));
  const setTask = (task: string, patch: Partial<TaskRow>) =>
    setForm((f) => ({ ...f, tasks: f.tasks.map((t) => (t.task === task ? { ...t, ...patch } : t)) }));
  const addProvider = () =>
    setForm((f) => ({
      ...f,
      providers: [...f.providers, { id: nextId++, name: "", kind: "openai", base_url: "", api_key_env: "", api_key: "", has_key: false, timeout_s: "", max_retries: "" }],
    }));
  const removeProvider = (id: number) => setForm((f) => ({ ...f, providers: f.providers.filter((p) => p.id !== id) }));

  const act = async (what: "save" | "revert") => {
    setError(null);
    setNotice(null);
    setBusy(true);
    try {
      const next = what === "save" ? await sendJson<AiConfigBody>("PUT", "ai/config", toBody(form)) : await sendJson<AiConfigBody>("DELETE", "ai/config");
      setForm(toForm(next));
      setSaved(next);
      setNotice(what === "save" ? "Saved: the next model call uses these settings." : `Reverted: now using ${SOURCES[next.source]}.`);
      await client.invalidateQueries({ queryKey: ["/ai/config"] });
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void act("save");
  };
  const firstModel = (provider: string) =>
    form.tasks.flatMap((t) => t.models.split(",").map((m) => m.trim())).find((m) => m.startsWith(`${provider}/`))?.slice(provider.length + 1);
  const savedNames = new Set(Object.keys(saved.settings.providers));

  return (
    <form onSubmit={submit} data-testid="ai-settings-form">
      <div className="panel" data-testid="ai-settings-source">
        In use: <strong>{SOURCES[saved.source]}</strong>.{" "}
        <span className="muted">
          Settings saved here win over <code>--ai-config</code> and the environment until you revert. Prefer an environment variable
          name for keys; a key typed here is stored on the server and never shown again.
        </span>
      </div>

      <div className="panel">
        <h3>Providers</h3>
        <table className="table" data-testid="ai-settings-providers">
          <thead>
            <tr><th>Name</th><th>Protocol</th><th>Base URL</th><th>Key env var</th><th>API key</th><th>Timeout s</th><th>Retries</th><th /></tr>
          </thead>
          <tbody>
            {form.providers.map((p, i) => (
              <tr key={p.id} data-testid="ai-provider-row">
                <td><input aria-label="Provider name" value={p.name} placeholder="local" onChange={(e) => setProvider(p.id, { name: e.target.value })} data-testid={`ai-provider-name-${i}`} style={{ width: 110 }} /></td>
                <td>
                  <select aria-label="Protocol" value={p.kind} onChange={(e) => setProvider(p.id, { kind: e.target.value })} data-testid={`ai-provider-kind-${i}`}>
                    <option value="openai">openai</option>
                    <option value="anthropic">anthropic</option>
                  </select>
                </td>
                <td>
                  <input aria-label="Base URL" value={p.base_url} onChange={(e) => setProvider(p.id, { base_url: e.target.value })} data-testid={`ai-provider-url-${i}`} style={{ width: 220 }}
                    placeholder={p.kind === "openai" ? "http://127.0.0.1:8000/v1" : "default"} />
                </td>
                <td><input aria-label="Key environment variable" value={p.api_key_env} placeholder="LOCAL_KEY" onChange={(e) => setProvider(p.id, { api_key_env: e.target.value })} data-testid={`ai-provider-key-env-${i}`} style={{ width: 130 }} /></td>
                <td>
                  <input type="password" autoComplete="new-password" aria-label="API key" value={p.api_key} onChange={(e) => setProvider(p.id, { api_key: e.target.value })}
                    placeholder={p.has_key ? "set (blank keeps it)" : "none"} data-testid={`ai-provider-key-${i}`} style={{ width: 150 }} />
                </td>
                <td><input aria-label="Timeout seconds" inputMode="decimal" value={p.timeout_s} placeholder="60" onChange={(e) => setProvider(p.id, { timeout_s: e.target.value })} data-testid={`ai-provider-timeout-${i}`} style={{ width: 60 }} /></td>
                <td><input aria-label="Retries" inputMode="numeric" value={p.max_retries} placeholder="2" onChange={(e) => setProvider(p.id, { max_retries: e.target.value })} data-testid={`ai-provider-retries-${i}`} style={{ width: 50 }} /></td>
                <td className="nowrap">
                  {savedNames.has(p.name) && <ProviderTest provider={p.name} model={firstModel(p.name)} />}{" "}
                  <button type="button" className="ghost" onClick={() => removeProvider(p.id)} data-testid={`ai-provider-remove-${i}`}>Remove</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <button type="button" onClick={addProvider} data-testid="ai-provider-add">Add provider</button>
      </div>

      <div className="panel">
        <h3>Task routes</h3>
        <p className="muted small">
          Models as <code>provider/model</code>, comma-separated, tried in order; past the last (or a budget), kokanee answers with its own
          analysis. A task without models follows <code>default</code>.
        </p>
        <table className="table" data-testid="ai-settings-tasks">
          <thead>
            <tr><th>Task</th><th>Models</th><th className="num">Max tokens</th><th className="num">Tokens/day</th><th className="num">USD/day</th></tr>
          </thead>
          <tbody>
            {form.tasks.map((t) => (
              <tr key={t.task} data-testid={`ai-task-${t.task}`}>
                <td>{t.task}</td>
                <td><input aria-label={`Models for ${t.task}`} size={40} value={t.models} placeholder={t.task === "default" ? "local/qwen2.5-7b" : "(default route)"}
                  onChange={(e) => setTask(t.task, { models: e.target.value })} data-testid={`ai-task-models-${t.task}`} /></td>
                <td className="num"><input aria-label={`Max tokens for ${t.task}`} inputMode="numeric" size={6} value={t.max_tokens} placeholder="1024"
                  onChange={(e) => setTask(t.task, { max_tokens: e.target.value })} data-testid={`ai-task-max-tokens-${t.task}`} /></td>
                <td className="num"><input aria-label={`Daily token budget for ${t.task}`} inputMode="numeric" size={8} value={t.budget_tokens_per_day} placeholder="none"
                  onChange={(e) => setTask(t.task, { budget_tokens_per_day: e.target.value })} data-testid={`ai-task-budget-tokens-${t.task}`} /></td>
                <td className="num"><input aria-label={`Daily USD budget for ${t.task}`} inputMode="decimal" size={6} value={t.budget_usd_per_day} placeholder="none"
                  onChange={(e) => setTask(t.task, { budget_usd_per_day: e.target.value })} data-testid={`ai-task-budget-usd-${t.task}`} /></td>
              </tr>
            ))}
          </tbody>
        </table>
        <label className="field" style={{ marginTop: 10, maxWidth: 360 }}>
          <span>SQL repairs (times a refused query goes back to the model, 0–3)</span>
          <input aria-label="SQL repairs" inputMode="numeric" size={3} value={form.repairs} onChange={(e) => setForm((f) => ({ ...f, repairs: e.target.value }))} data-testid="ai-repairs" />
        </label>
      </div>

      <ErrorBox error={error} />
      {notice && <div className="state muted" data-testid="ai-settings-notice">{notice}</div>}
      <Can role="admin">
      <div className="chips">
        <button type="submit" className="primary" disabled={busy} data-testid="ai-settings-save">Save</button>
        <button type="button" disabled={busy || saved.source !== "ui"} onClick={() => void act("revert")} data-testid="ai-settings-revert"
          title={saved.source === "ui" ? "Forget the settings saved here" : "Nothing is saved here"}>
          Revert to file/env
        </button>
        <button type="button" className="ghost" disabled={busy} onClick={() => setForm(toForm(saved))}>Discard changes</button>
      </div>
      </Can>
    </form>
  );
}

export function AiSettings() {
  const config = useApi<AiConfigBody>("/ai/config", {}, { windowed: false });
  return (
    <div>
      <div className="page-head">
        <h1>AI settings</h1>
        <div className="actions"><Link to={href("/ai")}>AI interactions</Link></div>
      </div>
      <Guard query={config} what="AI settings" hint={false}>
        {(c) => <Editor config={c} />}
      </Guard>
    </div>
  );
}
