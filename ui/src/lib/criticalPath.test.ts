import { describe, expect, it } from "vitest";
import { highlights, serviceShares } from "./criticalPath";

//  root (api)    [0 ............................ 100]
//    db (pg)          [20 ...... 60]
// path: root 0-20, db 20-60, root 60-100
const segments = [
  { span_id: "root", service: "api", start_time_unix_nano: 0, end_time_unix_nano: 20 },
  { span_id: "db", service: "pg", start_time_unix_nano: 20, end_time_unix_nano: 60 },
  { span_id: "root", service: "api", start_time_unix_nano: 60, end_time_unix_nano: 100 },
];
const bounds = { start: 0, end: 100 };

describe("critical-path highlighting", () => {
  it("marks each path segment on its span's bar", () => {
    const h = highlights(segments, bounds);
    expect(h.get("root")!.marks).toEqual([
      { left: 0, width: 0.2 },
      { left: 0.6, width: 0.4 },
    ]);
    expect(h.get("db")!.marks).toEqual([{ left: 0.2, width: 0.4 }]);
  });

  it("gives each span its share of the path", () => {
    const h = highlights(segments, bounds);
    expect(h.get("root")!.share).toBeCloseTo(0.6);
    expect(h.get("db")!.share).toBeCloseTo(0.4);
    expect(h.get("db")!.pathNs).toBe(40);
  });

  it("does not mark spans off the path", () => {
    expect(highlights(segments, bounds).has("cache")).toBe(false);
  });

  it("sums shares per service, largest first", () => {
    expect(serviceShares(segments)).toEqual([
      { service: "api", ns: 60, share: 0.6 },
      { service: "pg", ns: 40, share: 0.4 },
    ]);
  });

  it("an empty path highlights nothing", () => {
    expect(highlights([], bounds).size).toBe(0);
    expect(serviceShares([])).toEqual([]);
  });
});
