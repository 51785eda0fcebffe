// Architecture review: the detectors' findings over sampled traces, ranked, with evidence and
// sample traces to open.
import { useApi } from "../api/client";
import { href, Link } from "../app/router";
import { Guard } from "../components/States";

interface Finding {
  kind: string;
  title: string;
  subject: string;
  score: number;
  severity: "high" | "medium" | "low";
  traces_affected: number;
  evidence: Record<string, unknown>;
  sample_traces: string[];
}

interface ReviewReport {
  narrative: { source: string; text: string; model?: string };
  traces_reviewed: number;
  findings: Finding[];
  summary: Record<string, number>;
}

const KIND_LABELS: Record<string, string> = {
  n_plus_one: "N+1 calls",
  chatty_edge: "Chatty edge",
  deep_chain: "Deep sync chain",
  fan_out: "Wide fan-out",
  retry_storm: "Retry storm",
  long_tail: "Long tail",
  single_point_of_failure: "Single point of failure",
  error_rethrown: "Errors re-thrown",
  error_swallowed: "Errors swallowed",
};

export function Review() {
  const report = useApi<ReviewReport>("/review");
  return (
    <div>
      <div className="page-head"><h1>Architecture review</h1></div>
      <Guard query={report} what="the review" isEmpty={(r) => r.traces_reviewed === 0}>
        {(r) => (
          <>
            <div className="panel">
              {r.traces_reviewed} traces reviewed; {r.findings.length} findings.{" "}
              {Object.entries(r.summary).map(([k, n]) => (
                <span key={k} className="chip">{KIND_LABELS[k] ?? k}: {n}</span>
              ))}
              <p data-testid="review-narrative">{r.narrative.text}</p>
              <div className="muted small">{r.narrative.source === "model" ? `Written by ${r.narrative.model ?? "a model"}, checked against the findings.` : "Recommendations by kokanee; [E1] refers to the first finding below."}</div>
            </div>
            <div className="panel">
              <table className="table" data-testid="review-findings">
                <thead>
                  <tr><th>Severity</th><th>Finding</th><th>Kind</th><th className="num">Traces</th><th className="num">Score</th><th>Evidence</th><th>Sample traces</th></tr>
                </thead>
                <tbody>
                  {r.findings.map((f) => (
                    <tr key={`${f.kind}/${f.subject}`}>
                      <td><span className={`badge ai-severity-${f.severity}`}>{f.severity}</span></td>
                      <td>{f.title}</td>
                      <td className="nowrap">{KIND_LABELS[f.kind] ?? f.kind}</td>
                      <td className="num">{f.traces_affected}</td>
                      <td className="num">{f.score}</td>
                      <td className="small mono">{Object.entries(f.evidence).map(([k, v]) => `${k}: ${String(v)}`).join(", ")}</td>
                      <td className="nowrap">
                        {f.sample_traces.map((t) => (
                          <Link key={t} to={href(`/traces/${t}`)} className="mono trace-link">{t.slice(0, 8)} </Link>
                        ))}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </>
        )}
      </Guard>
    </div>
  );
}
