import type { Health } from "../api/types";
import { healthColor } from "../lib/colors";

export function HealthBadge({ health }: { health: Health | undefined }) {
  const status = health?.status ?? "unknown";
  return (
    <span className={`badge health-${status}`} title={health?.reason} style={{ borderColor: healthColor(status) }}>
      <span className="dot" style={{ background: healthColor(status) }} />
      {status}
    </span>
  );
}

export function ServiceDot({ color }: { color: string }) {
  return <span className="dot" style={{ background: color }} />;
}
