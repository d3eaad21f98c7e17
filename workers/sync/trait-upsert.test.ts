/**
 * A member's synced trait changes reach the vendor as an upsert (DESIGN §7): the profile's object restates its
 * memberships when a trait or computed value changes, and the destination's object sends only what changed for it.
 */
import { createMessageBatch, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { AcceptedMessage, JsonObject, MembershipChange } from "@tessera/protocol";
import { afterEach, describe, expect, it, vi } from "vitest";
import { listSyncLog } from "../../d1/queries/sync-records";
import { QUEUE } from "../shared/queues";
import { defineAll } from "../test-support/definitions";
import { eventually, insertDestination, webhookReceiver } from "../test-support/destinations";
import { freshId, identify, track } from "../test-support/messages";
import { outboxDelivered } from "../test-support/profile-reads";
import { seedWorkspace } from "../test-support/seed";
import { store } from "../test-support/store-messages";
import { membershipChangesSent } from "../test-support/sync-messages";
import { destinationStub, handleSync } from "./consumer";

afterEach(() => {
  vi.restoreAllMocks();
});

const SECRET = "whsec_test_0123456789abcdef";

const at = () => new Date().toISOString();

describe("trait changes of members", { timeout: 60_000 }, () => {
  it("restate the profile's memberships when a trait or computed value changed, and not otherwise", async () => {
    const sent = vi.spyOn(env.SYNC_QUEUE, "sendBatch");
    const { workspaceId } = await seedWorkspace();
    await defineAll(workspaceId, {
      audiences: { vip: { trait: "plan", op: "eq", value: "pro" } },
      computed: { orders: { op: "count", event: "Order Completed" } },
    });
    const ann = { userId: "ann" };
    let profileId = "";
    // Each message carries the profile as it is when delivered: deliver each change before the next.
    const step = async (message: AcceptedMessage) => {
      [profileId] = (await store(workspaceId, [message])) as string[];
      await outboxDelivered(profileId);
    };
    await step(identify({ plan: "pro", email: "ann@example.com", first_name: "Ann" }, at(), ann));
    await step(identify({ first_name: "Annie" }, at(), ann));
    await step(identify({ first_name: "Annie" }, at(), ann)); // the same value again
    await step(track("Page Viewed", at(), ann)); // no trait, no computed value changes
    await step(track("Order Completed", at(), ann)); // a computed value changes
    // A delivery may repeat (the outbox is at-least-once; the engine drops a seq it has): the first of each seq.
    const bySeq = new Map<number, MembershipChange>();
    for (const c of membershipChangesSent(sent)) {
      if (c.profileId === profileId && !bySeq.has(c.seq)) bySeq.set(c.seq, c);
    }
    const changes = [...bySeq.values()].sort((a, b) => a.seq - b.seq);
    expect(changes.map((c) => [c.audience, c.member, c.traits.first_name, c.computed.orders])).toEqual([
      ["vip", true, "Ann", 0],
      ["vip", true, "Annie", 0],
      ["vip", true, "Annie", 1],
    ]);
  });

  it("reach the vendor as upserts when a synced trait changed, and cost no call when none did", async () => {
    const { destinationId, change, deliver, hook } = await webhookMember();
    const sentEvents = async () =>
      (await hook.received()).map((r) => [
        r.event.type,
        r.event.profile.traits.first_name,
        r.event.profile.computed.orders,
      ]);

    await deliver([change(1, { first_name: "Ann" }, { orders: 0 })]);
    await eventually(async () => expect(await sentEvents()).toEqual([["audience.entered", "Ann", 0]]));
    await deliver([change(2, { first_name: "Annie" }, { orders: 0 })]);
    await eventually(async () => expect(await sentEvents()).toHaveLength(2));
    // Delivered again with the next one (queues redeliver): the stale one is dropped, the new one upserts.
    await deliver([
      change(2, { first_name: "Annie" }, { orders: 0 }),
      change(3, { first_name: "Annie" }, { orders: 1 }),
    ]);
    await eventually(async () => expect(await sentEvents()).toHaveLength(3));
    // A restatement whose synced traits did not change (another trait did): nothing to send.
    await deliver([change(4, { first_name: "Annie", city: "Lyon" }, { orders: 1 })]);
    await eventually(async () => {
      const log = await listSyncLog(env.DB, destinationId, { limit: 10 });
      expect(log.map((l) => `${l.action}:${l.outcome}`)).toEqual(["upsert:ok", "upsert:ok", "add:ok"]);
    });
    // Settled by the drain without a call (the runtime may be running the object's own alarm for it right now).
    await eventually(async () => expect(await destinationStub(env, destinationId).pendingCount()).toBe(0));
    expect(await sentEvents()).toEqual([
      ["audience.entered", "Ann", 0],
      ["profile.updated", "Annie", 0],
      ["profile.updated", "Annie", 1],
    ]);
  });

  it("reach a webhook as profile.updated when a member's email changed, not as a second entry", async () => {
    const { change, deliver, hook } = await webhookMember();
    const sentEvents = async () =>
      (await hook.received()).map((r) => `${r.event.type}:${r.event.profile.identifiers[0]?.value}`);
    await deliver([change(1, { first_name: "Ann" }, {})]);
    await eventually(async () => expect(await sentEvents()).toHaveLength(1));
    await deliver([change(2, { first_name: "Ann" }, {}, "ann@new.example")]);
    await eventually(async () => expect(await sentEvents()).toHaveLength(2));
    expect(await sentEvents()).toEqual(["audience.entered:ann@example.com", "profile.updated:ann@new.example"]);
  });
});

/** A webhook destination of audience `vip`, syncing `first_name` and `orders`, and one profile's changes for it. */
async function webhookMember() {
  const { workspaceId } = await seedWorkspace();
  const hook = await webhookReceiver(200);
  const destinationId = await insertDestination(workspaceId, {
    type: "webhook",
    config: { url: hook.url, secret: SECRET },
    audiences: ["vip"],
    traits: ["first_name", "orders"],
  });
  const profileId = freshId("prf");
  const change = (
    seq: number,
    traits: JsonObject,
    computed: JsonObject,
    email = "ann@example.com",
  ): MembershipChange => ({
    kind: "membership",
    workspaceId,
    profileId,
    audience: "vip",
    member: true,
    seq,
    at: new Date(1_700_000_000_000 + seq).toISOString(),
    identifiers: [{ type: "email", value: email }],
    traits: { plan: "pro", ...traits },
    computed,
  });
  const deliver = async (bodies: MembershipChange[]) => {
    const batch = createMessageBatch(
      QUEUE.sync,
      bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })),
    );
    await handleSync(batch, env);
    await runDurableObjectAlarm(env.DESTINATION.getByName(destinationId));
  };
  return { destinationId, change, deliver, hook };
}
