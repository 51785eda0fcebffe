// Critical-path highlighting: which spans the root waited on, where on each bar, and their shares.
import { barGeometry, type Bounds } from "./waterfall";

export interface Segment {
  span_id: string;
  service: string;
  start_time_unix_nano: number;
  end_time_unix_nano: number;
}

export interface Highlight {
  /** Parts of the span's bar on the critical path, as fractions of the trace. */
  marks: { left: number; width: number }[];
  /** Time on the path (ns) over the path's total. */
  share: number;
  pathNs: number;
}

export interface ServiceShare {
  service: string;
  ns: number;
  share: number;
}

/** Per span on the path: its marks on the waterfall and its share of the path. */
export function highlights(segments: readonly Segment[], bounds: Bounds, totalNs?: number): Map<string, Highlight> {
  const total = totalNs ?? sumNs(segments);
  const out = new Map<string, Highlight>();
  for (const seg of segments) {
    const ns = Math.max(0, seg.end_time_unix_nano - seg.start_time_unix_nano);
    const h = out.get(seg.span_id) ?? { marks: [], share: 0, pathNs: 0 };
    h.marks.push(barGeometry(seg.start_time_unix_nano, seg.end_time_unix_nano, bounds, 0.001));
    h.pathNs += ns;
    h.share = total > 0 ? h.pathNs / total : 0;
    out.set(seg.span_id, h);
  }
  return out;
}

/** Services by their time on the path, largest first; shares sum to 1 when the path has time. */
export function serviceShares(segments: readonly Segment[]): ServiceShare[] {
  const byService = new Map<string, number>();
  for (const seg of segments) {
    const ns = Math.max(0, seg.end_time_unix_nano - seg.start_time_unix_nano);
    byService.set(seg.service, (byService.get(seg.service) ?? 0) + ns);
  }
  const total = sumNs(segments);
  return [...byService.entries()]
    .map(([service, ns]) => ({ service, ns, share: total > 0 ? ns / total : 0 }))
    .sort((a, b) => b.ns - a.ns || a.service.localeCompare(b.service));
}

function sumNs(segments: readonly Segment[]): number {
  return segments.reduce((acc, s) => acc + Math.max(0, s.end_time_unix_nano - s.start_time_unix_nano), 0);
}
