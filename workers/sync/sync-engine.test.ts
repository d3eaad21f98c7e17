/**
 * The sync engine end to end inside workerd: the `tessera-sync` consumer routes membership changes and deletes to
 * each destination's object, which sends them through the `webhook` plugin. The receiver is a fake `fetch` (the
 * dependency), so each test decides how the customer's endpoint answers.
 */
import {
  createExecutionContext,
  createMessageBatch,
  getQueueResult,
  runDurableObjectAlarm,
  runInDurableObject,
} from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { MembershipChange, MembershipChanges, SyncDeleteMessage } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { type DestinationRow, findDestinationById } from "../../d1/queries/destinations";
import {
  emptyDrainRecord,
  findVendorIds,
  listDeadLetters,
  listSyncLog,
  recordDrain,
} from "../../d1/queries/sync-records";
import { QUEUE } from "../shared/queues";
import { eventually, insertDestination, webhookReceiver } from "../test-support/destinations";
import { freshId } from "../test-support/messages";
import { seedWorkspace } from "../test-support/seed";
import { destinationStub, handleSync, route } from "./consumer";
import type { DestinationDO } from "./destination-do";
import { retryDelayMs } from "./retry-schedule";
import { verifyTessera } from "./tessera-signature";

const SECRET = "whsec_test_0123456789abcdef";

const receiver = webhookReceiver;

function change(
  workspaceId: string,
  profileId: string,
  audience: string,
  member: boolean,
  seq: number,
): MembershipChange {
  return {
    kind: "membership",
    workspaceId,
    profileId,
    audience,
    member,
    seq,
    at: new Date().toISOString(),
    identifiers: [{ type: "email", value: "Ann@Example.com" }],
    traits: { first_name: "Ann", plan: "pro" },
    computed: { ltv: 120 },
  };
}

