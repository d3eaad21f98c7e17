import { describe, expect, it } from "vitest";
import { mergeJson } from "./context-merge";

describe("mergeJson", () => {
  it("merges nested objects with the second argument winning, replacing arrays whole", () => {
    expect(mergeJson({ a: { x: 1, y: 1 }, list: [1, 2], keep: true }, { a: { y: 2 }, list: [3] })).toEqual({
      a: { x: 1, y: 2 },
      list: [3],
      keep: true,
    });
  });

  it("never lets __proto__ reach a prototype, from either side", () => {
    const hostile = JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}');
    const merged = mergeJson(hostile, hostile) as Record<string, unknown>;
    expect(Object.getPrototypeOf(merged)).toBe(Object.prototype);
    expect(merged.polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(merged)).toEqual(["constructor"]);
    expect(merged.constructor).toEqual({ prototype: { polluted: true } });
    expect(Object.prototype).not.toHaveProperty("polluted");
  });

  it("does not modify its arguments", () => {
    const base = { a: { x: 1 } };
    mergeJson(base, { a: { y: 2 } });
    expect(base).toEqual({ a: { x: 1 } });
  });
});
