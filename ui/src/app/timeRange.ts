// The time range and auto-refresh shared by every view, read from the URL (?range=1h&refresh=30s).
import { setParams, useLocation } from "./router";

export const RANGES = ["15m", "30m", "1h", "3h", "6h", "12h", "24h", "2d", "7d"] as const;
export const REFRESHES = ["off", "10s", "30s", "1m", "5m"] as const;
export const DEFAULT_RANGE = "15m";
export const DEFAULT_REFRESH = "30s";

export interface TimeRange {
  range: string;
  /** The API's relative start, e.g. now-15m; the end is always now. */
  start: string;
  /** Auto-refresh period in ms, or false. */
  refreshMs: number | false;
  refresh: string;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export function durationMs(text: string): number | null {
  const m = /^(\d+)([smhd])$/.exec(text);
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : null;
}

export function useTimeRange(): TimeRange {
  const { params } = useLocation();
  const rawRange = params.get("range") ?? DEFAULT_RANGE;
  const range = durationMs(rawRange) ? rawRange : DEFAULT_RANGE;
  const refresh = params.get("refresh") ?? DEFAULT_REFRESH;
  const ms = refresh === "off" ? null : durationMs(refresh);
  return { range, start: `now-${range}`, refreshMs: ms ?? false, refresh: ms ? refresh : "off" };
}

export function setRange(range: string): void {
  setParams({ range }, false);
}

export function setRefresh(refresh: string): void {
  setParams({ refresh }, false);
}
