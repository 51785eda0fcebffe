import { describe, expect, it } from "vitest";
import { barGeometry, buildTree, parentsOf, traceBounds, visibleRows } from "./waterfall";

const span = (id: string, parent: string, start: number, end: number) => ({
  span_id: id,
  parent_span_id: parent,
  start_time_unix_nano: start,
  end_time_unix_nano: end,
});

//  root  [0 ............ 100]
//    a     [10 .. 40]
//      a1    [15 .. 30]
//    b               [50 .. 90]
//  orphan (parent "zz" missing) [60 .. 70]
const trace = [
  span("b", "root", 50, 90),
  span("a1", "a", 15, 30),
  span("root", "", 0, 100),
  span("orphan", "zz", 60, 70),
  span("a", "root", 10, 40),
];

describe("waterfall layout", () => {
  it("orders rows depth-first with children by start time, orphans after roots", () => {
    const rows = visibleRows(buildTree(trace), new Set());
    expect(rows.map((r) => [r.span.span_id, r.depth])).toEqual([
      ["root", 0],
      ["a", 1],
      ["a1", 2],
      ["b", 1],
      ["orphan", 0],
    ]);
    expect(rows.find((r) => r.span.span_id === "root")!.childCount).toBe(2);
  });

  it("hides the descendants of a collapsed span but keeps the span itself", () => {
    const rows = visibleRows(buildTree(trace), new Set(["a"]));
    expect(rows.map((r) => r.span.span_id)).toEqual(["root", "a", "b", "orphan"]);
    expect(rows[1]!.collapsed).toBe(true);
  });

  it("collapse-all collapses only spans with children", () => {
    expect([...parentsOf(buildTree(trace))].sort()).toEqual(["a", "root"]);
    expect(visibleRows(buildTree(trace), parentsOf(buildTree(trace))).map((r) => r.span.span_id)).toEqual([
      "root",
      "orphan",
    ]);
  });

  it("places bars as fractions of the trace, with a minimum width for tiny spans", () => {
    const bounds = traceBounds(trace);
    expect(bounds).toEqual({ start: 0, end: 100 });
    expect(barGeometry(10, 40, bounds)).toEqual({ left: 0.1, width: 0.3 });
    const tiny = barGeometry(100, 100, bounds, 0.01);
    expect(tiny.width).toBe(0.01);
    expect(tiny.left + tiny.width).toBeLessThanOrEqual(1);
  });

  it("shows every span of a parent cycle or a self-parent, once", () => {
    const rows = visibleRows(buildTree([span("x", "y", 0, 1), span("y", "x", 0, 1), span("s", "s", 0, 1)]), new Set());
    expect(rows.map((r) => [r.span.span_id, r.depth])).toEqual([
      ["s", 0],
      ["x", 0],
      ["y", 1],
    ]);
  });

  it("handles a 10,000-span chain without recursion limits", () => {
    const chain = Array.from({ length: 10_000 }, (_, i) => span(`s${i}`, i === 0 ? "" : `s${i - 1}`, i, 20_000 - i));
    const rows = visibleRows(buildTree(chain), new Set());
    expect(rows).toHaveLength(10_000);
    expect(rows[9_999]!.depth).toBe(9_999);
  });
});
