import { describe, expect, it } from "vitest";
import { parseSse } from "./sse";

describe("parseSse", () => {
  it("splits complete events and keeps the incomplete rest", () => {
    const { events, rest } = parseSse('event: evidence\ndata: {"a":1}\n\nevent: delta\ndata: {"text":"Hel');
    expect(events).toEqual([{ event: "evidence", data: '{"a":1}' }]);
    expect(rest).toBe('event: delta\ndata: {"text":"Hel');
    const next = parseSse(`${rest}lo"}\n\n`);
    expect(next.events).toEqual([{ event: "delta", data: '{"text":"Hello"}' }]);
    expect(next.rest).toBe("");
  });

  it("joins data lines, skips comments, defaults the event name and accepts CRLF", () => {
    const { events } = parseSse(": keep-alive\r\ndata: one\r\ndata:two\r\n\r\n");
    expect(events).toEqual([{ event: "message", data: "one\ntwo" }]);
  });

  it("drops an event without data", () => {
    expect(parseSse("event: ping\n\n").events).toEqual([]);
  });
});
