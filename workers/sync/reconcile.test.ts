/**
 * Drift repair (DESIGN §7 "Reconciliation") through the cron's production path: intended membership (D1
 * `audience_members`, written by each profile's object) against what the destination's object recorded as synced.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { listMembers } from "../../d1/queries/members";
import { countDeadLetters } from "../../d1/queries/sync-records";
import { defineAll } from "../test-support/definitions";
import { eventually, insertDestination, webhookReceiver } from "../test-support/destinations";
import { identify } from "../test-support/messages";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api, store } from "../test-support/store-messages";
import { destinationStub } from "./consumer";
import { reconcileDestinations } from "./cron";
import type { DestinationDO } from "./destination-do";
import type { MembershipSyncOp } from "./sync-op";

const SECRET = "whsec_test_0123456789abcdef";

/** Stands for what the object recorded as sent: `profileId` is listed in `audience` at the vendor. */
async function markSynced(destinationId: string, profileId: string, audience: string, email: string) {
  await destinationStub(env, destinationId).pendingCount(); // wakes the object, which creates its tables
  await runInDurableObject<DestinationDO, void>(env.DESTINATION.getByName(destinationId), (_o, state) => {
    state.storage.sql.exec(
      "INSERT INTO synced (profile_id, audience, seq, member, email, traits) VALUES (?, ?, 1, 1, ?, '{}')",
      profileId,
      audience,
      email,
    );
  });
}

async function pendingOps(destinationId: string): Promise<MembershipSyncOp[]> {
  return runInDurableObject<DestinationDO, MembershipSyncOp[]>(env.DESTINATION.getByName(destinationId), (_o, s) =>
    s.storage.sql
      .exec<{ op: string }>("SELECT op FROM pending ORDER BY profile_id")
      .toArray()
      .map((r) => JSON.parse(r.op)),
  );
}

/** Waits until the profiles' objects have written their entries into `audience` to D1 (after their commits). */
async function inD1(workspaceId: string, audience: string, profileIds: string[]): Promise<void> {
  await eventually(async () => {
    const rows = await listMembers(env.DB, workspaceId, "audience", audience, { limit: 100 });
    expect(rows.map((r) => r.profileId).sort()).toEqual([...profileIds].sort());
  });
}

/** A workspace with audience `vip` (plan = pro) and a webhook destination for it, disabled until the test says. */
async function setup(...answers: Parameters<typeof webhookReceiver>) {
  const { workspaceId, secretKey } = await seedWorkspace();
  await defineAll(workspaceId, { audiences: { vip: { trait: "plan", op: "eq", value: "pro" } } });
  const hook = await webhookReceiver(...(answers.length > 0 ? answers : [200]));
  // Disabled while the members enter: the sync consumer routes nothing to it, so the vendor never heard of them.
  const destinationId = await insertDestination(workspaceId, {
    type: "webhook",
    config: { url: hook.url, secret: SECRET },
    audiences: ["vip"],
    traits: ["first_name"],
    enabled: false,
  });
  const enable = () => env.DB.prepare("UPDATE destinations SET enabled = 1 WHERE id = ?").bind(destinationId).run();
  const disable = () => env.DB.prepare("UPDATE destinations SET enabled = 0 WHERE id = ?").bind(destinationId).run();
  return { workspaceId, secretKey, destinationId, hook, enable, disable };
}

