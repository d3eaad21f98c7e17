/**
 * A profile's late entry of an audience deleted and defined again under the same key (another definition, which the
 * profile does not qualify for): the destination syncing the key must not list the profile, as D1 does not count it.
 * End to end: the profile's outbox, the sync queue's message, the consumer, the destination's drain.
 */
import { createExecutionContext, createMessageBatch, getQueueResult, runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { readDefinitionSet } from "../../d1/queries/definitions";
import { findDestinationById } from "../../d1/queries/destinations";
import { listSyncLog } from "../../d1/queries/sync-records";
import { QUEUE } from "../shared/queues";
import { defineAll } from "../test-support/definitions";
import { identify, track } from "../test-support/messages";
import { outboxStateOf } from "../test-support/profile-reads";
import { recordingVendor } from "../test-support/recording-vendor";
import { store } from "../test-support/store-messages";
import { handleSync } from "./consumer";

afterEach(() => {
  vi.restoreAllMocks();
});

/** Stores `event` of user `userId` (who has an email, as a MAP needs one) and answers the profile it landed on. */
async function userDoes(workspaceId: string, userId: string, event: string): Promise<string> {
  const now = new Date().toISOString();
  const [profileId] = await store(workspaceId, [
    identify({ email: `${userId}@example.com` }, now, { userId }),
    track(event, now, { userId, anonymousId: undefined }),
  ]);
  return profileId as string;
}

/** Queue message bodies through the sync consumer, all acknowledged. */
async function consume(bodies: unknown[]): Promise<void> {
  const batch = createMessageBatch(
    QUEUE.sync,
    bodies.map((body, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body })),
  );
  const ctx = createExecutionContext();
  await handleSync(batch, env);
  const result = await getQueueResult(batch, ctx);
  expect(result.explicitAcks).toHaveLength(bodies.length);
}

describe("a held entry of an audience deleted and defined again, delivered late", () => {
  it("is not sent to the destination syncing the key, and the sync log says why; an entry of the new one is", async () => {
    const vendor = await recordingVendor(["vip"]);
    const { workspaceId } = vendor;
    await defineAll(workspaceId, { audiences: { vip: { event: "Signed Up" } } });

    // The profile enters the first `vip`; the sync queue refuses the change, so the profile's outbox keeps it.
    const queue = vi
      .spyOn(env.SYNC_QUEUE, "sendBatch")
      .mockRejectedValue(new Error("Queue sendBatch failed: Internal Server Error"));
    const late = await userDoes(workspaceId, "u_late", "Signed Up");
    await vi.waitFor(() => expect(queue.mock.calls.length).toBeGreaterThanOrEqual(1), { timeout: 5_000 });
    expect((await outboxStateOf(late)).outbox).toBe(1);

    // `vip` is deleted and defined again so that the profile is not in it (its rebuild has not reached the profile).
    const before = (await readDefinitionSet(env.DB, workspaceId))?.definitions[0].createdAt;
    await vi.waitFor(() => expect(Date.now()).toBeGreaterThan(before as number));
    await defineAll(workspaceId, { audiences: { vip: { event: "Order Completed" } } });
    expect((await readDefinitionSet(env.DB, workspaceId))?.definitions[0].createdAt).not.toBe(before);

    // The queue is back: the object's retry delivers the held entry, and another profile enters the new `vip`.
    queue.mockReset();
    queue.mockResolvedValue(undefined as never);
    await runDurableObjectAlarm(env.PROFILE.getByName(late));
    expect((await outboxStateOf(late)).outbox).toBe(0);
    await userDoes(workspaceId, "u_new", "Order Completed");
    await vi.waitFor(() => expect(queue.mock.calls.length).toBeGreaterThanOrEqual(2), { timeout: 5_000 });
    await consume(queue.mock.calls.flatMap(([messages]) => [...messages].map((m) => m.body)));
    await vendor.drainAll();

    expect(vendor.listCalls).toEqual([{ list: "vip", items: ["+u_new@example.com"] }]);
    expect(vendor.upserts).toEqual([["u_new@example.com"]]);
    const log = await listSyncLog(env.DB, vendor.destinationId, { limit: 20 });
    expect(log.filter((l) => l.outcome === "skip").map((l) => [l.profileId, l.action, l.error])).toEqual([
      [
        late,
        "add",
        "not sent: the profile entered a definition of audience vip that was deleted since (a definition of the key created after it is another audience)",
      ],
    ]);
    expect(await findDestinationById(env.DB, vendor.destinationId)).toMatchObject({ skipped: 1, failed: 0 });
  });
});
