import { describe, expect, it } from "vitest";
import { MAX_ATTEMPTS, retryDelayMs } from "./retry-schedule";

/** Replays an outage of `outageMs` from the first attempt: when the first attempt after it runs, and its number. */
function recovery(outageMs: number): { at: number; attempt: number } {
  let at = 0;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    if (at >= outageMs) return { at, attempt };
    at += retryDelayMs(attempt);
  }
  return { at: Number.POSITIVE_INFINITY, attempt: MAX_ATTEMPTS + 1 };
}

describe("retry schedule", () => {
  it("notices the end of any outage up to a minute within 10 s, without dead-lettering", () => {
    for (let outageMs = 0; outageMs <= 60_000; outageMs += 500) {
      const { at, attempt } = recovery(outageMs);
      expect(attempt).toBeLessThanOrEqual(MAX_ATTEMPTS);
      expect(at - outageMs).toBeLessThanOrEqual(10_000);
    }
  });

  it("first retries after 2 s and never waits longer than 10 minutes between attempts", () => {
    expect(retryDelayMs(1)).toBe(2_000);
    const delays = Array.from({ length: MAX_ATTEMPTS + 3 }, (_, k) => retryDelayMs(k + 1));
    expect(Math.max(...delays)).toBe(600_000);
    expect(delays).toEqual([...delays].sort((a, b) => a - b));
  });

  it("gives up (a dead letter) only after about 20 minutes of failures", () => {
    let total = 0;
    for (let attempt = 1; attempt < MAX_ATTEMPTS; attempt++) total += retryDelayMs(attempt);
    expect(total).toBeGreaterThanOrEqual(15 * 60_000);
    expect(total).toBeLessThanOrEqual(30 * 60_000);
  });
});
