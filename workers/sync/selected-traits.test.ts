/**
 * Every vendor call carries the traits the destination selects now (DESIGN §7 `traits`), not those selected when an
 * operation was queued: a dead letter replayed after the destination dropped a trait, or an op queued before the
 * change, must not send it. The vendor is the recording fake of `test-support/recording-vendor.ts` (traits
 * `["first_name"]`).
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { membershipOp, recordingVendor } from "../test-support/recording-vendor";
import { marketo } from "./destinations/marketo";
import type { ContactUpsert, MembershipOp } from "./plugin";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("a destination's drain", { timeout: 60_000 }, () => {
  it("sends only the traits the destination selects now, and invents none the op lacks", async () => {
    const vendor = await recordingVendor(["a1"]);
    // Queued when the destination also selected lifetime_value (and before it selected nothing else).
    const op = membershipOp("prf_sel", "a1", 1, { traits: { first_name: "Ann", lifetime_value: 42 } });
    await vendor.enqueue([op]);
    await vendor.drainAll();

    const upserted = vi.mocked(marketo.upsertContacts).mock.calls.flatMap(([, items]) => items as ContactUpsert[]);
    expect(upserted.map((i) => [i.traits, i.profile?.traits])).toEqual([
      [{ first_name: "Ann" }, { first_name: "Ann" }],
    ]);
    const listed = vi.mocked(marketo.applyMemberships).mock.calls.flatMap(([, , items]) => items as MembershipOp[]);
    expect(listed.map((i) => i.traits)).toEqual([{ first_name: "Ann" }]);
  });

  it("costs no call when only a trait the destination no longer selects differs from what was synced", async () => {
    const vendor = await recordingVendor(["a1"]);
    await vendor.enqueue([membershipOp("prf_same", "a1", 1, { traits: { first_name: "Ann" } })]);
    await vendor.drainAll();
    expect(vendor.upserts).toEqual([["prf_same@example.com"]]);
    vendor.upserts.length = 0;
    await vendor.enqueue([membershipOp("prf_same", "a1", 2, { traits: { first_name: "Ann", lifetime_value: 7 } })]);
    await vendor.drainAll();
    expect(vendor.upserts).toEqual([]);
  });
});
