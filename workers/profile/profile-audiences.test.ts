import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { AudienceDefinition } from "@tessera/protocol";
import { afterEach, describe, expect, it, vi } from "vitest";
import { orm } from "../../d1/client";
import { deleteMembersOf, listMembers } from "../../d1/queries/members";
import { previewDefinition } from "../audiences/preview";
import { changeSinkFor } from "../ingest/change-delivery";
import { defineAll, LAPSED_STORE_BUYERS } from "../test-support/definitions";
import { identify, track } from "../test-support/messages";
import { outboxDelivered, outboxStateOf, profileOf } from "../test-support/profile-reads";
import { seedWorkspace } from "../test-support/seed";
import { store } from "../test-support/store-messages";
import { membershipChangesSent } from "../test-support/sync-messages";
import type { ProfileDO } from "./profile-do";
import { profileStub } from "./profile-stub";

const DAY = 86_400_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

afterEach(() => {
  vi.restoreAllMocks();
});

/** Runs the object's alarm (delivering its outbox, evaluating what is due) as the runtime would. */
const runAlarm = (id: string) => runDurableObjectAlarm(env.PROFILE.getByName(id));

async function members(workspaceId: string, audience: string, kind: "audience" | "computed_trait" = "audience") {
  return (await listMembers(env.DB, workspaceId, kind, audience, { limit: 100 })).map((m) => m.profileId);
}

