import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Destination } from "@tessera/protocol";
import { describe, expect, it, vi } from "vitest";
import { emptyDrainRecord, recordDrain } from "../../d1/queries/sync-records";
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

/** A Klaviyo destination on audience `vip`, its vendor calls faked. */
async function klaviyoDestination(ws: Workspace): Promise<Destination> {
  await call(ws, "POST", "/v1/audiences", { key: "vip", definition: { trait: "plan", op: "eq", value: "pro" } });
  const res = await call(ws, "POST", "/v1/destinations", {
    type: "klaviyo",
    name: "Klaviyo",
    config: { api_key: "pk_test_0123456789abcd", base_url: "https://klaviyo.mock.test" },
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
