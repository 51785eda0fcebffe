// "Explain": a narrative of a service, trace or incident written from the evidence kokanee
// gathered. A model's text arrives checked (unsupported sentences removed); without a model it is
// kokanee's template. Asked for on a click, not on page load: a model call costs time and tokens.
// Streamed: the evidence shows at once and a model's draft as it writes; the checked text replaces it.
import { useEffect, useRef, useState } from "react";
import { apiUrl } from "../api/client";
import { streamSse } from "../api/stream";
import type { EvidenceItem, Explanation } from "../api/types";
import { splitCitations } from "../lib/citations";
import { ErrorBox, Loading } from "./States";

type Params = Record<string, string | undefined>;
type Evidence = Omit<Explanation, "narrative">;

interface Run {
  evidence: Evidence | null;
  draft: string;
  narrative: Explanation["narrative"] | null;
  error: Error | null;
  running: boolean;
}

const IDLE: Run = { evidence: null, draft: "", narrative: null, error: null, running: false };

/** The narrative with each [E3] citation a chip that shows its evidence on hover. */
function Cited({ text, evidence }: { text: string; evidence: Map<string, EvidenceItem> }) {
  return (
    <p data-testid="explain-text">
      {splitCitations(text).map((piece, i) =>
        "text" in piece ? (
          <span key={i}>{piece.text}</span>
        ) : (
          piece.cites.map((id) => (
            <a key={`${i}-${id}`} href={`#evidence-${id}`} className="chip cite" title={evidence.get(id)?.title ?? "not in the evidence"}>
              {id}
            </a>
          ))
        ),
      )}
    </p>
  );
}

function facts(item: EvidenceItem): string {
  return Object.entries(item.facts)
    .filter(([, v]) => v !== null && v !== "" && typeof v !== "object")
    .map(([k, v]) => `${k.replace(/_/g, " ")}: ${String(v)}`)
    .join(" · ");
}

export function ExplainPanel({ path, params = {}, what }: { path: string; params?: Params; what: string }) {
  const [run, setRun] = useState<Run>(IDLE);
  const abort = useRef<AbortController | null>(null);
  useEffect(() => () => abort.current?.abort(), []);

  const ask = () => {
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    setRun({ ...IDLE, running: true });
    const update = (change: Partial<Run>) => {
      if (!controller.signal.aborted) setRun((r) => ({ ...r, ...change }));
    };
    streamSse(
      apiUrl(path, { ...params, stream: "true" }),
      ({ event, data }) => {
        const body = JSON.parse(data) as Record<string, unknown>;
        if (event === "evidence") update({ evidence: body as unknown as Evidence });
        else if (event === "delta") setRun((r) => (controller.signal.aborted ? r : { ...r, draft: r.draft + String(body.text ?? "") }));
        else if (event === "narrative") update({ narrative: body as unknown as Explanation["narrative"] });
        else if (event === "error") update({ error: new Error(String(body.error ?? "the explanation failed")) });
      },
      controller.signal,
    )
      .then(() => setRun((r) => (r.narrative || r.error || controller.signal.aborted ? r : { ...r, error: new Error("the explanation stream ended early") })))
      .catch((err: Error) => update({ error: err }))
      .finally(() => update({ running: false }));
  };

  const asked = run !== IDLE;
  const byId = new Map((run.evidence?.evidence ?? []).map((item) => [item.id, item]));
  return (
    <div className="panel" data-testid="explain-panel">
      <div className="page-head">
        <h2>Explanation</h2>
        <button type="button" onClick={ask} disabled={run.running} data-testid="explain-button">
          {asked ? "Explain again" : `Explain this ${what}`}
        </button>
      </div>
      {!asked ? <p className="muted small">A short account of this {what} from its RED, anomalies, causes and critical path, each sentence citing its evidence.</p> : null}
      <ErrorBox error={run.error} />
      {run.running && !run.narrative && !run.draft ? <Loading what="the explanation" /> : null}
      {run.running && !run.narrative && run.draft ? (
        <p className="muted" data-testid="explain-draft" title="the model's draft, checked against the evidence when it is done">
          {run.draft}
        </p>
      ) : null}
      {run.narrative ? (
        <>
          <Cited text={run.narrative.text} evidence={byId} />
          <div className="muted small" data-testid="explain-source">
            {run.narrative.source === "model"
              ? `Written by ${run.narrative.model ?? "a model"}; every number and name was checked against the evidence.`
              : "Written by kokanee from the evidence (no model configured, or the model's text could not be supported)."}
            {run.narrative.removed.length ? ` ${run.narrative.removed.length} unsupported sentence(s) removed.` : ""}
          </div>
          {run.narrative.removed.length ? (
            <details className="small">
              <summary>Removed sentences</summary>
              <ul>{run.narrative.removed.map((c, i) => <li key={i}><s>{c.sentence}</s> <span className="muted">({c.problems.join("; ")})</span></li>)}</ul>
            </details>
          ) : null}
        </>
      ) : null}
      {run.evidence ? (
        <details className="small" data-testid="explain-evidence">
          <summary>Evidence ({run.evidence.evidence.length})</summary>
          <ul className="evidence">
            {run.evidence.evidence.map((item) => (
              <li key={item.id} id={`evidence-${item.id}`}>
                <strong>{item.id}</strong> {item.title} <span className="muted mono">{facts(item)}</span>
              </li>
            ))}
          </ul>
          {run.evidence.notes.length ? <div className="muted">{run.evidence.notes.join(" ")}</div> : null}
        </details>
      ) : null}
    </div>
  );
}
