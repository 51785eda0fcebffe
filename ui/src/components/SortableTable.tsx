// A table whose columns sort on click; sort state lives in the URL (?sort=p95&dir=desc).
import type { ReactNode } from "react";
import { setParams, useLocation } from "../app/router";

export interface Column<T> {
  key: string;
  label: string;
  value: (row: T) => number | string | null;
  render?: (row: T) => ReactNode;
  numeric?: boolean;
}

export function SortableTable<T>({
  rows,
  columns,
  rowKey,
  defaultSort,
  prefix = "",
  testId,
}: {
  rows: T[];
  columns: Column<T>[];
  rowKey: (row: T) => string;
  defaultSort: string;
  prefix?: string;
  testId?: string;
}) {
  const { params } = useLocation();
  const sort = params.get(`${prefix}sort`) ?? defaultSort;
  const dir = params.get(`${prefix}dir`) ?? "desc";
  const column = columns.find((c) => c.key === sort) ?? columns[0]!;
  const sorted = [...rows].sort((a, b) => {
    const va = column.value(a);
    const vb = column.value(b);
    const cmp = va === vb ? 0 : va === null ? -1 : vb === null ? 1 : va < vb ? -1 : 1;
    return dir === "asc" ? cmp : -cmp;
  });
  const toggle = (key: string) =>
    setParams({ [`${prefix}sort`]: key, [`${prefix}dir`]: key === sort && dir === "desc" ? "asc" : "desc" });
  return (
    <table className="table" data-testid={testId}>
      <thead>
        <tr>
          {columns.map((c) => (
            <th key={c.key} className={c.numeric ? "num" : undefined} onClick={() => toggle(c.key)} aria-sort={c.key === sort ? (dir === "asc" ? "ascending" : "descending") : "none"}>
              {c.label}
              {c.key === sort ? (dir === "asc" ? " ▲" : " ▼") : ""}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {sorted.map((row) => (
          <tr key={rowKey(row)}>
            {columns.map((c) => (
              <td key={c.key} className={c.numeric ? "num" : undefined}>
                {c.render ? c.render(row) : String(c.value(row) ?? "–")}
              </td>
            ))}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
