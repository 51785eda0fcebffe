import { describe, expect, it } from "vitest";
import { layers, positions } from "./mapLayout";

const nodes = [
  { name: "user", type: "user" },
  { name: "frontend", type: "service" },
  { name: "cart", type: "service" },
  { name: "postgresql", type: "database" },
  { name: "valkey", type: "database" },
];
// user -> frontend -> cart -> valkey ; frontend -> postgresql
const edges = [
  { source: "user", target: "frontend" },
  { source: "frontend", target: "cart" },
  { source: "cart", target: "valkey" },
  { source: "frontend", target: "postgresql" },
];

describe("service map layout", () => {
  it("puts callers left of callees and backends in the last column", () => {
    const l = layers(nodes, edges);
    expect(l.get("user")).toBe(0);
    expect(l.get("frontend")).toBe(1);
    expect(l.get("cart")).toBe(2);
    expect(l.get("postgresql")).toBe(3);
    expect(l.get("valkey")).toBe(3);
  });

  it("gives the same positions whatever the input order", () => {
    const a = positions(nodes, edges);
    const b = positions([...nodes].reverse(), [...edges].reverse());
    expect([...a.entries()].sort()).toEqual([...b.entries()].sort());
  });

  it("terminates on cycles", () => {
    const l = layers(nodes.slice(0, 3), [
      { source: "frontend", target: "cart" },
      { source: "cart", target: "frontend" },
    ]);
    expect(l.size).toBe(3);
  });
});
