import type { ComputedTraitDefinition } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { DAY, HOUR, memoryFacts, messageAt, trackAt } from "../test-support/profile-facts";
import { seededRandom } from "../test-support/seeded-random";
import { computeTrait } from "./compute-trait";

const now = Date.UTC(2025, 5, 1);
const order = (daysAgo: number, properties: Record<string, unknown>) =>
  trackAt("Order Completed", now - daysAgo * DAY, properties);

/** Five orders over 40 days, newest first: revenue 10, 30, "n/a", 30, 50; categories b, a, b, a, c. */
const history = () =>
  memoryFacts({
    events: [
      order(40, { revenue: 50, category: "c", channel: "web" }),
      order(20, { revenue: 30, category: "a", channel: "pos" }),
      order(10, { revenue: "n/a", category: "b", channel: "pos" }),
      order(5, { revenue: 30, category: "a", channel: "web" }),
      order(1, { revenue: 10, category: "b", channel: "pos" }),
      trackAt("Email Opened", now - DAY),
      messageAt("page", now - HOUR),
    ],
  });

const sumOf = (op: ComputedTraitDefinition["op"], property?: string): ComputedTraitDefinition => ({
  op,
  event: "Order Completed",
  ...(property ? { property } : {}),
});

describe("computeTrait", () => {
  it.each<[ComputedTraitDefinition, unknown]>([
    [sumOf("count"), 5],
    [sumOf("count", "revenue"), 5],
    [sumOf("sum", "revenue"), 120],
    [sumOf("avg", "revenue"), 30],
    [sumOf("min", "revenue"), 10],
    [sumOf("max", "revenue"), 50],
    [sumOf("first", "category"), "c"],
    [sumOf("last", "category"), "b"],
    [sumOf("most_frequent", "category"), "b"],
    [sumOf("unique_list", "category"), ["b", "a", "c"]],
    [sumOf("unique_count", "category"), 3],
    [{ ...sumOf("sum", "revenue"), where: [{ property: "channel", op: "eq", value: "pos" }] }, 40],
    [{ ...sumOf("unique_list", "$properties.channel") }, ["pos", "web"]],
    [{ op: "count", event: "*" }, 6],
  ])("%j over five orders → %j", (definition, value) => {
    expect(computeTrait(definition, history(), now).value).toEqual(value);
  });

  it.each<[ComputedTraitDefinition["op"], unknown]>([
    ["count", 0],
    ["sum", 0],
    ["avg", null],
    ["min", null],
    ["max", null],
    ["first", null],
    ["last", null],
    ["most_frequent", null],
    ["unique_list", null],
    ["unique_count", null],
  ])("%s of no matching event is %j", (op, value) => {
    const facts = memoryFacts({ events: [trackAt("Email Opened", now - DAY, { revenue: 5 })] });
    expect(computeTrait(sumOf(op, op === "count" ? undefined : "revenue"), facts, now)).toEqual({
      value,
      nextChangeAt: null,
    });
  });

  it("counts with a property only the events where it is set", () => {
    const facts = memoryFacts({ events: [order(1, { coupon: "X" }), order(2, {}), order(3, { coupon: null })] });
    expect(computeTrait(sumOf("count", "coupon"), facts, now).value).toBe(1);
  });

  it("breaks most_frequent ties towards the most recent value", () => {
    const facts = memoryFacts({
      events: [
        order(4, { category: "a" }),
        order(3, { category: "b" }),
        order(2, { category: "a" }),
        order(1, { category: "b" }),
      ],
    });
    expect(computeTrait(sumOf("most_frequent", "category"), facts, now).value).toBe("b");
  });

  it("breaks first and last ties on one timestamp by storage order", () => {
    const at = now - DAY;
    const facts = memoryFacts({
      events: [trackAt("Order Completed", at, { id: "stored-1" }), trackAt("Order Completed", at, { id: "stored-2" })],
    });
    expect(computeTrait(sumOf("first", "id"), facts, now).value).toBe("stored-1");
    expect(computeTrait(sumOf("last", "id"), facts, now).value).toBe("stored-2");
  });

  it("gives a sum past the largest double no value (JSON has no Infinity), and an average its value", () => {
    const facts = memoryFacts({ events: [order(2, { revenue: 1e308 }), order(1, { revenue: 1e308 })] });
    expect(computeTrait(sumOf("sum", "revenue"), facts, now).value).toBeNull();
    expect(computeTrait(sumOf("avg", "revenue"), facts, now).value).toBe(1e308);
    facts.add(order(0, { revenue: -1e308 }));
    expect(computeTrait(sumOf("sum", "revenue"), facts, now).value).toBe(1e308);
  });

  it("shows a sum and an average of prices without the binary noise of decimal fractions", () => {
    // As doubles, 59.9 + 332.9 is 392.79999999999995, and (0.1 + 0.2) / 2 is 0.15000000000000002.
    const prices = memoryFacts({ events: [order(2, { revenue: 59.9 }), order(1, { revenue: 332.9 })] });
    expect(computeTrait(sumOf("sum", "revenue"), prices, now).value).toBe(392.8);
    const cents = memoryFacts({ events: [order(2, { revenue: 0.1 }), order(1, { revenue: 0.2 })] });
    expect(computeTrait(sumOf("avg", "revenue"), cents, now).value).toBe(0.15);
    // Whole numbers keep every digit.
    const large = memoryFacts({ events: [order(2, { revenue: 2 ** 53 - 1 }), order(1, { revenue: 0 })] });
    expect(computeTrait(sumOf("sum", "revenue"), large, now).value).toBe(2 ** 53 - 1);
  });

  it("skips a value too large for a unique_list and keeps the others, most recent first", () => {
    const big = "x".repeat(20_000);
    const bigNewer = memoryFacts({ events: [order(2, { v: "small" }), order(1, { v: big })] });
    expect(computeTrait(sumOf("unique_list", "v"), bigNewer, now).value).toEqual(["small"]);
    const between = memoryFacts({ events: [order(3, { v: "old1" }), order(2, { v: big }), order(1, { v: "new1" })] });
    expect(computeTrait(sumOf("unique_list", "v"), between, now).value).toEqual(["new1", "old1"]);
    // A value left out takes no place among the 100: the 101st most recent comes in.
    const many = memoryFacts({
      events: [...Array.from({ length: 101 }, (_, i) => order(200 - i, { v: `v${i}` })), order(1, { v: big })],
    });
    const list = computeTrait(sumOf("unique_list", "v"), many, now).value as string[];
    expect([list.length, list[0], list[99]]).toEqual([100, "v100", "v1"]);
  });

  it("keeps a unique_list within 16 KB of JSON: fewer, most recent, values when they are large", () => {
    const facts = memoryFacts({
      events: Array.from({ length: 100 }, (_, i) => order(100 - i, { note: `${i}-`.padEnd(1_000, "n") })),
    });
    const list = computeTrait(sumOf("unique_list", "note"), facts, now).value as string[];
    expect(list.map((note) => note.split("-")[0])).toEqual(Array.from({ length: 16 }, (_, i) => `${99 - i}`));
    expect(JSON.stringify(list).length).toBeLessThanOrEqual(16_384);
    const huge = memoryFacts({ events: [order(1, { note: "h".repeat(20_000) })] });
    expect(computeTrait(sumOf("unique_list", "note"), huge, now).value).toBeNull();
  });

  it("keeps the 100 most recent distinct values in unique_list, and counts them all in unique_count", () => {
    const facts = memoryFacts({
      events: Array.from({ length: 130 }, (_, i) =>
        trackAt("Product Viewed", now - (130 - i) * HOUR, { sku: `s${i % 120}` }),
      ),
    });
    const list = computeTrait({ op: "unique_list", event: "Product Viewed", property: "sku" }, facts, now).value;
    expect(list).toHaveLength(100);
    expect((list as string[]).slice(0, 3)).toEqual(["s9", "s8", "s7"]);
    expect(new Set(list as string[]).size).toBe(100);
    expect(computeTrait({ op: "unique_count", event: "Product Viewed", property: "sku" }, facts, now).value).toBe(120);
  });

  it("tells 1 and '1' apart as values", () => {
    const facts = memoryFacts({ events: [order(2, { size: 1 }), order(1, { size: "1" })] });
    expect(computeTrait(sumOf("unique_list", "size"), facts, now).value).toEqual(["1", 1]);
  });
});

