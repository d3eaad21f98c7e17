import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Destination } from "@tessera/protocol";
import { describe, expect, it, vi } from "vitest";
import { emptyDrainRecord, listSyncLog, recordDrain } from "../../d1/queries/sync-records";
import { destinationStub } from "../sync/consumer";
import { klaviyo } from "../sync/destinations/klaviyo";
import type { Outcome } from "../sync/plugin";
import { eventually } from "../test-support/destinations";
import { membershipOp } from "../test-support/recording-vendor";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api } from "../test-support/store-messages";

type Workspace = Awaited<ReturnType<typeof seedWorkspace>>;

function call(ws: Workspace, method: string, path: string, body?: unknown): Promise<Response> {
  return api(path, bearer(ws.secretKey), {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

const read = async (ws: Workspace, id: string) => (await call(ws, "GET", `/v1/destinations/${id}`)).json<Destination>();

/**
 * A Klaviyo destination on audience `vip`, its vendor calls faked, or sent to `baseUrl` (a hosted mock Klaviyo, see
 * test/support/mocks/hosted-vendors.ts).
 */
async function klaviyoDestination(ws: Workspace, baseUrl = "https://klaviyo.mock.test"): Promise<Destination> {
  await call(ws, "POST", "/v1/audiences", { key: "vip", definition: { trait: "plan", op: "eq", value: "pro" } });
  const res = await call(ws, "POST", "/v1/destinations", {
    type: "klaviyo",
    name: "Klaviyo",
    config: { api_key: "pk_test_0123456789abcd", base_url: baseUrl },
    audiences: ["vip"],
  });
  expect(res.status, await res.clone().text()).toBe(201);
  return res.json<Destination>();
}

describe("a destination's status.last_error", () => {
  it("says when the vendor's error happened, and is cleared once a later sync succeeds", async () => {
    const ws = await seedWorkspace();
    const vendor = { down: true };
    vi.spyOn(klaviyo, "upsertContacts").mockImplementation(async (_ctx, items) => {
      if (vendor.down) throw new Error("Klaviyo answered HTTP 503");
      return items.map((): Outcome => ({ status: "ok" }));
    });
    vi.spyOn(klaviyo, "applyMemberships").mockImplementation(async (_ctx, _list, items) =>
      items.map((): Outcome => ({ status: "ok" })),
    );
    const d = await klaviyoDestination(ws);
    const drain = () => runDurableObjectAlarm(env.DESTINATION.getByName(d.id));
    const before = Date.now();

    await destinationStub(env, d.id).enqueue(d.id, [membershipOp("prf_down", "vip", 1)]);
    const failed = await eventually(async () => {
      await drain();
      const status = (await read(ws, d.id)).status;
      expect(status.last_error).toBe("Klaviyo answered HTTP 503");
      return status;
    });
    const errorAt = Date.parse(failed.last_error_at ?? "");
    expect(errorAt).toBeGreaterThanOrEqual(before);
    expect(errorAt).toBeLessThanOrEqual(Date.now());

    // The vendor is back: the next sync (another member's, as the first waits for its backoff) goes through.
    vendor.down = false;
    await destinationStub(env, d.id).enqueue(d.id, [membershipOp("prf_up", "vip", 1)]);
    const recovered = await eventually(async () => {
      await drain();
      const status = (await read(ws, d.id)).status;
      expect(status.last_success_at).not.toBeNull();
      return status;
    });
    expect(recovered.last_error).toBeNull();
    expect(recovered.last_error_at).toBeUndefined();
    expect(Date.parse(recovered.last_success_at ?? "")).toBeGreaterThanOrEqual(errorAt);
  });

  it("names the vendor's failure when the plugin answers every item `retry` instead of throwing", async () => {
    const ws = await seedWorkspace();
    const base = `http://${crypto.randomUUID()}.klaviyo.test`;
    const d = await klaviyoDestination(ws, base);
    // Klaviyo is down: every call is answered 503, which the plugin turns into a `retry` outcome per item.
    const outage = { match: {}, until: Date.now() + 10 * 60_000, respond: { status: 503 } };
    expect((await fetch(`${base}/__mock/faults`, { method: "POST", body: JSON.stringify(outage) })).ok).toBe(true);
    const before = Date.now();

    await destinationStub(env, d.id).enqueue(d.id, [membershipOp("prf_503", "vip", 1)]);
    const status = await eventually(async () => {
      await runDurableObjectAlarm(env.DESTINATION.getByName(d.id));
      const log = await listSyncLog(env.DB, d.id, { limit: 10 });
      expect(log.map((l) => [l.profileId, l.outcome, l.error])).toEqual([["prf_503", "retry", "Klaviyo 503"]]);
      return (await read(ws, d.id)).status;
    });
    expect(status).toMatchObject({ pending: 1, delivered: 0, last_success_at: null, last_error: "Klaviyo 503" });
    expect(Date.parse(status.last_error_at ?? "")).toBeGreaterThanOrEqual(before);
    // The retry's alarm would call the downed mock again amid other files sharing this runtime.
    await runInDurableObject(env.DESTINATION.getByName(d.id), (_o, state) => state.storage.deleteAlarm());
  });

  it("is not set by an item skipped without an error, which status.skipped counts", async () => {
    const ws = await seedWorkspace();
    const d = await klaviyoDestination(ws);
    // Klaviyo lists contacts by email: a profile without one is skipped, and the vendor is never called.
    await destinationStub(env, d.id).enqueue(d.id, [membershipOp("prf_no_email", "vip", 1, { email: null })]);
    await eventually(async () => {
      await runDurableObjectAlarm(env.DESTINATION.getByName(d.id));
      const log = await listSyncLog(env.DB, d.id, { limit: 10 });
      expect(log.map((l) => [l.outcome, l.error])).toEqual([["skip", "the profile has no email"]]);
    });
    expect((await read(ws, d.id)).status).toMatchObject({ pending: 0, delivered: 0, skipped: 1, last_error: null });
  });

  it("stays when the sync that met it also delivered other items", async () => {
    const ws = await seedWorkspace();
    const d = await klaviyoDestination(ws);
    const at = Date.UTC(2026, 0, 2, 3, 4, 5);
    await recordDrain(env.DB, d.id, { ...emptyDrainRecord(at), delivered: 3, failed: 1, lastError: "fail: bad email" });
    expect((await read(ws, d.id)).status).toMatchObject({
      last_success_at: "2026-01-02T03:04:05.000Z",
      last_error: "fail: bad email",
      last_error_at: "2026-01-02T03:04:05.000Z",
    });
    // A sync that delivered nothing (every item retried or skipped) ends nothing either.
    await recordDrain(env.DB, d.id, emptyDrainRecord(at + 1000));
    expect((await read(ws, d.id)).status.last_error).toBe("fail: bad email");
  });
});
