// The time range and auto-refresh shared by every view, read from the URL: relative
// (?range=1h&refresh=30s) or absolute (?start=2026-11-22T08:00:00.000Z&end=..., which never refreshes).
import { setParams, useLocation } from "./router";

export const RANGES = ["15m", "30m", "1h", "3h", "6h", "12h", "24h", "2d", "7d"] as const;
export const REFRESHES = ["off", "10s", "30s", "1m", "5m"] as const;
export const DEFAULT_RANGE = "15m";
export const DEFAULT_REFRESH = "30s";

export const CUSTOM = "custom";

export interface TimeRange {
  /** A relative range such as 15m, or "custom" for an absolute one. */
  range: string;
  /** The API's start: relative (now-15m) or RFC 3339. */
  start: string;
  /** The API's end (RFC 3339) for an absolute range; absent means now. */
  end?: string;
  /** Auto-refresh period in ms, or false. */
  refreshMs: number | false;
  refresh: string;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function durationMs(text: string): number | null {
  const m = /^(\d+)([smhd])$/.exec(text);
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : null;
}

function isoOrNull(text: string | null): string | null {
  if (!text) return null;
  const t = Date.parse(text);
  return Number.isNaN(t) ? null : new Date(t).toISOString();
}

export function useTimeRange(): TimeRange {
  const { params } = useLocation();
  const start = isoOrNull(params.get("start"));
  const end = isoOrNull(params.get("end"));
  if (start && end && start < end) return { range: CUSTOM, start, end, refreshMs: false, refresh: "off" };
  const rawRange = params.get("range") ?? DEFAULT_RANGE;
  const range = durationMs(rawRange) ? rawRange : DEFAULT_RANGE;
  const refresh = params.get("refresh") ?? DEFAULT_REFRESH;
  const ms = refresh === "off" ? null : durationMs(refresh);
  return { range, start: `now-${range}`, refreshMs: ms ?? false, refresh: ms ? refresh : "off" };
}

export function setRange(range: string): void {
  if (range === CUSTOM) {
    // Start from the last hour, to be edited in the date fields.
    const end = new Date();
    const start = new Date(end.getTime() - 3_600_000);
    setParams({ start: start.toISOString(), end: end.toISOString(), refresh: "off" }, false);
  } else {
    setParams({ range, start: null, end: null }, false);
  }
}

/** Sets one end of an absolute range from a datetime-local value (the browser's time zone). */
export function setBound(which: "start" | "end", local: string): void {
  const t = Date.parse(local);
  if (!Number.isNaN(t)) setParams({ [which]: new Date(t).toISOString() }, false);
}

/** An ISO time as a datetime-local value in the browser's time zone. */
export function toLocalInput(iso: string): string {
  const d = new Date(iso);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function setRefresh(refresh: string): void {
  setParams({ refresh }, false);
}