describe("computeTrait windows", () => {
  const def: ComputedTraitDefinition = { op: "sum", event: "Order Completed", property: "revenue", within: "30d" };
  const t = now - 10 * DAY;
  const facts = () =>
    memoryFacts({ events: [trackAt("Order Completed", t, { revenue: 7 }), order(1, { revenue: 3 })] });

  it("counts an event until the millisecond its window ends, then drops it", () => {
    const end = t + 30 * DAY;
    expect(computeTrait(def, facts(), now)).toEqual({ value: 10, nextChangeAt: end });
    expect(computeTrait(def, facts(), end - 1)).toEqual({ value: 10, nextChangeAt: end });
    expect(computeTrait(def, facts(), end)).toEqual({ value: 3, nextChangeAt: now - DAY + 30 * DAY });
  });

  it("counts an event dated in the future from its own timestamp, and says when", () => {
    const soon = now + 2 * HOUR;
    const withFuture = facts();
    withFuture.add(trackAt("Order Completed", soon, { revenue: 100 }));
    expect(computeTrait(def, withFuture, now)).toEqual({ value: 10, nextChangeAt: soon });
    expect(computeTrait(def, withFuture, soon).value).toBe(110);
  });

  it("changes only with a future event when there is no window", () => {
    const all = { ...def, within: undefined };
    expect(computeTrait(all, facts(), now)).toEqual({ value: 10, nextChangeAt: null });
  });

  it("ignores, for the next change, events that do not feed the value", () => {
    const last: ComputedTraitDefinition = { op: "last", event: "Order Completed", property: "coupon", within: "30d" };
    const f = memoryFacts({ events: [order(20, {}), order(5, { coupon: "SPRING" })] });
    expect(computeTrait(last, f, now)).toEqual({ value: "SPRING", nextChangeAt: now + 25 * DAY });
  });
});

