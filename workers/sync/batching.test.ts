/**
 * What a drain sends a vendor (DESIGN §7 "chunking to each vendor's limits"): each audience's list changes fill the
 * vendor's batch when that much is waiting, and a contact is upserted once per destination however many of its
 * audiences changed. The vendor is the recording fake of `test-support/recording-vendor.ts` (Marketo's limits: 300).
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { listSyncLog } from "../../d1/queries/sync-records";
import { membershipOp, recordingVendor } from "../test-support/recording-vendor";

afterEach(() => {
  vi.restoreAllMocks();
});

const AUDIENCES = ["a1", "a2", "a3", "a4", "a5"];

describe("a destination's drain", { timeout: 60_000 }, () => {
  it("fills each audience's list call up to the vendor's batch when more is waiting", async () => {
    const vendor = await recordingVendor(AUDIENCES);
    // 400 profiles entering five audiences: 2,000 memberships waiting at once, more than one drain takes.
    const profiles = Array.from({ length: 400 }, (_, i) => `prf_batch${String(i).padStart(3, "0")}`);
    await vendor.enqueue(AUDIENCES.flatMap((a) => profiles.map((p) => membershipOp(p, a, 1))));
    await vendor.drainAll();
    // Full batches while more waits; the last 100 of each audience, all that is left, go as they are.
    const perAudience = new Map<string, number[]>();
    for (const c of vendor.listCalls) perAudience.set(c.list, [...(perAudience.get(c.list) ?? []), c.items.length]);
    expect([...perAudience].sort()).toEqual(AUDIENCES.map((a) => [a, [300, 100]]));
  });

  it("sends a lone change as it is, without waiting for more", async () => {
    const vendor = await recordingVendor(AUDIENCES);
    await vendor.enqueue([membershipOp("prf_lone", "a1", 1)]);
    await vendor.drainAll();
    expect(vendor.listCalls).toEqual([{ list: "a1", items: ["+prf_lone@example.com"] }]);
  });

  it("upserts a contact once when a trait change restates its memberships in several audiences", async () => {
    const vendor = await recordingVendor(AUDIENCES);
    await vendor.enqueue(AUDIENCES.map((a, i) => membershipOp("prf_ann", a, i + 1, { traits: { first_name: "Ann" } })));
    await vendor.drainAll();
    expect(vendor.upserts).toEqual([["prf_ann@example.com"]]);
    expect(vendor.listCalls).toHaveLength(5);
    // The trait changes: the profile restates each of its five memberships under a new seq.
    vendor.upserts.length = 0;
    vendor.listCalls.length = 0;
    await vendor.enqueue(
      AUDIENCES.map((a, i) => membershipOp("prf_ann", a, i + 6, { traits: { first_name: "Annie" } })),
    );
    await vendor.drainAll();
    expect(vendor.upserts).toEqual([["prf_ann@example.com"]]);
    expect(vendor.listCalls).toEqual([]);
    // The log still says, per audience, that the member was upserted.
    const log = await listSyncLog(env.DB, vendor.destinationId, { limit: 20 });
    expect(
      log
        .filter((l) => l.action === "upsert")
        .map((l) => `${l.audience}:${l.outcome}`)
        .sort(),
    ).toEqual(AUDIENCES.map((a) => `${a}:ok`));
  });
});
