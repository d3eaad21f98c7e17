/**
 * A GDPR delete at a destination's object: the vendor is asked to delete every contact the erased person had, and
 * nothing of the person is kept by a vendor call that was in flight when the delete arrived.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { emptyDrainRecord, listSyncLog, recordDrain } from "../../d1/queries/sync-records";
import { eventually, insertDestination, webhookReceiver } from "../test-support/destinations";
import { freshId } from "../test-support/messages";
import { membershipOp, recordingVendor } from "../test-support/recording-vendor";
import { seedWorkspace } from "../test-support/seed";
import { destinationStub, route } from "./consumer";
import { marketo } from "./destinations/marketo";

afterEach(() => {
  vi.restoreAllMocks();
});

const deadLettersOf = async (destinationId: string) =>
  (
    await env.DB.prepare("SELECT profile_id, op, error FROM sync_dead_letters WHERE destination_id = ?")
      .bind(destinationId)
      .all<{ profile_id: string; op: string; error: string }>()
  ).results;

describe("a GDPR delete at a destination", () => {
  it("asks the vendor to delete every email a merged person had, and each vendor id recorded for them", async () => {
    const vendor = await recordingVendor(["vip"]);
    const profileId = freshId("prf");
    // A and B merged: the person had both emails, and Tessera recorded the vendor's lead id of each.
    await recordDrain(env.DB, vendor.destinationId, {
      ...emptyDrainRecord(Date.now()),
      vendorIds: [
        { email: "a@ex.com", vendorId: "101" },
        { email: "b@ex.com", vendorId: "202" },
      ],
    });
    const destination = { id: vendor.destinationId, audiences: '["vip"]', traits: "[]" } as never;
    const ops = route(
      {
        kind: "delete",
        workspaceId: vendor.workspaceId,
        profileIds: [profileId, freshId("prf")],
        identifiers: [
          { type: "email", value: "a@ex.com" },
          { type: "user_id", value: "uA" },
          { type: "anonymous_id", value: "anB" },
          { type: "email", value: "B@Ex.com " },
        ],
      },
      [destination],
    ).map((r) => r.op);
    await destinationStub(env, vendor.destinationId).enqueue(vendor.destinationId, ops);
    await vendor.drainAll();

    const deletes = vi.mocked(marketo.deleteContact).mock.calls.map(([, person]) => person);
    expect(deletes).toHaveLength(1);
    expect(deletes[0]).toMatchObject({ profileId, emails: ["a@ex.com", "b@ex.com"] });
    expect([...deletes[0].vendorIds].sort()).toEqual(["101", "202"]);
  });

  it("forgets every profile erased with the person, so nothing of the merged-away one stays or is sent later", async () => {
    const vendor = await recordingVendor(["vip"]);
    const [survivor, mergedAway] = [freshId("prf"), freshId("prf")];
    // B was synced before the merge: the object remembers its email and traits.
    await vendor.enqueue([membershipOp(mergedAway, "vip", 1, { email: "b@ex.com", traits: { first_name: "Bea" } })]);
    await vendor.drainAll();
    const remembered = () =>
      runInDurableObject(env.DESTINATION.getByName(vendor.destinationId), (_o, state) =>
        state.storage.sql
          .exec<{ audience: string; email: string | null }>(
            "SELECT audience, email FROM synced WHERE profile_id = ?",
            mergedAway,
          )
          .toArray(),
      );
    expect(await remembered()).toEqual([{ audience: "vip", email: "b@ex.com" }]);

    const destination = { id: vendor.destinationId, audiences: '["vip"]', traits: "[]" } as never;
    const ops = route(
      {
        kind: "delete",
        workspaceId: vendor.workspaceId,
        profileIds: [survivor, mergedAway],
        identifiers: [
          { type: "email", value: "a@ex.com" },
          { type: "email", value: "b@ex.com" },
        ],
      },
      [destination],
    ).map((r) => r.op);
    expect(ops).toHaveLength(1);
    await destinationStub(env, vendor.destinationId).enqueue(vendor.destinationId, ops);
    await vendor.drainAll();
    // Only the marker that the person was erased here: no email, no traits.
    expect(await remembered()).toEqual([{ audience: "", email: null }]);
    // A late change of the merged-away profile (queued before the erase) is not sent.
    const upsertsBefore = vendor.upserts.length;
    await vendor.enqueue([membershipOp(mergedAway, "vip", 2, { email: "b@ex.com", traits: { first_name: "Bea" } })]);
    await vendor.drainAll();
    expect(vendor.upserts.length).toBe(upsertsBefore);
  });

  it("keeps no dead letter of a vendor call that was in flight when the delete arrived, and failed after", async () => {
    // The customer's endpoint holds each call, then refuses the entry (400: a failure for good) and takes the delete.
    const hook = await webhookReceiver(400, 200);
    await hook.carries({ inFlight: 10, holdMs: 1_500 });
    const { workspaceId } = await seedWorkspace();
    const destinationId = await insertDestination(workspaceId, {
      type: "webhook",
      config: { url: hook.url, secret: "whsec_test_0123456789abcdef" },
      audiences: ["vip"],
      traits: ["first_name"],
    });
    const profileId = freshId("prf");
    const stub = destinationStub(env, destinationId);
    await stub.enqueue(destinationId, [
      membershipOp(profileId, "vip", 1, { email: "jane@ex.com", traits: { first_name: "Jane" } }),
    ]);
    const drained = runDurableObjectAlarm(env.DESTINATION.getByName(destinationId));
    // The entry is at the endpoint, waiting for its answer, when the erase's delete reaches the object.
    await eventually(async () => expect(await hook.received()).toHaveLength(1));
    await stub.enqueue(destinationId, [
      { kind: "delete", profileId, email: "jane@ex.com", identifiers: [{ type: "email", value: "jane@ex.com" }] },
    ]);
    await drained;
    // (This harness's alarm may run beside the test's own drain and send the delete twice.)
    await eventually(async () => {
      await runDurableObjectAlarm(env.DESTINATION.getByName(destinationId));
      const sent = new Set((await hook.received()).map((r) => r.event.type));
      expect(sent).toEqual(new Set(["audience.entered", "profile.deleted"]));
      expect(await stub.pendingCount()).toBe(0);
    });

    expect(await deadLettersOf(destinationId)).toEqual([]);
    // The sync log says what happened to the entry, without what was sent.
    const log = await eventually(async () => {
      const rows = await listSyncLog(env.DB, destinationId, { profileId, limit: 10 });
      expect(new Set(rows.map((r) => `${r.action} ${r.outcome}`))).toEqual(new Set(["add skip", "delete ok"]));
      return rows;
    });
    expect(JSON.stringify(log)).not.toContain("jane");
  });
});
