/** The minute's cron and its bound on destinations per invocation. */
import { describe, expect, it } from "vitest";
import { DESTINATIONS_PER_MINUTE, minuteShare } from "./cron";

describe("minuteShare", () => {
  it("takes every destination each minute up to the cap", () => {
    const ids = Array.from({ length: DESTINATIONS_PER_MINUTE }, (_, i) => `dst_${i}`);
    expect(minuteShare(ids, 0)).toEqual(ids);
    expect(minuteShare(ids, 29_000_123)).toEqual(ids);
  });

  it("past the cap, visits each destination once in each run of ⌈n / cap⌉ minutes, at most cap a minute", () => {
    const ids = Array.from({ length: 2_500 }, (_, i) => `dst_${String(i).padStart(5, "0")}`);
    const minutes = [29_000_121, 29_000_122, 29_000_123];
    const shares = minutes.map((m) => minuteShare(ids, m));
    for (const share of shares) expect(share.length).toBeLessThanOrEqual(DESTINATIONS_PER_MINUTE);
    expect(shares.flat().sort()).toEqual(ids);
    // The next run of three minutes starts over.
    expect(minuteShare(ids, 29_000_124)).toEqual(shares[0]);
  });
});
