// Numbers for people: durations, rates, percentages, times.

export function fmtMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "–";
  if (ms >= 60_000) return `${(ms / 60_000).toFixed(1)} min`;
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 10) return `${ms.toFixed(0)} ms`;
  if (ms >= 1) return `${ms.toFixed(1)} ms`;
  if (ms > 0) return `${(ms * 1000).toFixed(0)} µs`;
  return "0 ms";
}

export const fmtNs = (ns: number | null | undefined): string => fmtMs(ns === null || ns === undefined ? ns : ns / 1e6);

export function fmtRate(perS: number | null | undefined): string {
  if (perS === null || perS === undefined) return "–";
  if (perS >= 100) return `${perS.toFixed(0)}/s`;
  if (perS >= 1) return `${perS.toFixed(1)}/s`;
  if (perS > 0) return `${(perS * 60).toFixed(1)}/min`;
  return "0/s";
}

export function fmtPct(fraction: number | null | undefined, digits = 1): string {
  if (fraction === null || fraction === undefined) return "–";
  return `${(fraction * 100).toFixed(digits)}%`;
}

export function fmtTime(ns: number): string {
  const d = new Date(ns / 1e6);
  return d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

export function fmtDateTime(ns: number): string {
  const d = new Date(ns / 1e6);
  return `${d.toLocaleDateString([], { month: "short", day: "numeric" })} ${d.toLocaleTimeString([], { hour12: false })}`;
}

export function fmtValue(v: number | null | undefined, unit = ""): string {
  if (v === null || v === undefined) return "–";
  if (unit === "s") return fmtMs(v * 1000);
  if (unit === "ms") return fmtMs(v);
  const abs = Math.abs(v);
  const text = abs >= 1e9 ? `${(v / 1e9).toFixed(2)}G` : abs >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : abs >= 1e3 ? `${(v / 1e3).toFixed(2)}k` : abs >= 1 ? v.toFixed(2) : v.toPrecision(3);
  return unit && unit !== "1" ? `${text} ${unit}` : text;
}

export const shortId = (id: string): string => id.slice(0, 8);