describe("audiences in the ProfileDO", () => {
  it("evaluates in the commit of the causing event: enters, then exits at once on an open", async () => {
    const { workspaceId } = await seedWorkspace();
    await defineAll(workspaceId, { audiences: { lapsed: LAPSED_STORE_BUYERS } });
    const [id] = await store(workspaceId, [
      track("Order Completed", ago(10 * DAY), { anonymousId: "a1", properties: { channel: "pos" } }),
      track("Email Opened", ago(90 * DAY), { anonymousId: "a1" }),
    ]);
    const before = await profileOf(id as string);
    expect(before.audiences.map((a) => a.key)).toEqual(["lapsed"]);
    await store(workspaceId, [track("Email Opened", ago(0), { anonymousId: "a1" })]);
    expect((await profileOf(id as string)).audiences).toEqual([]);
  });

  it("delivers each change to audience_members and the sync queue with a per-profile rising seq", async () => {
    const sent = vi.spyOn(env.SYNC_QUEUE, "sendBatch");
    const { workspaceId } = await seedWorkspace();
    await defineAll(workspaceId, { audiences: { lapsed: LAPSED_STORE_BUYERS } });
    const [id] = await store(workspaceId, [
      identify({ email: "ann@example.com" }, ago(20 * DAY), { userId: "ann" }),
      track("Order Completed", ago(10 * DAY), { userId: "ann", properties: { channel: "pos" } }),
    ]);
    const profileId = id as string;
    await outboxDelivered(profileId);
    expect(await members(workspaceId, "lapsed")).toEqual([profileId]);
    await store(workspaceId, [track("Email Opened", ago(0), { userId: "ann" })]);
    await outboxDelivered(profileId);
    expect(await members(workspaceId, "lapsed")).toEqual([]);
    // Other tests' objects deliver in the background too: keep this profile's changes.
    const changes = membershipChangesSent(sent).filter((c) => c.profileId === profileId);
    expect(changes.map((c) => [c.audience, c.member])).toEqual([
      ["lapsed", true],
      ["lapsed", false],
    ]);
    expect(changes[1].seq).toBeGreaterThan(changes[0].seq);
    expect(changes[0]).toMatchObject({
      kind: "membership",
      workspaceId,
      profileId,
      traits: { email: "ann@example.com" },
    });
    expect(changes[0].identifiers).toContainEqual({ type: "email", value: "ann@example.com" });
  });

  it("enters by time alone when the last open leaves the window, at the alarm", async () => {
    const { workspaceId } = await seedWorkspace();
    await defineAll(workspaceId, { audiences: { lapsed: LAPSED_STORE_BUYERS } });
    // The open leaves the 60-day window 1.5 s from now.
    const [id] = await store(workspaceId, [
      track("Order Completed", ago(DAY), { anonymousId: "t1", properties: { channel: "pos" } }),
      track("Email Opened", ago(60 * DAY - 1500), { anonymousId: "t1" }),
    ]);
    const profileId = id as string;
    expect((await profileOf(profileId)).audiences).toEqual([]);
    const alarm = await runInDurableObject<ProfileDO, number | null>(env.PROFILE.getByName(profileId), (_i, state) =>
      state.storage.getAlarm(),
    );
    const boundary = Date.now() + 1500;
    expect(alarm).not.toBeNull();
    expect(Math.abs((alarm as number) - boundary)).toBeLessThan(1500);
    await new Promise((r) => setTimeout(r, Math.max(0, (alarm as number) - Date.now()) + 20));
    // Run the alarm now, unless the runtime already has (it fires by itself at the boundary).
    await runAlarm(profileId);
    await expect
      .poll(async () => (await profileOf(profileId)).audiences.map((a) => a.key), { timeout: 5_000 })
      .toEqual(["lapsed"]);
    // Entered by time alone: no event arrived, and not before the boundary.
    const [entered] = (await profileOf(profileId)).audiences;
    expect(Date.parse(entered.since)).toBeGreaterThanOrEqual((alarm as number) - 5);
    await outboxDelivered(profileId);
    expect(await members(workspaceId, "lapsed")).toEqual([profileId]);
  });

  it("shows a boundary that passed before its alarm ran: the read evaluates first", async () => {
    const { workspaceId } = await seedWorkspace();
    await defineAll(workspaceId, { audiences: { lapsed: LAPSED_STORE_BUYERS } });
    const [id] = await store(workspaceId, [
      track("Order Completed", ago(DAY), { anonymousId: "late1", properties: { channel: "pos" } }),
      track("Email Opened", ago(60 * DAY - 2000), { anonymousId: "late1" }),
    ]);
    const profileId = id as string;
    expect((await profileOf(profileId)).audiences).toEqual([]);
    // A runtime that fires the alarm late: here, not at all.
    await runInDurableObject<ProfileDO, void>(env.PROFILE.getByName(profileId), (_i, state) =>
      state.storage.deleteAlarm(),
    );
    await new Promise((r) => setTimeout(r, 2100));
    expect((await profileOf(profileId)).audiences.map((a) => a.key)).toEqual(["lapsed"]);
    await outboxDelivered(profileId);
    expect(await members(workspaceId, "lapsed")).toEqual([profileId]);
  });

  it("computes traits, shows them on the profile and counts profiles holding one", async () => {
    const { workspaceId } = await seedWorkspace();
    await defineAll(workspaceId, {
      computed: {
        orders: { op: "count", event: "Order Completed" },
        revenue: { op: "sum", event: "Order Completed", property: "revenue" },
        last_sku: { op: "last", event: "Order Completed", property: "sku" },
      },
      audiences: { big_spenders: { computed: "revenue", op: "gte", value: 100 } },
    });
    const [id] = await store(workspaceId, [
      track("Order Completed", ago(3 * DAY), { anonymousId: "c1", properties: { revenue: 60, sku: "A" } }),
      track("Order Completed", ago(2 * DAY), { anonymousId: "c1", properties: { revenue: 50, sku: "B" } }),
    ]);
    const profile = await profileOf(id as string);
    expect(profile.computed).toEqual({ orders: 2, revenue: 110, last_sku: "B" });
    expect(profile.audiences.map((a) => a.key)).toEqual(["big_spenders"]);
    await outboxDelivered(id as string);
    expect(await members(workspaceId, "revenue", "computed_trait")).toEqual([id]);
    expect(await members(workspaceId, "big_spenders")).toEqual([id]);
  });

  it("counts a last, min or avg of 0 as a value (only an empty count or sum is 0): in size, audiences and previews alike", async () => {
    const { workspaceId } = await seedWorkspace();
    const lastQty = { op: "last", event: "Order Completed", property: "qty" } as const;
    const orders = { op: "count", event: "Refund" } as const;
    await defineAll(workspaceId, {
      computed: {
        last_qty: lastQty,
        min_qty: { ...lastQty, op: "min" },
        mean_qty: { ...lastQty, op: "avg" },
        refunds: orders,
      },
      audiences: { has_qty: { computed: "last_qty", op: "exists" } },
    });
    const [id] = await store(workspaceId, [
      track("Order Completed", ago(2 * DAY), { anonymousId: "q1", properties: { qty: 0 } }),
    ]);
    const profileId = id as string;
    const profile = await profileOf(profileId);
    expect(profile.computed).toEqual({ last_qty: 0, min_qty: 0, mean_qty: 0, refunds: 0 });
    expect(profile.audiences.map((a) => a.key)).toEqual(["has_qty"]);
    await outboxDelivered(profileId);
    for (const trait of ["last_qty", "min_qty", "mean_qty"])
      expect(await members(workspaceId, trait, "computed_trait"), trait).toEqual([profileId]);
    // A count of nothing is 0 by DESIGN §6: no value, so not every profile holds every count trait.
    expect(await members(workspaceId, "refunds", "computed_trait")).toEqual([]);
    expect(await previewDefinition(env, workspaceId, { computedTrait: lastQty })).toEqual({
      size: 1,
      sample: [profileId],
    });
    expect(await previewDefinition(env, workspaceId, { computedTrait: orders })).toEqual({ size: 0, sample: [] });
  });

  it("gives a sum past the largest double no value: on the profile, in its size, audiences and previews alike", async () => {
    const { workspaceId } = await seedWorkspace();
    const has: AudienceDefinition = { computed: "total", op: "exists" };
    const hasNot: AudienceDefinition = { computed: "total", op: "not_exists" };
    const total = { op: "sum", event: "Order", property: "amount" } as const;
    await defineAll(workspaceId, {
      computed: { total, mean: { ...total, op: "avg" } },
      audiences: { has_total: has, no_total: hasNot },
    });
    const [id] = await store(workspaceId, [
      track("Order", ago(2 * DAY), { anonymousId: "o1", properties: { amount: 1e308 } }),
      track("Order", ago(DAY), { anonymousId: "o1", properties: { amount: 1e308 } }),
    ]);
    const profile = await profileOf(id as string);
    expect(profile.audiences.map((a) => a.key)).toEqual(["no_total"]);
    expect(profile.computed).toEqual({ total: null, mean: 1e308 });
    await outboxDelivered(id as string);
    expect(await members(workspaceId, "total", "computed_trait")).toEqual([]);
    expect(await members(workspaceId, "has_total")).toEqual([]);
    expect(await members(workspaceId, "no_total")).toEqual([id]);
    expect(await previewDefinition(env, workspaceId, { audience: has })).toEqual({ size: 0, sample: [] });
    expect(await previewDefinition(env, workspaceId, { audience: hasNot })).toEqual({ size: 1, sample: [id] });
    expect(await previewDefinition(env, workspaceId, { computedTrait: total })).toEqual({ size: 0, sample: [] });
  });

  it("keeps the other values of a unique_list when one is too large for it", async () => {
    const { workspaceId } = await seedWorkspace();
    await defineAll(workspaceId, {
      computed: {
        ul: { op: "unique_list", event: "Tag", property: "v" },
        uc: { op: "unique_count", event: "Tag", property: "v" },
      },
    });
    const [id] = await store(workspaceId, [
      track("Tag", ago(3 * DAY), { anonymousId: "t1", properties: { v: "old1" } }),
      track("Tag", ago(2 * DAY), { anonymousId: "t1", properties: { v: "x".repeat(20_000) } }),
      track("Tag", ago(DAY), { anonymousId: "t1", properties: { v: "new1" } }),
    ]);
    expect((await profileOf(id as string)).computed).toEqual({ ul: ["new1", "old1"], uc: 3 });
  });

  it("re-evaluates with a newer definitions version, and a removed audience exits its members", async () => {
    const { workspaceId } = await seedWorkspace();
    const [id] = await store(workspaceId, [track("Signed Up", ago(DAY), { anonymousId: "r1" })]);
    const profileId = id as string;
    expect((await profileOf(profileId)).audiences).toEqual([]);
    const v1 = await defineAll(workspaceId, { audiences: { signed_up: { event: "Signed Up" } } });
    expect(await profileStub(env.PROFILE, profileId).reevaluate({ workspaceId, definitionsVersion: v1 })).toEqual({
      status: "evaluated",
    });
    expect((await profileOf(profileId)).audiences.map((a) => a.key)).toEqual(["signed_up"]);
    await outboxDelivered(profileId);
    expect(await members(workspaceId, "signed_up")).toEqual([profileId]);
    // Evaluating again changes nothing: history is counted once.
    await profileStub(env.PROFILE, profileId).reevaluate({ workspaceId, definitionsVersion: v1 });
    const v2 = await defineAll(workspaceId, {});
    await profileStub(env.PROFILE, profileId).reevaluate({ workspaceId, definitionsVersion: v2 });
    expect((await profileOf(profileId)).audiences).toEqual([]);
    await outboxDelivered(profileId);
    expect(await members(workspaceId, "signed_up")).toEqual([]);
  });

  it("treats an audience deleted and defined again under its key as a new one, even when it skipped the deletion", async () => {
    const { workspaceId } = await seedWorkspace();
    const signedUp = {
      audiences: { signed_up: { event: "Signed Up" } },
      computed: { signups: { op: "count" as const, event: "Signed Up" } },
    };
    const v1 = await defineAll(workspaceId, signedUp);
    const [id] = await store(workspaceId, [track("Signed Up", ago(DAY), { anonymousId: "d1" })]);
    const profileId = id as string;
    await outboxDelivered(profileId);
    const [before] = (await profileOf(profileId)).audiences;
    expect(await members(workspaceId, "signed_up")).toEqual([profileId]);
    // Deleted (its member rows with it) and defined again before the deletion's rebuild reached this profile.
    await orm(env.DB).batch([
      ...deleteMembersOf(env.DB, workspaceId, "audience", "signed_up"),
      ...deleteMembersOf(env.DB, workspaceId, "computed_trait", "signups"),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const v2 = await defineAll(workspaceId, signedUp);
    expect(v2).toBe(v1 + 1);
    await profileStub(env.PROFILE, profileId).reevaluate({ workspaceId, definitionsVersion: v2 });
    await outboxDelivered(profileId);
    expect(await members(workspaceId, "signed_up")).toEqual([profileId]);
    expect(await members(workspaceId, "signups", "computed_trait")).toEqual([profileId]);
    // A member of the new audience since it was defined, not since the old one's entry.
    const [after] = (await profileOf(profileId)).audiences;
    expect(Date.parse(after.since)).toBeGreaterThan(Date.parse(before.since));
  });

  it("evaluates newer definitions again after a write that adopted them rolled back", async () => {
    const { workspaceId } = await seedWorkspace();
    const [id] = await store(workspaceId, [track("Signed Up", ago(DAY), { anonymousId: "rb1" })]);
    const profileId = id as string;
    const v1 = await defineAll(workspaceId, { audiences: { signed_up: { event: "Signed Up" } } });
    const stub = profileStub(env.PROFILE, profileId);
    // The evaluation's commit fails once, after the new definitions were taken in.
    await runInDurableObject(env.PROFILE.getByName(profileId), (instance: ProfileDO) => {
      const memo = (instance as unknown as { traitMemo: { update: () => void } }).traitMemo;
      vi.spyOn(memo, "update").mockImplementationOnce(() => {
        throw new Error("the commit failed");
      });
    });
    const failed = await stub.reevaluate({ workspaceId, definitionsVersion: v1 }).then(
      () => null,
      (err: Error) => err.message,
    );
    expect(failed).toContain("the commit failed");
    expect((await profileOf(profileId)).audiences).toEqual([]);
    // The backfill's retry finds the profile still on the old definitions and evaluates.
    await stub.reevaluate({ workspaceId, definitionsVersion: v1 });
    expect((await profileOf(profileId)).audiences.map((a) => a.key)).toEqual(["signed_up"]);
  });

  it("re-evaluates only a profile that has not yet evaluated with the asked definitions", async () => {
    const { workspaceId } = await seedWorkspace();
    const v1 = await defineAll(workspaceId, { audiences: { signed_up: { event: "Signed Up" } } });
    // Created after the definition: its first ingest loads v1 and evaluates with it.
    const [id] = await store(workspaceId, [track("Signed Up", ago(DAY), { anonymousId: "e1" })]);
    const stub = profileStub(env.PROFILE, id as string);
    const evaluations = await runInDurableObject(env.PROFILE.getByName(id as string), (instance: ProfileDO) =>
      vi.spyOn(instance as unknown as { evaluate: () => void }, "evaluate"),
    );
    expect(await stub.reevaluate({ workspaceId, definitionsVersion: v1 })).toEqual({ status: "evaluated" });
    expect(evaluations).not.toHaveBeenCalled();
    const v2 = await defineAll(workspaceId, {});
    await stub.reevaluate({ workspaceId, definitionsVersion: v2 });
    expect(evaluations).toHaveBeenCalledTimes(1);
    expect((await profileOf(id as string)).audiences).toEqual([]);
  });

  it("a merge exits the merged-away profile and evaluates the survivor on the joined history", async () => {
    const sent = vi.spyOn(env.SYNC_QUEUE, "sendBatch");
    const { workspaceId } = await seedWorkspace();
    await defineAll(workspaceId, {
      audiences: {
        two_orders: { event: "Order Completed", count: { op: "gte", value: 2 } },
        any_order: { event: "Order Completed" },
      },
    });
    const [anon, known] = await store(workspaceId, [
      track("Order Completed", ago(3 * DAY), { anonymousId: "m-anon" }),
      track("Order Completed", ago(2 * DAY), { anonymousId: undefined, userId: "m-user" }),
    ]);
    expect((await profileOf(anon as string)).audiences.map((a) => a.key)).toEqual(["any_order"]);
    // One identify links both: one of them survives with both orders.
    const [survivor] = await store(workspaceId, [identify({}, ago(DAY), { anonymousId: "m-anon", userId: "m-user" })]);
    const loser = survivor === anon ? known : anon;
    const merged = await profileOf(survivor as string);
    expect(merged.audiences.map((a) => a.key).sort()).toEqual(["any_order", "two_orders"]);
    await outboxDelivered(survivor as string);
    await outboxDelivered(loser as string);
    expect(await members(workspaceId, "two_orders")).toEqual([survivor]);
    expect(await members(workspaceId, "any_order")).toEqual([survivor]);
    const exits = membershipChangesSent(sent).filter((c) => c.profileId === loser && !c.member);
    expect(exits.map((c) => c.audience)).toEqual(["any_order"]);
  });

  it("a GDPR erase exits every audience first", async () => {
    const sent = vi.spyOn(env.SYNC_QUEUE, "sendBatch");
    const { workspaceId } = await seedWorkspace();
    await defineAll(workspaceId, { audiences: { visitors: { event: "*" } } });
    const [id] = await store(workspaceId, [track("Page Loaded", ago(DAY), { anonymousId: "g1" })]);
    await outboxDelivered(id as string);
    expect(await members(workspaceId, "visitors")).toEqual([id]);
    await profileStub(env.PROFILE, id as string).erase();
    expect(await members(workspaceId, "visitors")).toEqual([]);
    const changes = membershipChangesSent(sent).filter((c) => c.profileId === id);
    expect(changes.map((c) => [c.audience, c.member])).toEqual([
      ["visitors", true],
      ["visitors", false],
    ]);
  });

  it("keeps an erased or merged-away profile out of its audiences when a request delivers its hand-off late", async () => {
    const { workspaceId } = await seedWorkspace();
    const definitionsVersion = await defineAll(workspaceId, { audiences: { visitors: { event: "*" } } });
    const [erased, loser] = [`prf_${crypto.randomUUID()}`, `prf_${crypto.randomUUID()}`];
    /** Ingests as a request does: the object hands its entry back, for the request to deliver once the rest answer. */
    const handedOff = async (id: string) => {
      const stored = await profileStub(env.PROFILE, id).ingest({
        profileId: id,
        workspaceId,
        messages: [track("Page Loaded", ago(DAY), { anonymousId: id })],
        identifiers: [],
        definitionsVersion,
        handOff: true,
      });
      if (!("outbox" in stored) || !stored.outbox) throw new Error(`profile ${id} handed nothing back`);
      return stored.outbox;
    };
    const lateErased = await handedOff(erased);
    const lateLoser = await handedOff(loser);
    const [survivor] = (await store(workspaceId, [
      track("Page Loaded", ago(DAY), { anonymousId: "late-survivor" }),
    ])) as [string];
    // Meanwhile the objects deliver their newer exits themselves: the erase's, and the merged-away profile's.
    await profileStub(env.PROFILE, erased).erase();
    await profileStub(env.PROFILE, loser).mergeInto(survivor);
    await outboxDelivered(loser);
    await outboxDelivered(survivor);
    await changeSinkFor(env).deliver(workspaceId, [lateErased, lateLoser]);
    expect(await members(workspaceId, "visitors")).toEqual([survivor]);
  });

  it("sends the changes of a profile larger than a queue message without its largest traits", async () => {
    const sent = vi.spyOn(env.SYNC_QUEUE, "sendBatch");
    const { workspaceId } = await seedWorkspace();
    await defineAll(workspaceId, { audiences: { pro: { trait: "plan", op: "eq", value: "pro" } } });
    // Six identify calls of 25 KB each: 150 KB of traits, more than a queue takes in one message (128 KB).
    const notes = Array.from({ length: 6 }, (_, i) =>
      identify({ [`note_${i}`]: "n".repeat(25_000) }, ago(DAY - i * 1000), { userId: "big" }),
    );
    const [id] = await store(workspaceId, [...notes, identify({ plan: "pro" }, ago(0), { userId: "big" })]);
    const profileId = id as string;
    await outboxDelivered(profileId);
    expect(await members(workspaceId, "pro")).toEqual([profileId]);
    const [change] = membershipChangesSent(sent).filter((c) => c.profileId === profileId);
    expect(change).toMatchObject({ audience: "pro", member: true, traits: { plan: "pro" } });
    expect(change.identifiers).toContainEqual({ type: "user_id", value: "big" });
    // Three of the six notes stayed behind, so the message keeps within its 100 KB.
    expect(Object.keys(change.traits).filter((k) => k.startsWith("note_"))).toHaveLength(3);
  });

  it("stays writable when a unique_list collects large values (kept within its byte cap)", async () => {
    const { workspaceId } = await seedWorkspace();
    const definitionsVersion = await defineAll(workspaceId, {
      computed: { notes: { op: "unique_list", event: "Note Saved", property: "note" } },
    });
    const id = `prf_${crypto.randomUUID()}`;
    // 100 notes of 30 KB: as a list of 100 values, 3 MB, past what one stored row may hold.
    for (let batch = 0; batch < 4; batch++) {
      const notes = Array.from({ length: 25 }, (_, i) =>
        track("Note Saved", ago((batch * 25 + i + 1) * 1000), {
          properties: { note: `${batch}-${i}-`.padEnd(30_000) },
        }),
      );
      const stored = await profileStub(env.PROFILE, id).ingest({
        profileId: id,
        workspaceId,
        messages: notes,
        identifiers: [],
        definitionsVersion,
      });
      expect(stored).toMatchObject({ status: "stored", inserted: 25 });
    }
    // Not even the newest note fits the list's 16 KB: no list, as for no note.
    expect((await profileOf(id)).computed).toEqual({ notes: null });
  });

  it("costs nothing extra when the workspace has no definitions", async () => {
    const { workspaceId } = await seedWorkspace();
    const [id] = await store(workspaceId, [track("Page Loaded", ago(DAY), { anonymousId: "n1" })]);
    expect(await outboxStateOf(id as string)).toEqual({ alarm: null, outbox: 0 });
    expect((await profileOf(id as string)).computed).toEqual({});
  });
});
