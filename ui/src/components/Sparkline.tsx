// A tiny inline-SVG line for table cells: cheaper than a chart instance per cell when a table
// has dozens of rows, and it needs no tooltip machinery (the title says the range of values).
import { polylinePoints, sparkGeometry } from "../lib/sparkline";

interface Props {
  values: readonly (number | null)[];
  color: string;
  /** What the line shows, for the title and screen readers ("p95 over the range"). */
  label: string;
  /** Formats the largest value for the title. */
  format: (v: number) => string;
  width?: number;
  height?: number;
}

export function Sparkline({ values, color, label, format, width = 72, height = 18 }: Props) {
  const { segments, max } = sparkGeometry(values, width, height);
  const title = max === null ? `${label}: no data` : `${label}: peak ${format(max)}`;
  return (
    <svg
      width={width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      role="img"
      aria-label={title}
      data-testid="sparkline"
      style={{ verticalAlign: "middle", marginLeft: 8, overflow: "visible" }}
    >
      <title>{title}</title>
      <line x1={0} x2={width} y1={height - 0.5} y2={height - 0.5} stroke="#30363d" strokeWidth={1} />
      {segments.map((seg, i) =>
        seg.length === 1 ? (
          <circle key={i} cx={seg[0]![0]} cy={seg[0]![1]} r={1.5} fill={color} />
        ) : (
          <polyline key={i} points={polylinePoints(seg)} fill="none" stroke={color} strokeWidth={1.5} strokeLinejoin="round" />
        ),
      )}
    </svg>
  );
}
