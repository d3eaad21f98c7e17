import type { AudienceNode } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import {
  type DefinitionContext,
  validateAudienceDefinition,
  validateComputedTraitDefinition,
} from "./validate-definition";

const OPS = "eq, neq, gt, gte, lt, lte, contains, starts_with, exists, not_exists, in";
const KINDS = "all, any, not, trait, computed, event, audience";
const KEY_FORM = "lowercase letters, digits and _, starting with a letter, at most 64";
const TRAIT_OPS = "count, sum, avg, min, max, most_frequent, first, last, unique_list, unique_count";

const ctx: DefinitionContext = {
  audiences: new Map<string, AudienceNode>([
    ["vip", { trait: "plan", op: "eq", value: "pro" }],
    ["a", { audience: "b" }],
    ["b", { trait: "plan", op: "exists" }],
    ["c", { any: [{ audience: "a" }, { audience: "vip" }] }],
  ]),
  computedTraits: new Set(["lifetime_value"]),
};

const seed = {
  all: [
    { event: "Order Completed", where: [{ property: "channel", op: "eq", value: "pos" }], within: "30d" },
    { not: { event: "Email Opened", within: "60d" } },
  ],
};

const event = (extra: Record<string, unknown>) => ({ event: "Order Completed", ...extra });
const where = (condition: Record<string, unknown>) => event({ where: [condition] });
const nested = (levels: number): unknown => (levels === 1 ? { event: "x" } : { not: nested(levels - 1) });

