import { describe, expect, it } from "vitest";
import { polylinePoints, sparkGeometry } from "./sparkline";

// A 100 x 20 box without padding: x steps of 25 over five values, y from 20 (zero) up to 0 (max).
describe("sparkline geometry", () => {
  it("scales values into the box with zero at the bottom", () => {
    const g = sparkGeometry([0, 1, 2, 4, 2], 100, 20, 0);
    expect(g.max).toBe(4);
    expect(g.segments).toEqual([[[0, 20], [25, 15], [50, 10], [75, 0], [100, 10]]]);
    expect(polylinePoints(g.segments[0]!)).toBe("0,20 25,15 50,10 75,0 100,10");
  });

  it("breaks the line where a step has no value, keeping x positions", () => {
    const g = sparkGeometry([null, 3, 3, null, 6], 100, 20, 0);
    expect(g.segments).toEqual([[[25, 10], [50, 10]], [[100, 0]]]);
  });

  it("draws an all-zero series on the baseline", () => {
    expect(sparkGeometry([0, 0, 0], 10, 20, 0).segments).toEqual([[[0, 20], [5, 20], [10, 20]]]);
  });

  it("has nothing to draw without known values", () => {
    expect(sparkGeometry([], 10, 10)).toEqual({ segments: [], max: null });
    expect(sparkGeometry([null, null], 10, 10)).toEqual({ segments: [], max: null });
  });

  it("puts a lone value in the middle", () => {
    expect(sparkGeometry([5], 40, 10, 0).segments).toEqual([[[20, 0]]]);
  });

  it("leaves room for the stroke when padded", () => {
    const g = sparkGeometry([0, 1], 20, 10, 2);
    expect(g.segments).toEqual([[[2, 8], [18, 2]]]);
  });
});
