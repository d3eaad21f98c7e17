/**
 * Operations of an audience taken off a destination after they were queued (or routed by an isolate that had not seen
 * the change yet): a drain drops them unsent — entries and exits alike, as taking an audience off a destination leaves
 * the vendor's list as it is — counts them skipped and says why in the sync log; nothing is dead-lettered.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { findDestinationById } from "../../d1/queries/destinations";
import { listDeadLetters, listSyncLog } from "../../d1/queries/sync-records";
import { membershipOp, recordingVendor } from "../test-support/recording-vendor";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("a drain after an audience was taken off the destination", () => {
  it("drops that audience's queued entries and exits unsent, counted skipped and logged, and sends the rest", async () => {
    const vendor = await recordingVendor(["vip", "churned"]);
    await vendor.enqueue([membershipOp("prf_left", "churned", 1)]);
    await vendor.drainAll();
    expect(vendor.listCalls).toEqual([{ list: "churned", items: ["+prf_left@example.com"] }]);
    vendor.listCalls.length = 0;
    vendor.upserts.length = 0;

    await env.DB.prepare("UPDATE destinations SET audiences = ? WHERE id = ?")
      .bind(JSON.stringify(["vip"]), vendor.destinationId)
      .run();
    await vendor.enqueue([
      membershipOp("prf_kept", "vip", 1),
      membershipOp("prf_new", "churned", 1),
      membershipOp("prf_left", "churned", 2, { member: false }),
    ]);
    await vendor.drainAll();

    expect(vendor.listCalls).toEqual([{ list: "vip", items: ["+prf_kept@example.com"] }]);
    expect(vendor.upserts).toEqual([["prf_kept@example.com"]]);
    expect(await listDeadLetters(env.DB, vendor.destinationId)).toEqual([]);
    const log = await listSyncLog(env.DB, vendor.destinationId, { limit: 20 });
    const churned = log.filter((l) => l.audience === "churned" && l.outcome !== "ok");
    expect(churned.map((l) => [l.profileId, l.action, l.outcome, l.error]).sort()).toEqual([
      ["prf_left", "remove", "skip", "not sent: the destination no longer syncs audience churned"],
      ["prf_new", "add", "skip", "not sent: the destination no longer syncs audience churned"],
    ]);
    const row = await findDestinationById(env.DB, vendor.destinationId);
    expect(row).toMatchObject({ skipped: 2, failed: 0 });
  });
});
