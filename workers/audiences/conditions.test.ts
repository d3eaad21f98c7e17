import { describe, expect, it } from "vitest";
import { trackAt } from "../test-support/profile-facts";
import { compare, matchesWhere } from "./conditions";
import { eventProperty, traitValue } from "./paths";

describe("compare", () => {
  it.each<[Parameters<typeof compare>, boolean]>([
    [["eq", "pos", "pos"], true],
    [["eq", "POS", "pos"], false],
    [["eq", 5, 5], true],
    [["eq", "5", 5], false],
    [["eq", true, true], true],
    [["neq", "web", "pos"], true],
    [["neq", "pos", "pos"], false],
    [["neq", "5", 5], true],
    [["gt", 10, 9], true],
    [["gt", 9, 9], false],
    [["gt", "10", 9], false],
    [["gt", "b", "a"], true],
    [["gte", 9, 9], true],
    [["gte", 8.5, 9], false],
    [["lt", "2025-01-01T00:00:00Z", "2025-06-01T00:00:00Z"], true],
    [["lt", 9, 9], false],
    [["lte", 9, 9], true],
    [["lte", "10", "9"], true],
    [["contains", "summer sale", "sale"], true],
    [["contains", "summer", "sale"], false],
    [["contains", ["vip", "beta"], "vip"], true],
    [["contains", [1, 2], "1"], false],
    [["contains", 15, 5], false],
    [["starts_with", "/checkout/pay", "/checkout"], true],
    [["starts_with", "/cart", "/checkout"], false],
    [["starts_with", 123, "1"], false],
    [["in", "pos", ["web", "pos"]], true],
    [["in", "kiosk", ["web", "pos"]], false],
    [["in", 2, [1, 2]], true],
    [["exists", "", undefined], true],
    [["exists", 0, undefined], true],
    [["not_exists", "x", undefined], false],
  ])("%j → %s", ([op, actual, expected], result) => {
    expect(compare(op, actual, expected)).toBe(result);
  });

  it.each(["eq", "neq", "gt", "gte", "lt", "lte", "contains", "starts_with", "in", "exists"] as const)(
    "fails %s on a missing value (absent or null)",
    (op) => {
      const expected = op === "in" ? ["x"] : "x";
      expect(compare(op, undefined, expected)).toBe(false);
      expect(compare(op, null, expected)).toBe(false);
    },
  );

  it("holds not_exists on a missing value only", () => {
    expect(compare("not_exists", undefined)).toBe(true);
    expect(compare("not_exists", null)).toBe(true);
    expect(compare("not_exists", false)).toBe(false);
  });
});

describe("property paths", () => {
  const order = trackAt(
    "Order Completed",
    Date.UTC(2025, 0, 1),
    { channel: "pos", items: [{ sku: "A-1" }, { sku: "B-2" }], "a.b": 1 },
    { context: { page: { path: "/checkout" } } },
  );

  it("reads dotted paths into properties, indexing arrays", () => {
    expect(eventProperty(order, "channel")).toBe("pos");
    expect(eventProperty(order, "items.1.sku")).toBe("B-2");
    expect(eventProperty(order, "items.2.sku")).toBeUndefined();
    expect(eventProperty(order, "items.01.sku")).toBeUndefined();
  });

  it("reads the message itself after $", () => {
    expect(eventProperty(order, "$context.page.path")).toBe("/checkout");
    expect(eventProperty(order, "$type")).toBe("track");
    expect(eventProperty(order, "$properties.channel")).toBe("pos");
  });

  it("never reaches a prototype's members", () => {
    expect(eventProperty(order, "constructor")).toBeUndefined();
    expect(eventProperty(order, "items.length")).toBeUndefined();
    expect(traitValue({}, "__proto__")).toBeUndefined();
  });

  it("reads trait paths with dots, taking $ literally", () => {
    expect(traitValue({ address: { city: "Lyon" }, $email: "j@x.io" }, "address.city")).toBe("Lyon");
    expect(traitValue({ $email: "j@x.io" }, "$email")).toBe("j@x.io");
  });
});

describe("matchesWhere", () => {
  const at = Date.UTC(2025, 0, 1);

  it("holds when every condition holds, and with no conditions", () => {
    const pos = trackAt("Order Completed", at, { channel: "pos", revenue: 120 });
    expect(matchesWhere(undefined, pos)).toBe(true);
    expect(
      matchesWhere(
        [
          { property: "channel", op: "eq", value: "pos" },
          { property: "revenue", op: "gte", value: 100 },
        ],
        pos,
      ),
    ).toBe(true);
    expect(
      matchesWhere(
        [
          { property: "channel", op: "eq", value: "pos" },
          { property: "revenue", op: "gt", value: 120 },
        ],
        pos,
      ),
    ).toBe(false);
  });
});
