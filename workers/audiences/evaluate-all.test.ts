import type { AudienceNode } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { DAY, HOUR, memoryFacts, trackAt } from "../test-support/profile-facts";
import { type DefinitionSet, evaluateAll } from "./evaluate";

const now = Date.UTC(2025, 5, 1, 12);

const definitions: DefinitionSet = {
  computed: {
    orders_30d: { op: "count", event: "Order Completed", within: "30d" },
    lifetime_value: { op: "sum", event: "Order Completed", property: "revenue" },
  },
  audiences: {
    // Refers to an audience whose key sorts after it: it must still see that audience's fresh membership.
    a_loyal_vip: { all: [{ audience: "z_vip" }, { computed: "orders_30d", op: "gte", value: 2 }] },
    z_vip: { computed: "lifetime_value", op: "gte", value: 100 },
    lapsed: { not: { event: "Order Completed", within: "7d" } },
  },
};

describe("evaluateAll", () => {
  it("computes traits first, then audiences after the audiences they refer to", () => {
    const facts = memoryFacts({
      events: [
        trackAt("Order Completed", now - 20 * DAY, { revenue: 70 }),
        trackAt("Order Completed", now - 2 * DAY, { revenue: 40 }),
      ],
    });
    const result = evaluateAll(definitions, facts, now);
    expect(result.computed).toEqual({ orders_30d: 2, lifetime_value: 110 });
    expect([...result.audiences].sort()).toEqual(["a_loyal_vip", "z_vip"]);
    // The first instant anything can change: the order of 2 days ago leaving `lapsed`'s 7-day window, before the
    // order of 20 days ago leaves `orders_30d`.
    expect(result.nextChangeAt).toBe(now + 5 * DAY);
    expect(evaluateAll(definitions, facts, now + 5 * DAY).nextChangeAt).toBe(now + 10 * DAY);
  });

  it("moves every dependent at the instant a window boundary passes", () => {
    const facts = memoryFacts({
      events: [
        trackAt("Order Completed", now - 20 * DAY, { revenue: 70 }),
        trackAt("Order Completed", now - 2 * DAY, { revenue: 40 }),
      ],
    });
    const boundary = now - 20 * DAY + 30 * DAY;
    const before = evaluateAll(definitions, facts, boundary - 1);
    const after = evaluateAll(definitions, facts, boundary);
    expect(before.audiences.has("a_loyal_vip")).toBe(true);
    expect(after.computed.orders_30d).toBe(1);
    expect(after.audiences.has("a_loyal_vip")).toBe(false);
    expect(after.audiences.has("z_vip")).toBe(true);
  });

  it("follows a profile through time from alarm to alarm, as the DO does", () => {
    const facts = memoryFacts({ events: [trackAt("Order Completed", now - HOUR, { revenue: 10 })] });
    const timeline: [number, string[]][] = [];
    let at: number | null = now;
    while (at !== null && timeline.length < 5) {
      const result = evaluateAll(definitions, facts, at);
      timeline.push([at, [...result.audiences].sort()]);
      at = result.nextChangeAt;
    }
    expect(timeline).toEqual([
      [now, []],
      [now - HOUR + 7 * DAY, ["lapsed"]],
      [now - HOUR + 30 * DAY, ["lapsed"]],
    ]);
  });

  it("evaluates an audience referring to one missing from the set as not a member", () => {
    const only: DefinitionSet = { computed: {}, audiences: { x: { audience: "gone" } as AudienceNode } };
    expect(evaluateAll(only, memoryFacts(), now)).toEqual({ computed: {}, audiences: new Set(), nextChangeAt: null });
  });
});