describe("reconciliation", { timeout: 30_000 }, () => {
  it("queues the entry the vendor never got and the exit of a profile it still lists, then sends them", async () => {
    const { workspaceId, destinationId, hook, enable } = await setup();
    const now = new Date().toISOString();
    const [ann, bob] = (await store(workspaceId, [
      identify({ plan: "pro", email: "Ann@Example.com", first_name: "Ann" }, now, { userId: "ann" }),
      identify({ plan: "pro", email: "bob@example.com" }, now, { userId: "bob" }),
    ])) as string[];
    await inD1(workspaceId, "vip", [ann, bob]);
    await markSynced(destinationId, bob, "vip", "bob@example.com");
    // Listed at the vendor, but no longer a member (its exit was lost): the vendor must drop it.
    await markSynced(destinationId, "prf_gone", "vip", "gone@example.com");
    await enable();

    await reconcileDestinations(env);
    // The object sends what the tick queued by itself (its alarm).
    const sent = await eventually(async () => {
      const got = (await hook.received()).map((r) => r.event);
      expect(got.map((e) => [e.type, e.profile.id]).sort()).toEqual([
        ["audience.entered", ann],
        ["audience.exited", "prf_gone"],
      ]);
      return got;
    });
    const entered = sent.find((e) => e.type === "audience.entered");
    // Only the destination's selected trait: `plan` is the profile's, not synced here.
    expect(entered?.profile.traits).toEqual({ first_name: "Ann" });
    expect(entered?.profile.identifiers).toContainEqual({ type: "email", value: "ann@example.com" });
    expect(sent.find((e) => e.type === "audience.exited")?.profile.identifiers).toEqual([
      { type: "email", value: "gone@example.com" },
    ]);
    // Repaired: a new pass finds nothing to do.
    await eventually(async () => expect(await destinationStub(env, destinationId).pendingCount()).toBe(0));
    expect(await destinationStub(env, destinationId).reconcile(destinationId, undefined, 100)).toEqual({
      queued: 0,
      // Both members, once as intended (D1) and once as synced.
      examined: 4,
      next: null,
    });
  });

  it("examines a bounded number of rows per step and resumes from its cursor", async () => {
    const { destinationId, hook, enable } = await setup();
    for (const id of ["prf_a", "prf_b", "prf_c"]) await markSynced(destinationId, id, "vip", `${id}@example.com`);
    await enable();
    const stub = destinationStub(env, destinationId);
    const first = await stub.reconcile(destinationId, undefined, 2);
    expect(first).toMatchObject({ queued: 2, examined: 2 });
    expect(first.next).not.toBeNull();
    const second = await stub.reconcile(destinationId, first.next ?? undefined, 2);
    expect(second).toEqual({ queued: 1, examined: 1, next: null });
    // The object sends what each step queued by itself (its alarm): every stale profile leaves once.
    await eventually(async () => {
      const sent = (await hook.received()).map((r) => [r.event.type, r.event.profile.id]);
      expect(sent.sort()).toEqual([
        ["audience.exited", "prf_a"],
        ["audience.exited", "prf_b"],
        ["audience.exited", "prf_c"],
      ]);
    });
  });

  it("never replaces a change already waiting with a repair", async () => {
    // The vendor is unavailable for a while: the waiting change stays waiting.
    const { workspaceId, destinationId, enable } = await setup({ status: 503, headers: { "retry-after": "120" } });
    const [ann] = (await store(workspaceId, [
      identify({ plan: "pro", email: "ann@example.com" }, new Date().toISOString(), { userId: "ann" }),
    ])) as string[];
    await inD1(workspaceId, "vip", [ann]);
    await enable();
    const waiting: MembershipSyncOp = {
      kind: "membership",
      profileId: ann,
      audience: "vip",
      member: false,
      seq: 99,
      at: new Date().toISOString(),
      traits: {},
      profile: { id: ann, identifiers: [], traits: {}, computed: {} },
    };
    await destinationStub(env, destinationId).enqueue(destinationId, [waiting]);
    const result = await destinationStub(env, destinationId).reconcile(destinationId, undefined, 100);
    expect(result.queued).toBe(0);
    expect(await pendingOps(destinationId)).toEqual([waiting]);
    await runDurableObjectAlarm(env.DESTINATION.getByName(destinationId));
    expect(await pendingOps(destinationId)).toEqual([waiting]);
  });

  it("does not send again, every minute, a member the vendor refused for good, until it changes or is replayed", async () => {
    // The vendor refuses this member (a 400): a dead letter, `invalid_payload`.
    const { workspaceId, secretKey, destinationId, hook, enable, disable } = await setup(400);
    const [ann] = (await store(workspaceId, [
      identify({ plan: "pro", email: "ann@example.com", first_name: "Ann" }, new Date().toISOString(), {
        userId: "ann",
      }),
    ])) as string[];
    await inD1(workspaceId, "vip", [ann]);
    await enable();
    const calls = async () => (await hook.received()).map((r) => r.event.profile.traits.first_name);
    const settled = async (n: number) =>
      eventually(async () => {
        expect(await calls()).toHaveLength(n);
        expect(await destinationStub(env, destinationId).pendingCount()).toBe(0);
        expect(await countDeadLetters(env.DB, destinationId)).toBe(1);
      });

    await reconcileDestinations(env);
    await settled(1);
    // The next minute's tick: the vendor would refuse the same entry again.
    await reconcileDestinations(env);
    await settled(1);
    expect(await calls()).toEqual(["Ann"]);

    // A replay still sends it (and its new refusal is the one dead letter left), and the ticks after it do not.
    const replay = await api(`/v1/destinations/${destinationId}/dead-letters/replay`, bearer(secretKey), {
      method: "POST",
    });
    expect(await replay.json()).toEqual({ replayed: 1 });
    await settled(2);
    await reconcileDestinations(env);
    await settled(2);

    // The profile changed while the destination was off (nothing of it was queued): reconciliation sends it again.
    await disable();
    await store(workspaceId, [identify({ first_name: "Annie" }, new Date().toISOString(), { userId: "ann" })]);
    await enable();
    await reconcileDestinations(env);
    await eventually(async () => expect(await calls()).toEqual(["Ann", "Ann", "Annie"]));

    // Refused again; the cron leaves it, a reconciliation someone asks for (the cause was fixed) sends it.
    await reconcileDestinations(env);
    await eventually(async () => expect(await destinationStub(env, destinationId).pendingCount()).toBe(0));
    expect(await calls()).toEqual(["Ann", "Ann", "Annie"]);
    const asked = await api(`/v1/destinations/${destinationId}/reconcile`, bearer(secretKey), { method: "POST" });
    expect(await asked.json()).toMatchObject({ queued: 1 });
    await eventually(async () => expect(await calls()).toEqual(["Ann", "Ann", "Annie", "Annie"]));
    await runInDurableObject(env.DESTINATION.getByName(destinationId), (_o, state) => state.storage.deleteAlarm());
  });
});
