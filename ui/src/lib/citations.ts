// Narratives cite evidence as [E3] or [E1, E4]: split a text into prose and lists of cited ids.
export type Piece = { text: string } | { cites: string[] };

const CITATION = /\[(E\d+(?:\s*,\s*E\d+)*)\]/g;

export function splitCitations(text: string): Piece[] {
  const out: Piece[] = [];
  let last = 0;
  for (const m of text.matchAll(CITATION)) {
    const at = m.index ?? 0;
    if (at > last) out.push({ text: text.slice(last, at) });
    out.push({ cites: (m[1] ?? "").split(/\s*,\s*/) });
    last = at + m[0].length;
  }
  if (last < text.length) out.push({ text: text.slice(last) });
  return out;
}
