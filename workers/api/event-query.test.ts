import { describe, expect, it } from "vitest";
import { parseEventQuery } from "./event-query";

describe("parseEventQuery", () => {
  it("defaults to 50 events and no filters", () => {
    expect(parseEventQuery({})).toEqual({ ok: true, query: { limit: 50 } });
  });

  it("passes limit, cursor, event and type through", () => {
    expect(parseEventQuery({ limit: "1000", cursor: "abc", event: "Order Completed", type: "track" })).toEqual({
      ok: true,
      query: { limit: 1000, cursor: "abc", event: "Order Completed", type: "track" },
    });
  });

  it("refuses bad limits, empty filters and unknown types, naming the parameter", () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ limit: "0" }, /limit must be between 1 and 1000/],
      [{ limit: "1001" }, /limit must be between 1 and 1000/],
      [{ limit: "-5" }, /limit must be a whole number/],
      [{ limit: "2.5" }, /limit must be a whole number/],
      [{ limit: "ten" }, /limit must be a whole number/],
      [{ limit: "" }, /limit must be a whole number/],
      [{ cursor: "" }, /cursor is empty/],
      [{ event: "" }, /event is empty/],
      [{ event: "e".repeat(501) }, /event is longer/],
      [{ type: "click" }, /type must be one of track, identify/],
      [{ type: "TRACK" }, /type must be one of/],
    ];
    for (const [params, reason] of cases) {
      const parsed = parseEventQuery(params);
      expect(parsed.ok, JSON.stringify(params)).toBe(false);
      if (!parsed.ok) expect(parsed.reason).toMatch(reason);
    }
  });
});