describe("validateAudienceDefinition", () => {
  it.each<[string, unknown]>([
    ["the seed workflow of DESIGN §6", seed],
    ["every node type", { any: [{ not: { audience: "vip" } }, { computed: "lifetime_value", op: "gte", value: 100 }] }],
    ["a trait path with $ and dots", { trait: "$email.domain", op: "starts_with", value: "a" }],
    ["any track event with a count", { event: "*", count: { op: "lt", value: 3 }, within: "90s" }],
    ["every condition op", event({ where: OPS.split(", ").map((op) => cond(op)) })],
    ["a $ path into the message", where({ property: "$context.page.path", op: "starts_with", value: "/checkout" })],
    ["depth 8", nested(8)],
    ["50 nodes", { any: Array.from({ length: 49 }, () => ({ trait: "plan", op: "exists" })) }],
    ["10 event nodes", { any: Array.from({ length: 10 }, () => ({ event: "x" })) }],
    [
      "caps at their limit",
      where({ property: "a.b.c.d.e.f.g.h.i.j", op: "in", value: Array(100).fill("x".repeat(1000)) }),
    ],
    ["the longest window and count", event({ within: "3650d", count: { op: "eq", value: 1000 } })],
    ["an audience built on one that refers to another", { audience: "c" }],
  ])("accepts %s", (_, definition) => {
    const result = validateAudienceDefinition(definition, ctx);
    expect(result).toEqual({ ok: true, value: definition });
  });

  const invalid: [unknown, string][] = [
    [undefined, "definition: is required"],
    ["vip", 'definition: must be a node (an object), not "vip"'],
    [[], "definition: must be a node (an object), not an array"],
    [{}, `definition: must have one of ${KINDS}`],
    [{ all: [], any: [] }, `definition: has both "all" and "any"; a node is exactly one of ${KINDS}`],
    [{ all: {} }, "definition.all: must be an array of nodes, not an object"],
    [{ any: [] }, "definition.any: must list at least one node"],
    [{ not: null }, "definition.not: must be a node (an object), not null"],
    [
      { all: [{ trait: "plan", op: "eq", value: "pro" }, { not: { event: "Email Opened", within: "60x" } }] },
      'definition.all[1].not.within: "60x" is not a duration',
    ],
    [event({ within: "0d" }), 'definition.within: "0d" is an empty window; it must be longer than zero'],
    [event({ within: "3651d" }), 'definition.within: "3651d" is longer than the 3650d cap on windows'],
    [event({ within: 30 }), "definition.within: 30 is not a duration"],
    [event({ whithin: "30d" }), "definition.whithin: is not a field (an event node has event, where, within, count)"],
    [{ event: "" }, 'definition.event: must be an event name, or "*" for any track event'],
    [{ event: "E".repeat(513) }, "definition.event: is longer than 512 characters"],
    [event({ where: {} }), "definition.where: must be an array of conditions, not an object"],
    [
      event({ where: ["channel"] }),
      'definition.where[0]: must be a condition {"property", "op", "value"}, not "channel"',
    ],
    [
      where({ property: "channel", op: "like", value: "p" }),
      `definition.where[0].op: "like" is not an operator (one of ${OPS})`,
    ],
    [where({ property: "channel", value: "p" }), `definition.where[0].op: is required (one of ${OPS})`],
    [where({ property: "a..b", op: "exists" }), 'definition.where[0].property: "a..b" has an empty segment'],
    [where({ property: "$", op: "exists" }), 'definition.where[0].property: "$" names no field of the event'],
    [
      where({ property: "a.b.c.d.e.f.g.h.i.j.k", op: "exists" }),
      'definition.where[0].property: "a.b.c.d.e.f.g.h.i.j.k" has more than 10 segments (cap: 10 per path)',
    ],
    [
      where({ op: "exists" }),
      'definition.where[0].property: must be a property path such as "channel" or "$context.page.path"',
    ],
    [
      where({ property: "channel", op: "exists", value: true }),
      'definition.where[0].value: must be left out: "exists" takes no value',
    ],
    [
      where({ property: "channel", op: "in", value: "pos" }),
      'definition.where[0].value: must be an array of 1 to 100 values for "in"',
    ],
    [
      where({ property: "channel", op: "in", value: [] }),
      'definition.where[0].value: must be an array of 1 to 100 values for "in"',
    ],
    [
      where({ property: "channel", op: "in", value: Array(101).fill("pos") }),
      'definition.where[0].value: has 101 values, over the cap of 100 per "in"',
    ],
    [
      where({ property: "channel", op: "in", value: ["pos", {}] }),
      'definition.where[0].value[1]: must be a string, a number or a boolean for an item of "in", not an object',
    ],
    [
      { trait: "plan", op: "eq", value: null },
      'definition.value: must be a string, a number or a boolean for "eq", not null (use "not_exists" for a missing value)',
    ],
    [{ trait: "plan", op: "eq" }, 'definition.value: is required for "eq"'],
    [{ trait: "plan", op: "gt" }, 'definition.value: is required for "gt"'],
    [{ trait: "age", op: "gt", value: true }, 'definition.value: must be a number or a string for "gt", not true'],
    [{ trait: "email", op: "starts_with", value: 5 }, 'definition.value: must be a string for "starts_with", not 5'],
    [
      { trait: "note", op: "contains", value: "x".repeat(1001) },
      "definition.value: is longer than the 1000-character cap on values",
    ],
    [{ trait: "", op: "exists" }, 'definition.trait: must be a trait path such as "plan" or "address.city"'],
    [
      { trait: "plan", op: "eq", value: "pro", extra: 1 },
      "definition.extra: is not a field (a trait node has trait, op, value)",
    ],
    [{ computed: "LTV", op: "gte", value: 1 }, `definition.computed: "LTV" is not a computed trait key (${KEY_FORM})`],
    [{ audience: 5 }, `definition.audience: 5 is not an audience key (${KEY_FORM})`],
    [event({ count: "3" }), 'definition.count: must be an object {"op", "value"}, not "3"'],
    [
      event({ count: { op: "between", value: 1 } }),
      'definition.count.op: "between" is not a count operator (one of eq, neq, gt, gte, lt, lte)',
    ],
    [event({ count: { value: 1 } }), "definition.count.op: is required (one of eq, neq, gt, gte, lt, lte)"],
    [
      event({ count: { op: "gte", value: 1001 } }),
      "definition.count.value: must be a whole number from 0 to 1000 (the cap: deciding a count reads up to that many events)",
    ],
    [
      event({ count: { op: "gte", value: 1.5 } }),
      "definition.count.value: must be a whole number from 0 to 1000 (the cap: deciding a count reads up to that many events)",
    ],
    [
      event({ count: { op: "gte", value: 1, per: "day" } }),
      'definition.count.per: is not a field (a count has "op" and "value")',
    ],
    [nested(9), "definition.not.not.not.not.not.not.not.not: exceeds the cap of 8 levels of nesting"],
    [
      { any: Array.from({ length: 50 }, () => ({ trait: "plan", op: "exists" })) },
      "definition.any[49]: exceeds the cap of 50 nodes and conditions (each is tested on every evaluation)",
    ],
    [
      event({ where: Array.from({ length: 50 }, () => ({ property: "channel", op: "exists" })) }),
      "definition.where[49]: exceeds the cap of 50 nodes and conditions (each is tested on every evaluation)",
    ],
    [
      { any: Array.from({ length: 11 }, () => ({ event: "x" })) },
      "definition.any[10]: exceeds the cap of 10 event nodes (each reads the event log on every evaluation)",
    ],
    [
      {
        any: [
          { event: "A", within: "1y" },
          { trait: "x", op: "bogus" },
        ],
      },
      'definition.any[0].within: "1y" is not a duration',
    ],
    [
      { any: [{ trait: "plan", op: "exists" }, { audience: "gold" }] },
      'definition.any[1].audience: unknown audience "gold"',
    ],
    [{ computed: "ltv", op: "gt", value: 0 }, 'definition.computed: unknown computed trait "ltv"'],
    [
      { all: [{ audience: "nope" }, { event: "X", within: "60x" }] },
      'definition.all[1].within: "60x" is not a duration',
    ],
  ];

  it.each(invalid.map(([definition, message]) => [message, definition]))("refuses with %s", (message, definition) => {
    expect(validateAudienceDefinition(definition, ctx)).toEqual({ ok: false, message });
  });

  it("refuses an audience that contains itself", () => {
    const result = validateAudienceDefinition({ all: [{ audience: "vip" }] }, { ...ctx, key: "vip" });
    expect(result).toEqual({
      ok: false,
      message: 'definition.all[0].audience: "vip" is the audience being defined; it cannot contain itself',
    });
  });

  it("refuses a cycle through other audiences, naming the loop", () => {
    // a → b already; b now referring to a (directly) or to c (which reaches b through a) closes a loop.
    expect(validateAudienceDefinition({ not: { audience: "a" } }, { ...ctx, key: "b" })).toEqual({
      ok: false,
      message: 'definition.not.audience: "a" refers back to "b" (b → a → b); audiences cannot form a cycle',
    });
    expect(validateAudienceDefinition({ any: [{ audience: "vip" }, { audience: "c" }] }, { ...ctx, key: "b" })).toEqual(
      {
        ok: false,
        message: 'definition.any[1].audience: "c" refers back to "b" (b → c → a → b); audiences cannot form a cycle',
      },
    );
  });

  it("accepts an update that refers to audiences which do not lead back to it", () => {
    expect(validateAudienceDefinition({ audience: "vip" }, { ...ctx, key: "b" }).ok).toBe(true);
    expect(validateAudienceDefinition({ audience: "b" }, { ...ctx, key: "c" }).ok).toBe(true);
  });
});