async function consume(bodies: unknown[]) {
  const batch = createMessageBatch(
    QUEUE.sync,
    bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await handleSync(batch, env);
  return getQueueResult(batch, ctx);
}

/** Runs the destination's alarm (its drain) now if one is set; the runtime also runs it by itself when it is due. */
const drain = (destinationId: string) => runDurableObjectAlarm(env.DESTINATION.getByName(destinationId));

/**
 * Disables the destination and queues an enter straight into its object, as the consumer had just before the
 * destination was disabled (the consumer routes nothing to a disabled destination).
 */
async function queueWhileDisabled(workspaceId: string, destinationId: string, profileId: string): Promise<void> {
  await env.DB.prepare("UPDATE destinations SET enabled = 0 WHERE id = ?").bind(destinationId).run();
  const row = (await findDestinationById(env.DB, destinationId)) as DestinationRow;
  const [{ op }] = route(change(workspaceId, profileId, "vip", true, 1), [row]);
  await destinationStub(env, destinationId).enqueue(destinationId, [op]);
}

async function setup(hook: { url: string }, audiences = ["vip"]) {
  const { workspaceId } = await seedWorkspace();
  const destinationId = await insertDestination(workspaceId, {
    type: "webhook",
    config: { url: hook.url, secret: SECRET },
    audiences,
    traits: ["first_name", "ltv"],
  });
  return { workspaceId, destinationId, profileId: freshId("prf") };
}

describe("sync engine", () => {
  it("routes a membership change to the destination that wants the audience and sends it signed", async () => {
    const hook = await receiver(200);
    const { workspaceId, destinationId, profileId } = await setup(hook);
    const other = await insertDestination(workspaceId, {
      type: "webhook",
      config: { url: hook.url, secret: SECRET },
      audiences: ["churned"],
    });
    const result = await consume([change(workspaceId, profileId, "vip", true, 1)]);
    expect(result.explicitAcks).toEqual(["m0"]);
    await drain(destinationId);
    const received = await eventually(async () => {
      const got = await hook.received();
      expect(got.map((r) => [r.event.type, r.event.audience, r.event.profile.id])).toEqual([
        ["audience.entered", "vip", profileId],
      ]);
      return got;
    });
    expect(received[0].event).toMatchObject({ workspace: workspaceId, destination: destinationId });
    const check = await verifyTessera(
      SECRET,
      received[0].signature,
      new TextEncoder().encode(received[0].raw),
      Date.now(),
    );
    expect(check).toEqual({ ok: true });
    await eventually(async () => {
      const log = await listSyncLog(env.DB, destinationId, { limit: 10 });
      expect(log.map((l) => [l.profileId, l.audience, l.action, l.outcome])).toEqual([[profileId, "vip", "add", "ok"]]);
    });
    expect(
      await runInDurableObject<DestinationDO, number>(env.DESTINATION.getByName(other), (o) => o.pendingCount()),
    ).toBe(0);
  });

  it("sends a webhook only the destination's traits of the profile, entering and updated alike", async () => {
    const hook = await receiver(200);
    const { workspaceId, destinationId, profileId } = await setup(hook);
    const wide = (seq: number, firstName: string): MembershipChange => ({
      ...change(workspaceId, profileId, "vip", true, seq),
      traits: { first_name: firstName, lastname: "Smith", plan: "pro" },
      computed: { ltv: 120, churn_risk: 0.2 },
    });
    await consume([wide(1, "Ann")]);
    await drain(destinationId);
    await eventually(async () => expect(await hook.received()).toHaveLength(1));
    await consume([wide(2, "Anna")]);
    await drain(destinationId);
    const received = await eventually(async () => {
      const got = await hook.received();
      expect(got).toHaveLength(2);
      return got;
    });
    // `traits: ["first_name", "ltv"]`: what the destination syncs, a profile trait and a computed one (DESIGN §7).
    expect(received.map((r) => [r.event.type, r.event.profile])).toEqual([
      [
        "audience.entered",
        {
          id: profileId,
          identifiers: [{ type: "email", value: "Ann@Example.com" }],
          traits: { first_name: "Ann" },
          computed: { ltv: 120 },
        },
      ],
      [
        "profile.updated",
        {
          id: profileId,
          identifiers: [{ type: "email", value: "Ann@Example.com" }],
          traits: { first_name: "Anna" },
          computed: { ltv: 120 },
        },
      ],
    ]);
  });

  it("routes each change of a profile's packed delivery to the destinations that want its audience", async () => {
    const hook = await receiver(200);
    const { workspaceId, destinationId, profileId } = await setup(hook, ["vip", "churned"]);
    const { identifiers, traits, computed, at } = change(workspaceId, profileId, "vip", true, 1);
    const packed: MembershipChanges = {
      kind: "memberships",
      workspaceId,
      profileId,
      identifiers,
      traits,
      computed,
      changes: [
        { audience: "vip", member: true, seq: 3, at },
        { audience: "lapsed", member: true, seq: 4, at },
        { audience: "churned", member: false, seq: 5, at },
      ],
    };
    expect((await consume([packed])).explicitAcks).toEqual(["m0"]);
    await drain(destinationId);
    await eventually(async () => {
      const got = await hook.received();
      expect(got.map((r) => [r.event.type, r.event.audience]).sort()).toEqual([
        ["audience.entered", "vip"],
        ["audience.exited", "churned"],
      ]);
    });
  });

  it("coalesces: an enter and an exit waiting together send only the exit; a stale change is dropped", async () => {
    const hook = await receiver(200);
    const { workspaceId, destinationId, profileId } = await setup(hook);
    await consume([change(workspaceId, profileId, "vip", true, 1), change(workspaceId, profileId, "vip", false, 2)]);
    await drain(destinationId);
    await eventually(async () => expect((await hook.received()).map((r) => r.event.type)).toEqual(["audience.exited"]));
    await eventually(async () => expect(await listSyncLog(env.DB, destinationId, { limit: 10 })).toHaveLength(1));
    // Delivered late: seq 1 is older than what the vendor has.
    await consume([change(workspaceId, profileId, "vip", true, 1)]);
    expect(
      await runInDurableObject<DestinationDO, number>(env.DESTINATION.getByName(destinationId), (o) =>
        o.pendingCount(),
      ),
    ).toBe(0);
  });

  it("retries a 5xx after a backoff, by its own alarm, and delivers", async () => {
    const hook = await receiver(503, 200);
    const { workspaceId, destinationId, profileId } = await setup(hook);
    await consume([change(workspaceId, profileId, "vip", true, 1)]);
    // The first attempt fails; the object's alarm comes back after the backoff (2 s) with no one calling.
    await eventually(async () => {
      const log = await listSyncLog(env.DB, destinationId, { limit: 10 });
      expect(log.map((l) => [l.outcome, l.attempts, l.error])).toEqual([
        ["ok", 2, null],
        ["retry", 1, `${hook.url} answered 503`],
      ]);
    });
    expect(await hook.received()).toHaveLength(2);
  });

  it("finds what a customer's endpoint carries: past where it starts, back off on its 503s, nothing lost", async () => {
    const hook = await receiver(200);
    await hook.carries({ inFlight: 12, holdMs: 20 });
    const { workspaceId, destinationId } = await setup(hook);
    const profiles = Array.from({ length: 150 }, () => freshId("prf"));
    await consume(profiles.map((profileId) => change(workspaceId, profileId, "vip", true, 1)));
    await eventually(async () => {
      const log = await listSyncLog(env.DB, destinationId, { limit: 1000 });
      expect(new Set(log.filter((l) => l.outcome === "ok").map((l) => l.profileId)).size).toBe(150);
    });
    const delivered = new Set((await hook.received()).map((r) => r.event.profile.id));
    expect(delivered.size).toBe(150);
    // It starts at 4 in flight (the webhook's limits) and grew, and the endpoint's 503s were retried, not lost.
    const peak = await hook.peak();
    expect(peak).toBeGreaterThan(4);
    expect(peak).toBeLessThanOrEqual(12);
    const log = await listSyncLog(env.DB, destinationId, { limit: 1000 });
    expect(log.some((l) => l.outcome === "retry" && l.error?.includes("503"))).toBe(true);
  });

  it("dead-letters what the receiver refuses for good, and counts it", async () => {
    const hook = await receiver(400);
    const { workspaceId, destinationId, profileId } = await setup(hook);
    await consume([change(workspaceId, profileId, "vip", true, 1)]);
    await drain(destinationId);
    await eventually(async () => {
      const dead = await listDeadLetters(env.DB, destinationId);
      expect(dead.map((d) => [d.profileId, d.error])).toEqual([
        [profileId, `invalid_payload: ${hook.url} answered 400`],
      ]);
    });
    const row = await env.DB.prepare("SELECT delivered, failed, last_error FROM destinations WHERE id = ?")
      .bind(destinationId)
      .first();
    expect(row).toEqual({ delivered: 0, failed: 1, last_error: `invalid_payload: ${hook.url} answered 400` });
  });

  it("pauses on the endpoint's 401 instead of dead-lettering the change as a bad payload", async () => {
    const hook = await receiver(401);
    const { workspaceId, destinationId, profileId } = await setup(hook);
    await consume([change(workspaceId, profileId, "vip", true, 1)]);
    await drain(destinationId);
    await eventually(async () => {
      const row = await env.DB.prepare("SELECT failed, last_error FROM destinations WHERE id = ?")
        .bind(destinationId)
        .first();
      expect(row).toEqual({
        failed: 0,
        last_error: `${hook.url} refused the request (HTTP 401): check the signing secret the endpoint verifies`,
      });
    });
    // Kept for when the endpoint accepts the secret again, not lost among dead letters.
    expect(await listDeadLetters(env.DB, destinationId)).toEqual([]);
    const pending = await runInDurableObject<DestinationDO, number>(
      env.DESTINATION.getByName(destinationId),
      async (_o, state) => {
        const n = state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM pending").one().n;
        // The pause's alarm would drain again minutes later, amid other test files sharing this runtime.
        await state.storage.deleteAlarm();
        return n;
      },
    );
    expect(pending).toBe(1);
  });

  it("honours Retry-After on a 429 without counting it as lost", async () => {
    const hook = await receiver({ status: 429, headers: { "retry-after": "120" } });
    const { workspaceId, destinationId, profileId } = await setup(hook);
    await consume([change(workspaceId, profileId, "vip", true, 1)]);
    await drain(destinationId);
    await eventually(async () => {
      const notBefore = await runInDurableObject<DestinationDO, number>(
        env.DESTINATION.getByName(destinationId),
        (_o, state) => state.storage.sql.exec<{ t: number }>("SELECT not_before AS t FROM pending").one().t,
      );
      expect(notBefore - Date.now()).toBeGreaterThan(100_000);
    });
    expect(await listDeadLetters(env.DB, destinationId)).toEqual([]);
  });

  it("waits its own backoff after a 5xx without Retry-After, not at once", async () => {
    const hook = await receiver(500);
    const { workspaceId, destinationId, profileId } = await setup(hook);
    await consume([change(workspaceId, profileId, "vip", true, 1)]);
    await drain(destinationId);
    await eventually(async () => {
      const [entry] = await listSyncLog(env.DB, destinationId, { limit: 10 });
      expect(entry).toMatchObject({ outcome: "retry", attempts: 1 });
    });
    const notBefore = await runInDurableObject<DestinationDO, number>(
      env.DESTINATION.getByName(destinationId),
      (_o, state) => state.storage.sql.exec<{ t: number }>("SELECT not_before AS t FROM pending").one().t,
    );
    // The schedule's first step (2 s), where an absent header once read as "retry after 0 seconds".
    expect(notBefore - Date.now()).toBeGreaterThan(retryDelayMs(1) / 2);
    expect(await hook.received()).toHaveLength(1);
  });

  it("tells every destination of the workspace about a GDPR delete, with every identifier the person had", async () => {
    const hook = await receiver(200);
    const { workspaceId, destinationId, profileId } = await setup(hook);
    const identifiers = [
      { type: "user_id", value: "ann-1" },
      { type: "anonymous_id", value: "a-9" },
      { type: "email", value: "ann@example.com" },
      { type: "phone", value: "+14155550123" },
    ];
    const erase: SyncDeleteMessage = { kind: "delete", workspaceId, profileIds: [profileId], identifiers };
    expect((await consume([erase])).explicitAcks).toEqual(["m0"]);
    await drain(destinationId);
    await eventually(async () =>
      expect((await hook.received()).map((r) => [r.event.type, r.event.profile])).toEqual([
        ["profile.deleted", { id: profileId, identifiers, traits: {}, computed: {} }],
      ]),
    );
  });

  it("keeps nothing of an erased person: what waited, the memberships' email and traits, the vendor's ids", async () => {
    const hook = await receiver(200);
    const { workspaceId, destinationId, profileId } = await setup(hook);
    await consume([change(workspaceId, profileId, "vip", true, 1)]);
    await drain(destinationId);
    await eventually(async () => expect(await hook.received()).toHaveLength(1));
    await recordDrain(env.DB, destinationId, {
      ...emptyDrainRecord(Date.now()),
      vendorIds: [{ email: "ann@example.com", vendorId: "v-1" }],
    });
    // A trait change waits (not drained) when the erase arrives.
    const upsert = change(workspaceId, profileId, "vip", true, 2);
    await consume([{ ...upsert, traits: { first_name: "Annie", plan: "pro" } }]);
    const erase: SyncDeleteMessage = {
      kind: "delete",
      workspaceId,
      profileIds: [profileId],
      identifiers: [{ type: "email", value: "ann@example.com" }],
    };
    await consume([erase]);
    await drain(destinationId);
    // Only the delete after the enter (this harness's alarm may run beside the test's own drain and send it twice).
    const sentAfter = async () => new Set((await hook.received()).slice(1).map((r) => r.event.type));
    await eventually(async () => expect(await sentAfter()).toEqual(new Set(["profile.deleted"])));
    const remembered = await runInDurableObject(env.DESTINATION.getByName(destinationId), (_o, state) =>
      state.storage.sql.exec("SELECT audience, email, traits FROM synced WHERE profile_id = ?", profileId).toArray(),
    );
    expect(remembered).toEqual([{ audience: "", email: null, traits: null }]);
    await eventually(async () =>
      expect([...(await findVendorIds(env.DB, destinationId, ["ann@example.com"]))]).toEqual([]),
    );

    // The queue delivers an older change, and the profile's own exit, after the delete: neither lists Ann again.
    await consume([change(workspaceId, profileId, "vip", true, 3), change(workspaceId, profileId, "vip", false, 4)]);
    await drain(destinationId);
    expect(await destinationStub(env, destinationId).pendingCount()).toBe(0);
    expect(await sentAfter()).toEqual(new Set(["profile.deleted"]));
  });

  it("holds what waits for a disabled destination, and sends it once the destination is enabled and woken", async () => {
    const hook = await receiver(200);
    const { workspaceId, destinationId, profileId } = await setup(hook);
    await queueWhileDisabled(workspaceId, destinationId, profileId);
    await drain(destinationId);
    expect(await destinationStub(env, destinationId).pendingCount()).toBe(1);
    expect(await hook.received()).toEqual([]);
    await env.DB.prepare("UPDATE destinations SET enabled = 1 WHERE id = ?").bind(destinationId).run();
    await destinationStub(env, destinationId).wake(destinationId);
    await eventually(async () =>
      expect((await hook.received()).map((r) => r.event.type)).toEqual(["audience.entered"]),
    );
  });

  it("drops what a deleted destination still holds when woken", async () => {
    const hook = await receiver(200);
    const { workspaceId, destinationId, profileId } = await setup(hook);
    await queueWhileDisabled(workspaceId, destinationId, profileId);
    await env.DB.prepare("DELETE FROM destinations WHERE id = ?").bind(destinationId).run();
    await destinationStub(env, destinationId).wake(destinationId);
    await drain(destinationId);
    await eventually(async () => expect(await destinationStub(env, destinationId).pendingCount()).toBe(0));
    expect(await hook.received()).toEqual([]);
  });

  it("acknowledges a change no destination wants, and retries an unreadable message", async () => {
    const { workspaceId, profileId } = await setup(await receiver(200));
    const result = await consume([change(workspaceId, profileId, "nobody_wants_this", true, 1), { kind: "mystery" }]);
    expect(result.explicitAcks).toEqual(["m0"]);
    expect(result.retryMessages.map((m: { msgId: string }) => m.msgId)).toEqual(["m1"]);
  });
});
