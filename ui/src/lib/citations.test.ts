import { describe, expect, it } from "vitest";
import { splitCitations } from "./citations";

describe("splitCitations", () => {
  it("separates prose from single and grouped citations", () => {
    expect(splitCitations("p95 rose to 412 ms [E2]; errors at 7% [E1, E4].")).toEqual([
      { text: "p95 rose to 412 ms " },
      { cites: ["E2"] },
      { text: "; errors at 7% " },
      { cites: ["E1", "E4"] },
      { text: "." },
    ]);
  });

  it("leaves text without citations, and brackets that are not citations, as prose", () => {
    expect(splitCitations("GET [id] took [5 ms]")).toEqual([{ text: "GET [id] took [5 ms]" }]);
    expect(splitCitations("")).toEqual([]);
  });
});
