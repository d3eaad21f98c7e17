import { describe, expect, it } from "vitest";
import { seededRandom } from "../test-support/seeded-random";
import { addExact, exactSum, partialsOf } from "./exact-sum";

describe("exactSum", () => {
  it("is the correctly rounded sum, where a plain loop loses bits", () => {
    expect(exactSum(partialsOf([0.1, 0.2, -0.1]))).toBe(0.2);
    expect(0.1 + 0.2 - 0.1).not.toBe(0.2);
    expect(exactSum(partialsOf([1e16, 1, -1e16]))).toBe(1);
    expect(exactSum(partialsOf(Array.from({ length: 10 }, () => 0.1)))).toBe(1);
    expect(exactSum(partialsOf([]))).toBe(0);
  });

  it("gives the same sum in any order, and when values are added to a sum already made", () => {
    const random = seededRandom(7);
    const prices = Array.from({ length: 2_000 }, () => Math.round(random() * 100_000) / 100 - 200);
    const forward = exactSum(partialsOf(prices));
    expect(exactSum(partialsOf([...prices].reverse()))).toBe(forward);
    expect(exactSum(partialsOf([...prices].sort((a, b) => a - b)))).toBe(forward);
    const carried = partialsOf(prices.slice(1_234));
    for (const p of prices.slice(0, 1_234)) addExact(carried, p);
    expect(exactSum(carried)).toBe(forward);
  });

  it("sums past the largest double on the way exactly, in any order: only a sum past it is infinite", () => {
    for (const values of [
      [1e308, 1e308, -1e308],
      [1e308, -1e308, 1e308],
      [-1e308, 1e308, 1e308],
    ]) {
      expect(exactSum(partialsOf(values)), JSON.stringify(values)).toBe(1e308);
    }
    expect(exactSum(partialsOf([1e308, 1e308]))).toBe(Number.POSITIVE_INFINITY);
    expect(exactSum(partialsOf([-1e308, -1e308]))).toBe(Number.NEGATIVE_INFINITY);
    // Divided before it is scaled back: the mean of finite values is finite however large their sum.
    expect(exactSum(partialsOf([Number.MAX_VALUE, Number.MAX_VALUE]), 2)).toBe(Number.MAX_VALUE);
  });
});
