// Waterfall layout: spans to a tree, the tree to the rows a user sees (collapsed subtrees hidden),
// and each row's bar as fractions of the trace. Iterative, so 10,000-span traces of any depth work.

export interface SpanLike {
  span_id: string;
  parent_span_id: string;
  start_time_unix_nano: number;
  end_time_unix_nano: number;
}

export interface TreeNode<S extends SpanLike> {
  span: S;
  children: TreeNode<S>[];
}

export interface Row<S extends SpanLike> {
  span: S;
  depth: number;
  childCount: number;
  collapsed: boolean;
}

export interface Bounds {
  start: number;
  end: number;
}

/** Roots first: spans with no parent, then spans whose parent is missing (orphans), then cycles; children by start time. */
export function buildTree<S extends SpanLike>(spans: readonly S[]): TreeNode<S>[] {
  const nodes = new Map<string, TreeNode<S>>();
  for (const span of spans) nodes.set(span.span_id, { span, children: [] });
  const roots: TreeNode<S>[] = [];
  const orphans: TreeNode<S>[] = [];
  for (const node of nodes.values()) {
    const parentId = node.span.parent_span_id;
    const parent = parentId && parentId !== node.span.span_id ? nodes.get(parentId) : undefined;
    if (parent) parent.children.push(node);
    else if (parentId) orphans.push(node);
    else roots.push(node);
  }
  const byStart = (a: TreeNode<S>, b: TreeNode<S>) =>
    a.span.start_time_unix_nano - b.span.start_time_unix_nano || a.span.span_id.localeCompare(b.span.span_id);
  for (const node of nodes.values()) node.children.sort(byStart);
  roots.sort(byStart);
  orphans.sort(byStart);
  const result = [...roots, ...orphans];
  // Spans in a parent cycle hang from no root: the earliest of each cycle becomes one.
  const reached = new Set<string>();
  const mark = (from: TreeNode<S>) => {
    const stack = [from];
    while (stack.length) {
      const node = stack.pop()!;
      if (reached.has(node.span.span_id)) continue;
      reached.add(node.span.span_id);
      stack.push(...node.children);
    }
  };
  result.forEach(mark);
  for (const node of [...nodes.values()].sort(byStart)) {
    if (!reached.has(node.span.span_id)) {
      result.push(node);
      mark(node);
    }
  }
  return result;
}

/** Depth-first rows, skipping the descendants of collapsed spans. Each span appears once, even in a cycle. */
export function visibleRows<S extends SpanLike>(roots: readonly TreeNode<S>[], collapsed: ReadonlySet<string>): Row<S>[] {
  const rows: Row<S>[] = [];
  const seen = new Set<string>();
  const stack: { node: TreeNode<S>; depth: number }[] = [];
  for (let i = roots.length - 1; i >= 0; i--) stack.push({ node: roots[i]!, depth: 0 });
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (seen.has(node.span.span_id)) continue;
    seen.add(node.span.span_id);
    const isCollapsed = collapsed.has(node.span.span_id);
    rows.push({ span: node.span, depth, childCount: node.children.length, collapsed: isCollapsed });
    if (isCollapsed) continue;
    for (let i = node.children.length - 1; i >= 0; i--) stack.push({ node: node.children[i]!, depth: depth + 1 });
  }
  return rows;
}

/** The trace's time span: earliest start to latest end. */
export function traceBounds(spans: readonly SpanLike[]): Bounds {
  let start = Infinity;
  let end = -Infinity;
  for (const s of spans) {
    if (s.start_time_unix_nano < start) start = s.start_time_unix_nano;
    if (s.end_time_unix_nano > end) end = s.end_time_unix_nano;
  }
  return spans.length ? { start, end } : { start: 0, end: 0 };
}

/** Left offset and width as fractions (0..1) of the trace; width never below `minWidth` so short spans show. */
export function barGeometry(
  startNs: number,
  endNs: number,
  bounds: Bounds,
  minWidth = 0.002,
): { left: number; width: number } {
  const total = bounds.end - bounds.start;
  if (total <= 0) return { left: 0, width: 1 };
  const width = Math.max(minWidth, clamp((endNs - startNs) / total));
  const left = Math.min(clamp((startNs - bounds.start) / total), 1 - width);
  return { left, width };
}

/** Span ids that have children: what "collapse all" collapses. */
export function parentsOf<S extends SpanLike>(roots: readonly TreeNode<S>[]): Set<string> {
  const out = new Set<string>();
  const stack = [...roots];
  while (stack.length) {
    const node = stack.pop()!;
    if (node.children.length && !out.has(node.span.span_id)) {
      out.add(node.span.span_id);
      stack.push(...node.children);
    }
  }
  return out;
}

function clamp(x: number): number {
  return Math.min(1, Math.max(0, x));
}
