/**
 * A member's email changes (DESIGN §7): the MAP's list must not keep the old email. The engine lists the new email
 * and removes the one it last sent (the `synced` table's) in the same list call; an email two profiles share (a
 * merge's loser and survivor) stays listed while one of them is still a member.
 */
import { env } from "cloudflare:workers";
import type { JsonObject } from "@tessera/protocol";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { DestinationRow } from "../../d1/queries/destinations";
import { findVendorIds, listSyncLog } from "../../d1/queries/sync-records";
import { membershipOp, recordingVendor } from "../test-support/recording-vendor";
import { route } from "./consumer";
import { marketo } from "./destinations/marketo";
import type { MembershipOp, Outcome } from "./plugin";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("the email a member is listed by", () => {
  const destination = { id: "dst_map", audiences: JSON.stringify(["vip"]), traits: "[]" } as DestinationRow;
  /** The email the consumer hands the destination for a profile with these identifiers (oldest first) and traits. */
  const listedBy = (emails: string[], traits: JsonObject) =>
    route(
      {
        kind: "membership",
        workspaceId: "ws_email",
        profileId: "prf_ann",
        audience: "vip",
        member: true,
        seq: 1,
        at: new Date().toISOString(),
        identifiers: [{ type: "user_id", value: "ann" }, ...emails.map((value) => ({ type: "email", value }))],
        traits,
        computed: {},
      },
      [destination],
    ).map(({ op }) => op.kind === "membership" && op.email);

  it("is the address the person gave last (the email trait), not the first the profile had", () => {
    // A profile keeps replaced addresses as identifiers (5 emails by default): the first would get the win-back mail.
    expect(listedBy(["ann@old.example", "ann@new.example"], { email: " Ann@New.example" })).toEqual([
      "ann@new.example",
    ]);
    expect(listedBy(["ann@new.example", "ann@old.example"], { email: "ann@new.example" })).toEqual(["ann@new.example"]);
  });

  it("is the newest email identifier when the email trait names none of them", () => {
    expect(listedBy(["ann@old.example", "ann@new.example"], {})).toEqual(["ann@new.example"]);
    expect(listedBy(["ann@old.example", "ann@new.example"], { email: "not an address" })).toEqual(["ann@new.example"]);
    expect(listedBy([], { email: "ann@new.example" })).toEqual([undefined]);
  });
});

describe("a member's email change", { timeout: 60_000 }, () => {
  it("lists the new email and removes the old one from the list", async () => {
    const vendor = await recordingVendor(["vip"]);
    await vendor.enqueue([membershipOp("prf_ann", "vip", 1, { email: "ann@old.example" })]);
    await vendor.drainAll();
    await vendor.enqueue([membershipOp("prf_ann", "vip", 2, { email: "ann@new.example" })]);
    await vendor.drainAll();
    expect(vendor.upserts).toEqual([["ann@old.example"], ["ann@new.example"]]);
    expect(vendor.listCalls).toEqual([
      { list: "vip", items: ["+ann@old.example"] },
      { list: "vip", items: ["+ann@new.example", "-ann@old.example"] },
    ]);
    // Her exit later names the email the vendor lists now.
    await vendor.enqueue([membershipOp("prf_ann", "vip", 3, { email: "ann@new.example", member: false })]);
    await vendor.drainAll();
    expect(vendor.listCalls[2]).toEqual({ list: "vip", items: ["-ann@new.example"] });
  });

  it("takes a member whose email was removed off the list, and lists them again when one comes back", async () => {
    const vendor = await recordingVendor(["vip"]);
    await vendor.enqueue([membershipOp("prf_bo", "vip", 1, { email: "bo@example.com" })]);
    await vendor.drainAll();
    // Still in the audience, but without an email the MAP cannot list them: the email it lists leaves.
    await vendor.enqueue([membershipOp("prf_bo", "vip", 2, { email: null })]);
    await vendor.drainAll();
    expect(vendor.listCalls).toEqual([
      { list: "vip", items: ["+bo@example.com"] },
      { list: "vip", items: ["-bo@example.com"] },
    ]);
    // Nothing more to remove while the email stays away; a new one is listed afresh.
    await vendor.enqueue([membershipOp("prf_bo", "vip", 3, { email: null, traits: { first_name: "Bo" } })]);
    await vendor.drainAll();
    expect(vendor.listCalls).toHaveLength(2);
    const [skipped] = await listSyncLog(env.DB, vendor.destinationId, { profileId: "prf_bo", limit: 1 });
    expect(skipped).toMatchObject({ outcome: "skip", error: "the profile has no email" });
    await vendor.enqueue([membershipOp("prf_bo", "vip", 4, { email: "bo@new.example" })]);
    await vendor.drainAll();
    expect(vendor.listCalls[2]).toEqual({ list: "vip", items: ["+bo@new.example"] });
  });

  it("keeps an email listed while another profile with it is still a member", async () => {
    const vendor = await recordingVendor(["vip"]);
    await vendor.enqueue([
      membershipOp("prf_loser", "vip", 1, { email: "jo@example.com" }),
      membershipOp("prf_survivor", "vip", 1, { email: "jo@example.com" }),
    ]);
    await vendor.drainAll();
    vendor.listCalls.length = 0;
    // The merge's loser exits; the survivor, with the same email, stays in.
    await vendor.enqueue([membershipOp("prf_loser", "vip", 2, { email: "jo@example.com", member: false })]);
    await vendor.drainAll();
    expect(vendor.listCalls).toEqual([]);
    const [entry] = await listSyncLog(env.DB, vendor.destinationId, { profileId: "prf_loser", limit: 1 });
    expect(entry).toMatchObject({ action: "remove", outcome: "skip" });
    expect(entry.error).toContain("stays listed for another profile");
    // The survivor's erase deletes her rows, not the loser's: an email in the loser's row would outlive it.
    expect(entry.error).not.toContain("jo@example.com");
  });

  it("keeps the vendor id an exit answers under the email it removed, not the profile's new one", async () => {
    const vendor = await recordingVendor(["vip", "zoo"]);
    // As the real plugins do, a removal answers the id of the contact it took off the list.
    const removedIds: string[] = [];
    vi.spyOn(marketo, "applyMemberships").mockImplementation(async (_ctx, _list, items: MembershipOp[]) =>
      items.map((i): Outcome => {
        if (i.member) return { status: "ok" };
        removedIds.push(i.identity.vendorId ?? "");
        return { status: "ok", vendorId: `lead:${i.identity.email}` };
      }),
    );
    await vendor.enqueue([
      membershipOp("prf_cy", "vip", 1, { email: "cy@old.example" }),
      membershipOp("prf_cy", "zoo", 1, { email: "cy@old.example" }),
    ]);
    await vendor.drainAll();
    // Her email changes: she stays in zoo under the new one, then leaves vip (listed there under the old one).
    await vendor.enqueue([membershipOp("prf_cy", "zoo", 2, { email: "cy@new.example" })]);
    await vendor.drainAll();
    await vendor.enqueue([membershipOp("prf_cy", "vip", 2, { email: "cy@new.example", member: false })]);
    await vendor.drainAll();
    const known = await findVendorIds(env.DB, vendor.destinationId, ["cy@old.example", "cy@new.example"]);
    expect(known.get("cy@new.example")).toBe("lead:cy@new.example");
    // So her exit from zoo later takes the new contact off the list, not the old one.
    await vendor.enqueue([membershipOp("prf_cy", "zoo", 3, { email: "cy@new.example", member: false })]);
    await vendor.drainAll();
    expect(removedIds.at(-1)).toBe("lead:cy@new.example");
  });
});
