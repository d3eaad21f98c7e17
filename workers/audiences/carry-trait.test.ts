import type { ComputedTraitDefinition } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { DAY, HOUR, MINUTE, memoryFacts, trackAt } from "../test-support/profile-facts";
import { seededRandom } from "../test-support/seeded-random";
import { type DefinitionSet, type EvaluationMemo, evaluateAll } from "./evaluate";

const T0 = Date.UTC(2026, 0, 1);

const ops = ["count", "sum", "avg", "min", "max", "most_frequent", "unique_list", "unique_count"] as const;
const tallies = new Set<string>(["most_frequent", "unique_list", "unique_count"]);
const shapes: Array<[string, Partial<ComputedTraitDefinition>]> = [
  ["all history", {}],
  ["within 1d", { within: "1d" }],
  ["within 7d, pos only", { within: "7d", where: [{ property: "channel", op: "eq", value: "pos" }] }],
];

describe("computed traits carried forward from the last evaluation", () => {
  it.each(ops.flatMap((op) => shapes.map(([name, shape]) => [op, name, shape] as const)))(
    "%s over %s: the carried value and the next change are the recomputed ones, at every step",
    (op, _name, shape) => {
      const next = seededRandom(op.length * 31 + JSON.stringify(shape).length);
      const def = {
        op,
        event: "Order Completed",
        ...(op === "count" ? {} : { property: tallies.has(op) ? "sku" : "total" }),
        ...shape,
      } as ComputedTraitDefinition;
      const set: DefinitionSet = { computed: { x: def }, audiences: {} };
      const facts = memoryFacts();
      let memo: EvaluationMemo | undefined;
      let now = T0;
      let carried = 0;
      for (let step = 0; step < 300; step++) {
        now += Math.floor(next() * 3 * HOUR);
        // New events: mostly recent, some old (an import of history), a few dated ahead; cents, and text now and then.
        for (let k = Math.floor(next() * 4); k > 0; k--) {
          const r = next();
          const exact =
            r < 0.7 ? now - Math.floor(next() * HOUR) : r < 0.9 ? now - Math.floor(next() * 20 * DAY) : now + HOUR;
          // Some on a whole ten minutes: events on one instant, whose order of storage breaks ties.
          const at = next() < 0.3 ? exact - (exact % (10 * MINUTE)) : exact;
          const total = next() < 0.9 ? Math.round(next() * 20_000) / 100 : "n/a";
          facts.add(
            trackAt(next() < 0.9 ? "Order Completed" : "Email Opened", at, {
              total,
              sku: next() < 0.9 ? `sku-${Math.floor(next() * 6)}` : { bundle: [1, 2] },
              channel: next() < 0.5 ? "pos" : "web",
            }),
          );
        }
        if (step % 97 === 96) facts.remove(0);
        const asked = facts.queries.length;
        const result = evaluateAll(set, facts, now, memo);
        const readTheLog = facts.queries.length !== asked;
        if (!readTheLog) carried++;
        // The memo says when a trait was made from the whole log again: the ProfileDO stores such a memo.
        expect(result.memo?.recomputed, `step ${step}`).toBe(readTheLog);
        // A memo is read, never changed: a write that rolled back may evaluate from the same memo again.
        expect(evaluateAll(set, facts, now, memo).computed, `step ${step}, again`).toEqual(result.computed);
        const recomputed = evaluateAll(set, facts, now);
        expect(result.computed, `step ${step}`).toEqual(recomputed.computed);
        expect(result.nextChangeAt, `step ${step}`).toBe(recomputed.nextChangeAt);
        memo = result.memo;
      }
      // Carried unless a future event came due (or an event was removed); min and max also recompute when their
      // extreme left the window, which count, sum and avg never need to.
      expect(carried).toBeGreaterThan(200);
    },
  );

  it("takes out what left the window, down to nothing, without reading the window again", () => {
    const facts = memoryFacts({
      events: [
        trackAt("Order Completed", T0 - 2 * HOUR, { total: 0.1 }),
        trackAt("Order Completed", T0 - HOUR, { total: 0.2 }),
      ],
    });
    const set: DefinitionSet = {
      computed: { x: { op: "sum", event: "Order Completed", property: "total", within: "1d" } },
      audiences: {},
    };
    const first = evaluateAll(set, facts, T0);
    expect(first).toMatchObject({ computed: { x: 0.3 }, nextChangeAt: T0 - 2 * HOUR + DAY });
    const asked = facts.queries.length;
    const oneLeft = evaluateAll(set, facts, T0 - 2 * HOUR + DAY, first.memo);
    expect(oneLeft).toMatchObject({ computed: { x: 0.2 }, nextChangeAt: T0 - HOUR + DAY });
    const noneLeft = evaluateAll(set, facts, T0 + 2 * DAY, oneLeft.memo);
    expect(noneLeft).toMatchObject({ computed: { x: 0 }, nextChangeAt: null });
    expect(facts.queries.length).toBe(asked);
  });

  it("carries a sum past the largest double and back as a recomputed one: no value, then the exact sum", () => {
    const set: DefinitionSet = {
      computed: { x: { op: "sum", event: "Order Completed", property: "total" } },
      audiences: {},
    };
    const facts = memoryFacts();
    let memo: EvaluationMemo | undefined;
    const values: unknown[] = [];
    for (const [i, total] of [1e308, 1e308, -1e308].entries()) {
      facts.add(trackAt("Order Completed", T0 + i * MINUTE, { total }));
      const asked = facts.queries.length;
      const result = evaluateAll(set, facts, T0 + HOUR, memo);
      if (memo) expect(facts.queries.length, `event ${i}`).toBe(asked);
      expect(result.computed, `event ${i}`).toEqual(evaluateAll(set, facts, T0 + HOUR).computed);
      values.push(result.computed.x);
      memo = result.memo;
    }
    expect(values).toEqual([1e308, null, 1e308]);
  });

  it("ranks an event carried in after every event stored before it on the same instant", () => {
    const at = T0 - HOUR;
    const facts = memoryFacts({
      events: [trackAt("Order Completed", at, { sku: "A" }), trackAt("Order Completed", at, { sku: "B" })],
    });
    const set: DefinitionSet = {
      computed: { skus: { op: "unique_list", event: "Order Completed", property: "sku" } },
      audiences: {},
    };
    const first = evaluateAll(set, facts, T0);
    expect(first.computed).toEqual({ skus: ["B", "A"] });
    facts.add(trackAt("Order Completed", at, { sku: "A" }));
    const asked = facts.queries.length;
    expect(evaluateAll(set, facts, T0, first.memo).computed).toEqual({ skus: ["A", "B"] });
    expect(facts.queries.length).toBe(asked);
    expect(evaluateAll(set, facts, T0).computed).toEqual({ skus: ["A", "B"] });
  });

  it("does not carry a tally of more distinct values than it keeps, and still answers from the log", () => {
    const facts = memoryFacts({
      events: Array.from({ length: 1_001 }, (_, i) => trackAt("Order Completed", T0 - i * HOUR, { id: `o-${i}` })),
    });
    const set: DefinitionSet = {
      computed: { orders: { op: "unique_count", event: "Order Completed", property: "id" } },
      audiences: {},
    };
    const first = evaluateAll(set, facts, T0);
    expect(first).toMatchObject({ computed: { orders: 1_001 } });
    expect(first.memo).toBeUndefined();
    facts.add(trackAt("Order Completed", T0, { id: "o-new" }));
    expect(evaluateAll(set, facts, T0 + 1, first.memo).computed).toEqual({ orders: 1_002 });
  });

  it("recomputes when the definition changed", () => {
    const facts = memoryFacts({ events: [trackAt("Order Completed", T0 - HOUR, { total: 5 })] });
    const sum: ComputedTraitDefinition = { op: "sum", event: "Order Completed", property: "total" };
    const first = evaluateAll({ computed: { x: sum }, audiences: {} }, facts, T0);
    const max = { ...sum, op: "max" } as ComputedTraitDefinition;
    facts.add(trackAt("Order Completed", T0, { total: 7 }));
    const asked = facts.queries.length;
    expect(evaluateAll({ computed: { x: max }, audiences: {} }, facts, T0 + 1, first.memo).computed).toEqual({ x: 7 });
    expect(facts.queries.length).toBe(asked + 1);
  });
});
