import { describe, expect, it } from "vitest";
import { allows, cookieValue } from "./auth";

describe("allows", () => {
  it.each([
    ["viewer", "viewer", true],
    ["viewer", "editor", false],
    ["editor", "editor", true],
    ["editor", "admin", false],
    ["admin", "editor", true],
    [null, "viewer", false],
  ] as const)("a %s doing what a %s may: %s", (role, needed, ok) => {
    expect(allows(role, needed)).toBe(ok);
  });
});

describe("cookieValue", () => {
  it("finds a cookie among others", () => {
    expect(cookieValue("a=1; kokanee_csrf=abc123; b=2", "kokanee_csrf")).toBe("abc123");
  });
  it("is null without it, and does not match a longer name", () => {
    expect(cookieValue("kokanee_csrf_old=x", "kokanee_csrf")).toBeNull();
    expect(cookieValue("", "kokanee_csrf")).toBeNull();
  });
});
