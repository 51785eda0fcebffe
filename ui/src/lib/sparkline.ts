// Sparkline geometry: values to SVG points, split where a value is missing (a step without data
// is a gap, not a drop to zero). The y axis starts at 0: rates, error rates and latencies are
// never negative, and a zero baseline keeps a flat-but-busy service from looking jumpy.

export type Point = [x: number, y: number];

export interface SparkGeometry {
  /** Runs of consecutive known values; a run of one point is drawn as a dot. */
  segments: Point[][];
  /** The largest known value (the top of the box), or null when nothing is known. */
  max: number | null;
}

export function sparkGeometry(values: readonly (number | null)[], width: number, height: number, pad = 1.5): SparkGeometry {
  const known = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (known.length === 0) return { segments: [], max: null };
  const max = Math.max(...known);
  const x = (i: number) => (values.length === 1 ? width / 2 : pad + (i * (width - 2 * pad)) / (values.length - 1));
  // All zeros sit on the baseline; otherwise scale to the box, leaving `pad` for the stroke.
  const y = (v: number) => height - pad - (max > 0 ? (v / max) * (height - 2 * pad) : 0);
  const segments: Point[][] = [];
  let run: Point[] = [];
  values.forEach((v, i) => {
    if (v === null || !Number.isFinite(v)) {
      if (run.length) segments.push(run);
      run = [];
    } else {
      run.push([round(x(i)), round(y(v))]);
    }
  });
  if (run.length) segments.push(run);
  return { segments, max };
}

/** SVG `points` attribute of a segment. */
export const polylinePoints = (segment: Point[]): string => segment.map(([x, y]) => `${x},${y}`).join(" ");

const round = (n: number): number => Math.round(n * 100) / 100;
