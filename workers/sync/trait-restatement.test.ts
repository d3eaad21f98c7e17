/**
 * A trait a destination selects after its members were sent reaches them without waiting for their next change: the
 * `PUT` starts a walk, each cron tick takes a bounded step of it and queues a restatement for each listed member with
 * a value for the trait, which the drain sends as an upsert (a webhook's `profile.updated`).
 */
import { createExecutionContext, runInDurableObject, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { findDestinationById } from "../../d1/queries/destinations";
import { listMembers } from "../../d1/queries/members";
import worker from "../index";
import { defineAll } from "../test-support/definitions";
import { eventually, insertDestination, webhookReceiver } from "../test-support/destinations";
import { identify } from "../test-support/messages";
import { membershipOp, recordingVendor } from "../test-support/recording-vendor";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api, store } from "../test-support/store-messages";
import { destinationStub } from "./consumer";
import type { DestinationDO } from "./destination-do";
import { marketo } from "./destinations/marketo";
import type { ContactUpsert } from "./plugin";
import { restateStep } from "./trait-restatement";

const SECRET = "whsec_test_0123456789abcdef";

afterEach(() => {
  vi.restoreAllMocks();
});

/**
 * A webhook destination of audience `vip` (plan = pro) selecting `first_name`, whose members Ann (in Berlin), Bob (no
 * city) and Cem (in Izmir) were sent with that trait alone.
 */
async function sentMembers() {
  const { workspaceId, secretKey } = await seedWorkspace();
  await defineAll(workspaceId, { audiences: { vip: { trait: "plan", op: "eq", value: "pro" } } });
  const hook = await webhookReceiver(200);
  // Disabled while the members enter, so the cron's reconciliation below is what sends them (not the queue, racing).
  const destinationId = await insertDestination(workspaceId, {
    type: "webhook",
    config: { url: hook.url, secret: SECRET },
    audiences: ["vip"],
    traits: ["first_name"],
    enabled: false,
  });
  const now = new Date().toISOString();
  const ids = (await store(workspaceId, [
    identify({ plan: "pro", email: "ann@example.com", first_name: "Ann", city: "Berlin" }, now, { userId: "ann" }),
    identify({ plan: "pro", email: "bob@example.com", first_name: "Bob" }, now, { userId: "bob" }),
    identify({ plan: "pro", email: "cem@example.com", first_name: "Cem", city: "Izmir" }, now, { userId: "cem" }),
  ])) as string[];
  await eventually(async () => {
    const rows = await listMembers(env.DB, workspaceId, "audience", "vip", { limit: 100 });
    expect(rows).toHaveLength(3);
  });
  await env.DB.prepare("UPDATE destinations SET enabled = 1 WHERE id = ?").bind(destinationId).run();
  const stub = destinationStub(env, destinationId);
  await stub.reconcileTick(destinationId);
  const events = async () => (await hook.received()).map((r) => r.event);
  await eventually(async () => {
    expect((await events()).map((e) => [e.type, e.profile.traits])).toEqual([
      ["audience.entered", { first_name: expect.any(String) }],
      ["audience.entered", { first_name: expect.any(String) }],
      ["audience.entered", { first_name: expect.any(String) }],
    ]);
    expect(await stub.pendingCount()).toBe(0);
  });
  const [ann, bob, cem] = ids;
  return { workspaceId, secretKey, destinationId, stub, events, ann, bob, cem };
}

/**
 * At the cron's next tick, `city` reaches Ann and Cem (Bob has none) in one `profile.updated` each; the walk is done
 * then, and the tick after it queues nothing.
 */
async function expectRestatedOnceAtNextTick(members: Awaited<ReturnType<typeof sentMembers>>) {
  const { destinationId, stub, events, ann, cem } = members;
  await stub.reconcileTick(destinationId);
  await eventually(async () => {
    const updated = (await events()).filter((e) => e.type === "profile.updated");
    expect(updated.map((e) => [e.profile.id, e.profile.traits]).sort()).toEqual(
      [
        [ann, { first_name: "Ann", city: "Berlin" }],
        [cem, { first_name: "Cem", city: "Izmir" }],
      ].sort(),
    );
    expect(await stub.pendingCount()).toBe(0);
  });
  const sent = (await events()).length;
  expect(await stub.reconcileTick(destinationId)).toMatchObject({ queued: 0 });
  expect(await stub.pendingCount()).toBe(0);
  expect(await events()).toHaveLength(sent);
}