describe("first and last", () => {
  const shapes: Array<[string, Partial<ComputedTraitDefinition>]> = [
    ["all history", {}],
    ["within 1d", { within: "1d" }],
    ["within 7d, pos only", { within: "7d", where: [{ property: "channel", op: "eq", value: "pos" }] }],
  ];

  it.each((["first", "last"] as const).flatMap((op) => shapes.map(([name, shape]) => [op, name, shape] as const)))(
    "%s over %s: the value, and the instant it next changes, of a random history",
    (op, _name, shape) => {
      const next = seededRandom(op.length * 7 + JSON.stringify(shape).length);
      const def = { op, event: "Order Completed", property: "sku", ...shape } as ComputedTraitDefinition;
      const window = shape.within === "1d" ? DAY : shape.within === "7d" ? 7 * DAY : undefined;
      for (let trial = 0; trial < 40; trial++) {
        // Hours apart over ten days, some on one instant, some dated ahead; some without a sku or off the filter.
        const events = Array.from({ length: Math.floor(next() * 30) }, (_, i) => ({
          stored: i,
          at: now + Math.floor((next() - 0.85) * 240) * HOUR,
          sku: next() < 0.8 ? `sku-${i}` : undefined,
          channel: next() < 0.6 ? "pos" : "web",
          event: next() < 0.9 ? "Order Completed" : "Email Opened",
        }));
        const facts = memoryFacts({
          events: events.map((e) => trackAt(e.event, e.at, { sku: e.sku, channel: e.channel })),
        });
        // What DESIGN §6 asks, worked out over every event: the oldest (or newest) due value in the window, ties by
        // storage order; it changes when it leaves the window, or when a future event comes due and takes its place.
        const feeding = events.filter(
          (e) =>
            e.event === "Order Completed" &&
            e.sku !== undefined &&
            (!shape.where || e.channel === "pos") &&
            (window === undefined || e.at >= now - window),
        );
        const due = feeding.filter((e) => e.at <= now);
        const byTime = (a: (typeof due)[0], b: (typeof due)[0]) => a.at - b.at || a.stored - b.stored;
        const held = op === "first" ? due.sort(byTime)[0] : due.sort(byTime).at(-1);
        const future = feeding.filter((e) => e.at > now).map((e) => e.at);
        const comingDue = future.length > 0 ? Math.min(...future) : null;
        const leaves = held && window !== undefined ? held.at + window : null;
        const expected = {
          value: held?.sku ?? null,
          nextChangeAt: !held ? comingDue : op === "first" ? leaves : minOf(leaves, comingDue),
        };
        expect(computeTrait(def, facts, now), `trial ${trial}`).toEqual(expected);
      }
    },
  );

  it("reads only up to the value, however long the history", () => {
    const facts = memoryFacts({
      events: Array.from({ length: 1_000 }, (_, i) => order(1_000 - i, { sku: `sku-${i}` })),
    });
    expect(computeTrait(sumOf("last", "sku"), facts, now).value).toBe("sku-999");
    expect(computeTrait(sumOf("first", "sku"), facts, now).value).toBe("sku-0");
    expect(facts.reads).toBe(2);
  });
});

function minOf(a: number | null, b: number | null): number | null {
  if (a === null) return b;
  return b === null ? a : Math.min(a, b);
}
