import { describe, expect, it } from "vitest";
import { backoffDelay, classify, DEFAULT_RETRY } from "./retry-policy";

describe("classify", () => {
  it("retries network failures, 408, 429 and 5xx but 501/505", () => {
    expect([0, 408, 429, 500, 502, 503, 504].map(classify)).toEqual(Array(7).fill("retry"));
    expect([501, 505].map(classify)).toEqual(["drop", "drop"]);
  });
  it("drops other client errors and splits on 413", () => {
    expect([400, 401, 403, 404, 422].map(classify)).toEqual(Array(5).fill("drop"));
    expect(classify(413)).toBe("split");
    expect(classify(200)).toBe("ok");
  });
});

describe("backoffDelay", () => {
  it("draws uniformly below an exponentially growing, capped ceiling (full jitter)", () => {
    expect(backoffDelay(0, undefined, DEFAULT_RETRY, () => 0.999)).toBeCloseTo(999, 0);
    expect(backoffDelay(3, undefined, DEFAULT_RETRY, () => 0.5)).toBe(4000);
    expect(backoffDelay(20, undefined, DEFAULT_RETRY, () => 1)).toBe(60_000);
    expect(backoffDelay(5, undefined, DEFAULT_RETRY, () => 0)).toBe(0);
  });
  it("honours Retry-After over jitter, capped at 300 s", () => {
    expect(backoffDelay(0, 7, DEFAULT_RETRY, () => 0)).toBe(7000);
    expect(backoffDelay(0, 3600, DEFAULT_RETRY, () => 0)).toBe(300_000);
  });
});