describe("a trait newly selected on a destination", { timeout: 30_000 }, () => {
  it("reaches the members already sent that have it at the cron's next tick, once, and costs the others nothing", async () => {
    const members = await sentMembers();
    const { secretKey, destinationId } = members;
    const put = await api(`/v1/destinations/${destinationId}`, bearer(secretKey), {
      method: "PUT",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ traits: ["first_name", "city"] }),
    });
    expect(put.status).toBe(200);

    await expectRestatedOnceAtNextTick(members);
  });

  it("reaches them at the next ticks though the PUT's call of the destination's object failed, which answers 200", async () => {
    const members = await sentMembers();
    const { secretKey, destinationId } = members;
    const refused: string[] = [];
    // The object's isolate goes away during the call: the traits are saved in D1, the object never heard of them.
    const getByName = (name: string) =>
      new Proxy(env.DESTINATION.getByName(name), {
        get: (target, key) =>
          key === "restateTraits"
            ? async () => {
                refused.push(name);
                throw new Error("the Durable Object's isolate went away");
              }
            : Reflect.get(target, key),
      });
    const request = new Request(`http://tessera.test/v1/destinations/${destinationId}`, {
      method: "PUT",
      headers: { "content-type": "application/json", authorization: bearer(secretKey) },
      body: JSON.stringify({ traits: ["first_name", "city"] }),
    });
    const ctx = createExecutionContext();
    const put = await worker.fetch(
      request,
      { ...env, DESTINATION: { getByName } as unknown as Env["DESTINATION"] },
      ctx,
    );
    await waitOnExecutionContext(ctx);
    expect([put.status, refused]).toEqual([200, [destinationId]]);

    await expectRestatedOnceAtNextTick(members);
  });

  it("takes a bounded number of listed members per step and resumes where the last one stopped", async () => {
    const { destinationId, ann, bob, cem } = await sentMembers();
    await env.DB.prepare("UPDATE destinations SET traits = ? WHERE id = ?")
      .bind(JSON.stringify(["first_name", "city"]), destinationId)
      .run();
    const destination = await findDestinationById(env.DB, destinationId);
    if (!destination) throw new Error("destination gone");
    const steps = await runInDurableObject(
      env.DESTINATION.getByName(destinationId),
      async (_o: DestinationDO, state) => {
        const sql = state.storage.sql;
        const walk = { traits: ["city"] };
        const first = await restateStep(env, sql, destination, walk, 2);
        const second = await restateStep(env, sql, destination, { ...walk, at: first.next }, 2);
        return [first, second];
      },
    );
    const [first, second] = steps;
    const inOrder = [ann, bob, cem].sort();
    expect(first.examined).toBe(2);
    expect(first.next).toEqual({ audience: "vip", after: inOrder[1] });
    expect(second.examined).toBe(1);
    expect(second.next).toBeUndefined();
    // Bob has no city: nothing to restate of him.
    const restated = [...first.ops, ...second.ops].map((op) => [op.profileId, op.traits, op.restate]);
    expect(restated.sort()).toEqual(
      [
        [ann, { first_name: "Ann", city: "Berlin" }, true],
        [cem, { first_name: "Cem", city: "Izmir" }, true],
      ].sort(),
    );
  });
});

describe("a drain after a trait was newly selected", () => {
  it("sends it with an operation queued before, from the profile the operation carries", async () => {
    const vendor = await recordingVendor(["vip"]);
    // Routed while the destination selected no trait: the op's own traits are empty, its profile has first_name.
    const op = { ...membershipOp("prf_early", "vip", 1, { traits: { first_name: "Ann" } }), traits: {} };
    await vendor.enqueue([op]);
    await vendor.drainAll();
    const upserted = vi.mocked(marketo.upsertContacts).mock.calls.flatMap(([, items]) => items as ContactUpsert[]);
    expect(upserted.map((i) => i.traits)).toEqual([{ first_name: "Ann" }]);
  });

  it("does not queue a restatement of a member whose newer change was synced since it was read", async () => {
    const vendor = await recordingVendor(["vip"]);
    await vendor.enqueue([membershipOp("prf_moved", "vip", 1)]);
    await vendor.drainAll();
    await vendor.enqueue([membershipOp("prf_moved", "vip", 2, { member: false })]);
    await vendor.drainAll();
    vendor.listCalls.length = 0;
    vendor.upserts.length = 0;
    // Read as listed at seq 1, before its exit (seq 2) was synced: restating it would list it again.
    const restatement = { ...membershipOp("prf_moved", "vip", 1), repair: true as const, restate: true as const };
    const stub = destinationStub(env, vendor.destinationId);
    expect(await stub.enqueue(vendor.destinationId, [restatement])).toEqual({ queued: 0 });
    await vendor.drainAll();
    expect([vendor.listCalls, vendor.upserts]).toEqual([[], []]);
  });
});