describe("validateComputedTraitDefinition", () => {
  it.each<[unknown]>([
    [{ op: "count", event: "*" }],
    [{ op: "count", event: "Order Completed", property: "revenue" }],
    [{ op: "sum", event: "Order Completed", property: "revenue", within: "365d" }],
    [{ op: "unique_list", event: "Product Viewed", property: "$context.page.path", where: [cond("eq")] }],
  ])("accepts %j", (definition) => {
    expect(validateComputedTraitDefinition(definition)).toEqual({ ok: true, value: definition });
  });

  it.each<[unknown, string]>([
    [undefined, "definition: is required"],
    [[], "definition: must be an object, not an array"],
    [{ event: "X" }, `definition.op: is required (one of ${TRAIT_OPS})`],
    [
      { op: "median", event: "X", property: "a" },
      `definition.op: "median" is not a computed-trait op (one of ${TRAIT_OPS})`,
    ],
    [{ op: "count" }, 'definition.event: must be an event name, or "*" for any track event'],
    [{ op: "sum", event: "X" }, 'definition.property: is required for "sum"'],
    [{ op: "last", event: "X", property: "a..b" }, 'definition.property: "a..b" has an empty segment'],
    [{ op: "count", event: "X", within: "1y" }, 'definition.within: "1y" is not a duration'],
    [
      { op: "count", event: "X", windw: "1d" },
      "definition.windw: is not a field (a computed trait has op, event, property, where, within)",
    ],
    [
      { op: "max", event: "X", property: "a", where: [{ property: "b", op: "gt" }] },
      'definition.where[0].value: is required for "gt"',
    ],
  ])("refuses %j with %s", (definition, message) => {
    expect(validateComputedTraitDefinition(definition)).toEqual({ ok: false, message });
  });
});

/** A valid condition on `channel` for `op`. */
function cond(op: string): Record<string, unknown> {
  if (op === "exists" || op === "not_exists") return { property: "channel", op };
  if (op === "in") return { property: "channel", op, value: ["pos", "web"] };
  return { property: "channel", op, value: "pos" };
}
