// A deterministic layered layout for the service map: callers left, callees right. The same
// nodes and edges always give the same positions, so the map does not jump between refreshes.

export interface LayoutNode {
  name: string;
  type: string;
}
export interface LayoutEdge {
  source: string;
  target: string;
}

/** Column per node: the longest call chain reaching it (cycles broken), backends pushed to the right. */
export function layers(nodes: readonly LayoutNode[], edges: readonly LayoutEdge[]): Map<string, number> {
  const names = new Set(nodes.map((n) => n.name));
  const out = new Map<string, string[]>();
  const indegree = new Map<string, number>();
  for (const n of names) {
    out.set(n, []);
    indegree.set(n, 0);
  }
  for (const e of edges) {
    if (!names.has(e.source) || !names.has(e.target) || e.source === e.target) continue;
    out.get(e.source)!.push(e.target);
    indegree.set(e.target, indegree.get(e.target)! + 1);
  }
  const layer = new Map<string, number>();
  // Kahn's order; when only cycles remain, release the alphabetically first node.
  const pending = new Map(indegree);
  const done = new Set<string>();
  const sorted = [...names].sort();
  while (done.size < names.size) {
    let ready = sorted.filter((n) => !done.has(n) && pending.get(n) === 0);
    if (ready.length === 0) ready = [sorted.find((n) => !done.has(n))!];
    for (const n of ready) {
      done.add(n);
      const l = layer.get(n) ?? 0;
      layer.set(n, l);
      for (const t of out.get(n)!) {
        if (done.has(t)) continue;
        layer.set(t, Math.max(layer.get(t) ?? 0, l + 1));
        pending.set(t, pending.get(t)! - 1);
      }
    }
  }
  const byType = new Map(nodes.map((n) => [n.name, n.type]));
  const max = Math.max(0, ...layer.values());
  for (const [n, l] of layer) {
    const type = byType.get(n);
    if ((type === "database" || type === "messaging" || type === "external") && out.get(n)!.length === 0) {
      layer.set(n, Math.max(l, max));
    }
  }
  return layer;
}

/** x, y per node in a `width` × `height` box; within a column, nodes sorted by name. */
export function positions(
  nodes: readonly LayoutNode[],
  edges: readonly LayoutEdge[],
  width = 1000,
  height = 600,
): Map<string, { x: number; y: number }> {
  const layer = layers(nodes, edges);
  const columns = new Map<number, string[]>();
  for (const n of [...nodes].sort((a, b) => a.name.localeCompare(b.name))) {
    const l = layer.get(n.name) ?? 0;
    columns.set(l, [...(columns.get(l) ?? []), n.name]);
  }
  const count = Math.max(1, columns.size);
  const keys = [...columns.keys()].sort((a, b) => a - b);
  const result = new Map<string, { x: number; y: number }>();
  keys.forEach((key, ci) => {
    const col = columns.get(key)!;
    const x = count === 1 ? width / 2 : (ci / (count - 1)) * width;
    col.forEach((name, ri) => {
      const y = col.length === 1 ? height / 2 : (ri / (col.length - 1)) * height;
      result.set(name, { x, y });
    });
  });
  return result;
}
