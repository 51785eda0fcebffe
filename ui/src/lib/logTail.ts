// Live tail of log records: which window to ask for next, and how new records join those shown.
//
// Each poll asks from a little before the newest record shown (TAIL_OVERLAP_NS), not from just
// after it: exporters batch, so a record can be stored seconds after a newer one from another
// service, and a poll starting after the newest would skip it for good. Records seen twice in
// the overlap are recognised by their exact time (the RFC 3339 text: `time_unix_nano` is a JS
// number and loses nanoseconds past 2^53), service, span and body.
import type { LogRecord } from "../api/types";

export const TAIL_MAX = 1000;
export const TAIL_POLL_MS = 2000;
export const TAIL_OVERLAP_NS = 5_000_000_000n;
/** Where a tail starts when nothing is shown yet (the API's relative time). */
export const TAIL_FIRST_START = "now-5m";

/** Unix ns of an RFC 3339 time (fractions of up to nine digits), exactly. */
export function rfc3339Ns(text: string): bigint {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/i.exec(text);
  if (!m) throw new Error(`not an RFC 3339 time: ${text}`);
  const ms = Date.parse(`${m[1]}${m[3]!.toUpperCase()}`);
  if (Number.isNaN(ms)) throw new Error(`not an RFC 3339 time: ${text}`);
  return BigInt(ms) * 1_000_000n + BigInt(((m[2] ?? "") + "000000000").slice(0, 9));
}

/** The next poll's `start` (Unix ns as text, which the API takes as is), given the rows shown
 * newest first. */
export function tailStart(shown: readonly LogRecord[], overlapNs = TAIL_OVERLAP_NS): string {
  const newest = shown[0];
  return newest ? String(rfc3339Ns(newest.timestamp) - overlapNs) : TAIL_FIRST_START;
}

const key = (r: LogRecord): string => `${r.timestamp}\u0000${r.service_name}\u0000${r.span_id}\u0000${r.body}`;

/** `shown` with the records of `incoming` it lacks, newest first, at most `max`; `added` counts
 * the records that were new. Neither input is changed. */
export function mergeTail(
  shown: readonly LogRecord[],
  incoming: readonly LogRecord[],
  max = TAIL_MAX,
): { rows: LogRecord[]; added: number } {
  const seen = new Set(shown.map(key));
  const fresh = incoming.filter((r) => !seen.has(key(r)));
  if (fresh.length === 0) return { rows: shown.slice(0, max), added: 0 };
  // RFC 3339 in UTC with nine fraction digits (as the API writes it) sorts as text.
  const rows = [...fresh, ...shown].sort((a, b) => (a.timestamp < b.timestamp ? 1 : a.timestamp > b.timestamp ? -1 : 0));
  return { rows: rows.slice(0, max), added: fresh.length };
}
