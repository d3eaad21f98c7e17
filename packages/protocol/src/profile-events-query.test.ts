import { describe, expect, it } from "vitest";
import { ProfileEventsQuery } from "./profile-events-query";

const reasonOf = (params: Record<string, string>) => {
  const parsed = ProfileEventsQuery.safeParse(params);
  return parsed.success ? null : parsed.error.issues[0].message;
};

describe("ProfileEventsQuery", () => {
  it("defaults to 50 events and no filters, ignoring unknown parameters", () => {
    expect(ProfileEventsQuery.parse({ utm: "x" })).toEqual({ limit: 50 });
  });

  it("passes limit, cursor, event and type through, limit as a number", () => {
    const query: ProfileEventsQuery = ProfileEventsQuery.parse({
      limit: "1000",
      cursor: "abc",
      event: "Order Completed",
      type: "track",
    });
    expect(query).toEqual({ limit: 1000, cursor: "abc", event: "Order Completed", type: "track" });
  });

  it("refuses bad limits, empty filters and unknown types with the reason the API answers", () => {
    const cases: Array<[Record<string, string>, string]> = [
      [{ limit: "0" }, 'limit must be a whole number from 1 to 1000, got "0"'],
      [{ limit: "1001" }, 'limit must be a whole number from 1 to 1000, got "1001"'],
      [{ limit: "-5" }, 'limit must be a whole number from 1 to 1000, got "-5"'],
      [{ limit: "2.5" }, 'limit must be a whole number from 1 to 1000, got "2.5"'],
      [{ limit: "" }, 'limit must be a whole number from 1 to 1000, got ""'],
      [{ limit: "9".repeat(50) }, `limit must be a whole number from 1 to 1000, got "${"9".repeat(40)}…"`],
      [{ cursor: "" }, "cursor is empty: pass cursor.next from the previous page"],
      [{ event: "" }, "event is empty: pass an event name such as Order Completed"],
      [{ event: "e".repeat(513) }, "event is longer than 512 characters"],
      [{ type: "click" }, 'type must be one of track, identify, page, screen, group, alias, got "click"'],
      [{ type: "TRACK" }, 'type must be one of track, identify, page, screen, group, alias, got "TRACK"'],
    ];
    for (const [params, reason] of cases) expect(reasonOf(params), JSON.stringify(params)).toBe(reason);
  });

  it("reports the first bad parameter in the order limit, cursor, event, type", () => {
    expect(reasonOf({ type: "x", event: "", limit: "0" })).toMatch(/^limit/);
    expect(reasonOf({ type: "x", event: "" })).toMatch(/^event/);
  });
});
