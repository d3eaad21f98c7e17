import type { AudienceNode } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { chainBetween, dependencyOrder, referencesOf } from "./audience-graph";

describe("audience references", () => {
  it("lists references in document order with their paths", () => {
    const refs = referencesOf({
      all: [{ computed: "ltv", op: "gt", value: 1 }, { not: { any: [{ audience: "vip" }] } }],
    });
    expect(refs).toEqual([
      { kind: "computed", key: "ltv", path: ["all", 0, "computed"] },
      { kind: "audience", key: "vip", path: ["all", 1, "not", "any", 0, "audience"] },
    ]);
  });

  it("finds the chain from one audience to another", () => {
    const defs: Record<string, AudienceNode> = {
      a: { audience: "b" },
      b: { any: [{ audience: "c" }] },
      c: { trait: "x", op: "exists" },
    };
    expect(chainBetween("a", "c", (k) => defs[k])).toEqual(["a", "b", "c"]);
    expect(chainBetween("c", "a", (k) => defs[k])).toBeUndefined();
  });

  it("orders audiences after their dependencies, alphabetically otherwise", () => {
    const order = dependencyOrder({
      a: { audience: "m" },
      m: { audience: "z" },
      b: { trait: "x", op: "exists" },
      z: { trait: "x", op: "exists" },
    });
    expect(order).toEqual(["z", "m", "a", "b"]);
  });

  it("throws on a cycle, which only a definition that skipped validation can hold", () => {
    expect(() => dependencyOrder({ a: { audience: "b" }, b: { audience: "a" } })).toThrow("audience cycle: a → b → a");
  });
});
