/**
 * `DELETE /v1/destinations/{id}` (DESIGN §7) takes what the destination's object kept of the members it synced (emails,
 * traits) with the row: a delete that failed half-way leaves nothing no retry can reach.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Destination } from "@tessera/protocol";
import { describe, expect, it, vi } from "vitest";
import { findDestinationById } from "../../d1/queries/destinations";
import { destinationStub } from "../sync/consumer";
import { DestinationDO } from "../sync/destination-do";
import { eventually, webhookReceiver } from "../test-support/destinations";
import { membershipOp } from "../test-support/recording-vendor";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api } from "../test-support/store-messages";

type Workspace = Awaited<ReturnType<typeof seedWorkspace>>;

const SECRET = "whsec_test_0123456789abcdef";

function call(ws: Workspace, method: string, path: string, body?: unknown): Promise<Response> {
  return api(path, bearer(ws.secretKey), {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** An enabled webhook destination on audience `vip` whose object has synced one member (its email and traits kept). */
async function syncedDestination(ws: Workspace): Promise<Destination> {
  expect(
    (await call(ws, "POST", "/v1/audiences", { key: "vip", definition: { trait: "plan", op: "eq", value: "pro" } }))
      .status,
  ).toBe(201);
  const endpoint = await webhookReceiver(200);
  const res = await call(ws, "POST", "/v1/destinations", {
    type: "webhook",
    name: "CRM hook",
    config: { url: endpoint.url, secret: SECRET },
    audiences: ["vip"],
  });
  expect(res.status, await res.clone().text()).toBe(201);
  const d = await res.json<Destination>();
  await destinationStub(env, d.id).enqueue(d.id, [membershipOp("prf_ann", "vip", 1, { email: "ann@example.com" })]);
  await eventually(async () => {
    await runDurableObjectAlarm(env.DESTINATION.getByName(d.id));
    expect(await held(d.id)).toEqual({ pending: 0, synced: 1 });
  });
  return d;
}

/** What the destination's object holds of people. */
const held = (id: string) =>
  runInDurableObject(env.DESTINATION.getByName(id), (_o: DestinationDO, state) =>
    state.storage.sql
      .exec<{ pending: number; synced: number }>(
        "SELECT (SELECT count(*) FROM pending) AS pending, (SELECT count(*) FROM synced) AS synced",
      )
      .one(),
  );

describe("DELETE /v1/destinations/{id}", () => {
  it("leaves the destination for a retry when its object could not forget, and the retry takes both", async () => {
    const ws = await seedWorkspace();
    const d = await syncedDestination(ws);
    vi.spyOn(DestinationDO.prototype, "forget").mockRejectedValueOnce(new Error("object unreachable"));
    vi.spyOn(console, "error").mockImplementation(() => {});

    expect((await call(ws, "DELETE", `/v1/destinations/${d.id}`)).status).toBe(500);
    expect(await findDestinationById(env.DB, d.id)).toBeDefined();

    expect((await call(ws, "DELETE", `/v1/destinations/${d.id}`)).status).toBe(204);
    expect(await findDestinationById(env.DB, d.id)).toBeUndefined();
    expect(await held(d.id)).toEqual({ pending: 0, synced: 0 });
  });

  it("keeps nothing that reaches the object after it forgot, before the row is gone", async () => {
    const ws = await seedWorkspace();
    const d = await syncedDestination(ws);
    const object = destinationStub(env, d.id);
    await object.forget(d.id);
    // A queue message routed to it meanwhile (the row still there, the consumer's cache still naming it).
    expect(await object.enqueue(d.id, [membershipOp("prf_bob", "vip", 1, { email: "bob@example.com" })])).toEqual({
      queued: 0,
    });
    await runDurableObjectAlarm(env.DESTINATION.getByName(d.id));
    expect(await held(d.id)).toEqual({ pending: 0, synced: 0 });
  });

  it("keeps no reconcile or restatement state of a tick the forget ran beside", async () => {
    const ws = await seedWorkspace();
    const d = await syncedDestination(ws);
    const object = destinationStub(env, d.id);
    await object.restateTraits(d.id, ["plan"]);
    // The tick reads D1 (the destination, the members) while the forget runs; it must not write after the wipe.
    await Promise.all([object.reconcileTick(d.id), object.forget(d.id)]);
    const kept = await runInDurableObject(env.DESTINATION.getByName(d.id), (_o: DestinationDO, state) =>
      state.storage.sql.exec<{ key: string }>("SELECT key FROM kv").toArray(),
    );
    expect(kept).toEqual([]);
  });
});
