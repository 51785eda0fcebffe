// Columns shared by the tables of services, operations and edges: rate, errors, latency percentiles.
import type { Red } from "../api/types";
import type { Column } from "../components/SortableTable";
import { fmtMs, fmtPct, fmtRate } from "../lib/format";

export function redColumns<T>(red: (row: T) => Red): Column<T>[] {
  return [
    { key: "rate", label: "Rate", numeric: true, value: (r) => red(r).rate_per_s, render: (r) => fmtRate(red(r).rate_per_s) },
    {
      key: "errors",
      label: "Error %",
      numeric: true,
      value: (r) => red(r).error_rate,
      render: (r) => <span className={red(r).error_rate > 0.01 ? "bad" : undefined}>{fmtPct(red(r).error_rate, 2)}</span>,
    },
    { key: "p50", label: "p50", numeric: true, value: (r) => red(r).p50_ms, render: (r) => fmtMs(red(r).p50_ms) },
    { key: "p95", label: "p95", numeric: true, value: (r) => red(r).p95_ms, render: (r) => fmtMs(red(r).p95_ms) },
    { key: "p99", label: "p99", numeric: true, value: (r) => red(r).p99_ms, render: (r) => fmtMs(red(r).p99_ms) },
  ];
}
