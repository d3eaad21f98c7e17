/**
 * The vendor's throttling is visible in the destination's sync log (DESIGN §7 log: `outcome: "retry"` with the
 * reason in `error`): each held item says the vendor's reason and when sending resumes, and spends no attempt.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { findDestinationById } from "../../d1/queries/destinations";
import { listSyncLog } from "../../d1/queries/sync-records";
import { eventually } from "../test-support/destinations";
import { membershipOp, recordingVendor } from "../test-support/recording-vendor";
import { destinationStub } from "./consumer";
import { marketo } from "./destinations/marketo";
import { Throttled } from "./plugin";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("a throttled vendor call", { timeout: 60_000 }, () => {
  it("logs a retry per item with the vendor's reason and when it resumes, spending no attempt", async () => {
    const vendor = await recordingVendor(["vip"]);
    vi.spyOn(marketo, "upsertContacts").mockRejectedValue(
      new Throttled(20_000, "606: Max rate limit '100' exceeded with in '20' secs"),
    );
    const before = Date.now();
    await vendor.enqueue([membershipOp("prf_a", "vip", 1), membershipOp("prf_b", "vip", 1)]);
    await vendor.drain();
    const log = await eventually(async () => {
      const rows = await listSyncLog(env.DB, vendor.destinationId, { limit: 10 });
      expect(rows).toHaveLength(2);
      return rows;
    });
    expect(log.map((l) => [l.profileId, l.action, l.outcome, l.attempts]).sort()).toEqual([
      ["prf_a", "add", "retry", 0],
      ["prf_b", "add", "retry", 0],
    ]);
    for (const entry of log) {
      expect(entry.error).toMatch(/^throttled: 606: Max rate limit .* resumes at /);
      const resumesAt = Date.parse((entry.error as string).split("resumes at ")[1]);
      expect(resumesAt).toBeGreaterThanOrEqual(before + 20_000);
    }
    expect(await destinationStub(env, vendor.destinationId).pendingCount()).toBe(2);
    // A throttle is not an error of the destination: its status keeps no error for it.
    expect((await findDestinationById(env.DB, vendor.destinationId))?.lastError).toBeNull();
  });
});
