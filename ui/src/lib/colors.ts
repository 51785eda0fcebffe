// Stable colours: one per service name (the same across views), one per health status.
import type { HealthStatus } from "../api/types";

const PALETTE = [
  "#5b8def", "#f2a93b", "#3fb68b", "#c678dd", "#e06c75", "#56b6c2", "#d19a66", "#98c379",
  "#7f8cff", "#ff8fab", "#4fc1e9", "#b5a642", "#a1887f", "#9ccc65", "#ef6c9b", "#26a69a",
];

export function serviceColor(name: string): string {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return PALETTE[(h >>> 0) % PALETTE.length]!;
}

export const HEALTH_COLOR: Record<HealthStatus, string> = {
  healthy: "#3fb68b",
  degraded: "#f2a93b",
  critical: "#e5534b",
};

export const healthColor = (status: string | undefined): string =>
  HEALTH_COLOR[(status ?? "healthy") as HealthStatus] ?? "#8b949e";
