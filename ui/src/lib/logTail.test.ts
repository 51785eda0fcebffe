import { describe, expect, it } from "vitest";
import type { LogRecord } from "../api/types";
import { mergeTail, rfc3339Ns, tailStart, TAIL_FIRST_START } from "./logTail";

const log = (timestamp: string, body: string, service = "cart"): LogRecord => ({
  timestamp,
  time_unix_nano: Number(rfc3339Ns(timestamp)),
  trace_id: "",
  span_id: "",
  severity_text: "INFO",
  severity_number: 9,
  service_name: service,
  body,
  attributes: {},
  resource: { attributes: {} },
});

const T = (s: number, ns = 0) => `2026-01-01T10:00:${String(s).padStart(2, "0")}.${String(ns).padStart(9, "0")}Z`;

describe("rfc3339Ns", () => {
  it("keeps every nanosecond", () => {
    expect(rfc3339Ns("2026-01-01T10:00:00.123456789Z")).toBe(1767261600123456789n);
    expect(rfc3339Ns("2026-01-01T10:00:00Z")).toBe(1767261600000000000n);
    expect(rfc3339Ns("2026-01-01T11:00:00.5+01:00")).toBe(1767261600500000000n);
  });
  it("refuses what is not a time", () => {
    expect(() => rfc3339Ns("yesterday")).toThrow(/RFC 3339/);
  });
});

describe("tailStart", () => {
  it("starts from a while ago when nothing is shown", () => {
    expect(tailStart([])).toBe(TAIL_FIRST_START);
  });
  it("asks from the overlap before the newest record, in exact ns", () => {
    expect(tailStart([log(T(10, 7), "b"), log(T(1), "a")], 5_000_000_000n)).toBe("1767261605000000007");
  });
});

describe("mergeTail", () => {
  //   shown:    10s "b", 5s "a"
  //   incoming: 12s "d", 11s "c", 10s "b" (again, from the overlap)
  const shown = [log(T(10), "b"), log(T(5), "a")];
  it("puts new records on top and drops those already shown", () => {
    const { rows, added } = mergeTail(shown, [log(T(12), "d"), log(T(11), "c"), log(T(10), "b")]);
    expect(rows.map((r) => r.body)).toEqual(["d", "c", "b", "a"]);
    expect(added).toBe(2);
  });
  it("slots a late record at its time, not on top", () => {
    const { rows } = mergeTail(shown, [log(T(10), "b"), log(T(7), "late")]);
    expect(rows.map((r) => r.body)).toEqual(["b", "late", "a"]);
  });
  it("tells apart records at the same time from different services", () => {
    const { rows, added } = mergeTail(shown, [log(T(10), "b", "checkout")]);
    expect(added).toBe(1);
    expect(rows).toHaveLength(3);
  });
  it("keeps at most the newest `max` records", () => {
    const { rows } = mergeTail(shown, [log(T(12), "d"), log(T(11), "c")], 3);
    expect(rows.map((r) => r.body)).toEqual(["d", "c", "b"]);
  });
  it("leaves its inputs alone", () => {
    const before = shown.map((r) => r.body);
    mergeTail(shown, [log(T(12), "d")]);
    expect(shown.map((r) => r.body)).toEqual(before);
  });
});
