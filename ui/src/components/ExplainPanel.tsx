// "Explain": a narrative of a service, trace or incident written from the evidence kokanee
// gathered. A model's text arrives checked (unsupported sentences removed); without a model it is
// kokanee's template. Asked for on a click, not on page load: a model call costs time and tokens.
import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { getJson, type ApiError } from "../api/client";
import type { EvidenceItem, Explanation } from "../api/types";
import { splitCitations } from "../lib/citations";
import { ErrorBox, Loading } from "./States";

type Params = Record<string, string | undefined>;

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
  const [asked, setAsked] = useState(false);
  const query = useQuery<Explanation, ApiError>({
    queryKey: ["explain", path, params],
    queryFn: () => getJson<Explanation>(path, params),
    enabled: asked,
    staleTime: Infinity,
  });
  const e = query.data;
  const byId = new Map((e?.evidence ?? []).map((item) => [item.id, item]));
  return (
    <div className="panel" data-testid="explain-panel">
      <div className="page-head">
        <h2>Explanation</h2>
        <button type="button" onClick={() => (asked ? void query.refetch() : setAsked(true))} disabled={query.isFetching} data-testid="explain-button">
          {asked ? "Explain again" : `Explain this ${what}`}
        </button>
      </div>
      {!asked ? <p className="muted small">A short account of this {what} from its RED, anomalies, causes and critical path, each sentence citing its evidence.</p> : null}
      <ErrorBox error={query.error} />
      {query.isFetching && !e ? <Loading what="the explanation" /> : null}
      {e ? (
        <>
          <Cited text={e.narrative.text} evidence={byId} />
          <div className="muted small" data-testid="explain-source">
            {e.narrative.source === "model"
              ? `Written by ${e.narrative.model ?? "a model"}; every number and name was checked against the evidence.`
              : "Written by kokanee from the evidence (no model configured, or the model's text could not be supported)."}
            {e.narrative.removed.length ? ` ${e.narrative.removed.length} unsupported sentence(s) removed.` : ""}
          </div>
          {e.narrative.removed.length ? (
            <details className="small">
              <summary>Removed sentences</summary>
              <ul>{e.narrative.removed.map((c, i) => <li key={i}><s>{c.sentence}</s> <span className="muted">({c.problems.join("; ")})</span></li>)}</ul>
            </details>
          ) : null}
          <details className="small" data-testid="explain-evidence">
            <summary>Evidence ({e.evidence.length})</summary>
            <ul className="evidence">
              {e.evidence.map((item) => (
                <li key={item.id} id={`evidence-${item.id}`}>
                  <strong>{item.id}</strong> {item.title} <span className="muted mono">{facts(item)}</span>
                </li>
              ))}
            </ul>
            {e.notes.length ? <div className="muted">{e.notes.join(" ")}</div> : null}
          </details>
        </>
      ) : null}
    </div>
  );
}
