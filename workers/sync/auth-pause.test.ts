import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Destination } from "@tessera/protocol";
import { describe, expect, it, vi } from "vitest";
import { eventually } from "../test-support/destinations";
import { membershipOp } from "../test-support/recording-vendor";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api } from "../test-support/store-messages";
import { destinationStub } from "./consumer";
import { klaviyo } from "./destinations/klaviyo";
import { AuthRefused, type Outcome } from "./plugin";

type Workspace = Awaited<ReturnType<typeof seedWorkspace>>;

const WRONG = "pk_wrong_0123456789abcd";
const RIGHT = "pk_right_0123456789wxyz";

function call(ws: Workspace, method: string, path: string, body?: unknown): Promise<Response> {
  return api(path, bearer(ws.secretKey), {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/**
 * Klaviyo refusing every call made with a key other than `key.current` (401 → `AuthRefused`); answers the emails it
 * accepted (each test syncs its own profile: another test's destination may drain beside it).
 */
function klaviyoAccepting(key: { current: string }) {
  const sent: string[] = [];
  const check = (apiKey: string) => {
    if (apiKey !== key.current) throw new AuthRefused("401: invalid API key");
  };
  vi.spyOn(klaviyo, "upsertContacts").mockImplementation(async (ctx, items) => {
    check(ctx.config.api_key);
    sent.push(...items.map((i) => i.identity.email ?? ""));
    return items.map((): Outcome => ({ status: "ok" }));
  });
  vi.spyOn(klaviyo, "applyMemberships").mockImplementation(async (ctx, _list, items) => {
    check(ctx.config.api_key);
    return items.map((): Outcome => ({ status: "ok" }));
  });
  vi.spyOn(klaviyo, "testConnection").mockImplementation(async (ctx) => check(ctx.config.api_key));
  return sent;
}

/** A Klaviyo destination with the wrong key whose first drain the vendor refused: it is paused. */
async function pausedDestination(ws: Workspace, profileId: string): Promise<Destination> {
  await call(ws, "POST", "/v1/audiences", { key: "vip", definition: { trait: "plan", op: "eq", value: "pro" } });
  const res = await call(ws, "POST", "/v1/destinations", {
    type: "klaviyo",
    name: "Klaviyo",
    config: { api_key: WRONG, base_url: "https://klaviyo.mock.test" },
    audiences: ["vip"],
  });
  expect(res.status, await res.clone().text()).toBe(201);
  const d = await res.json<Destination>();
  await destinationStub(env, d.id).enqueue(d.id, [membershipOp(profileId, "vip", 1)]);
  // The alarm is due at once: the runtime may run it before the test does.
  return eventually(async () => {
    await drain(d.id);
    const read = await (await call(ws, "GET", `/v1/destinations/${d.id}`)).json<Destination>();
    expect(read.status).toMatchObject({ pending: 1, last_error: "401: invalid API key" });
    expect(Date.parse(read.status.paused_until ?? "")).toBeGreaterThan(Date.now() + 60_000);
    return read;
  });
}

const drain = (id: string) => runDurableObjectAlarm(env.DESTINATION.getByName(id));

/** Drains `id` until `email` was sent and nothing waits. */
const sendsAtOnce = (id: string, sent: string[], email: string) =>
  eventually(async () => {
    await drain(id);
    expect(sent).toContain(email);
    expect(await destinationStub(env, id).pendingCount()).toBe(0);
  });

describe("the pause after the vendor refused the credentials", () => {
  it("ends at once when a PUT changes the config, and the next drain sends", async () => {
    const ws = await seedWorkspace();
    const key = { current: RIGHT };
    const sent = klaviyoAccepting(key);
    const d = await pausedDestination(ws, "prf_put");

    const put = await call(ws, "PUT", `/v1/destinations/${d.id}`, { config: { api_key: RIGHT } });
    expect(put.status, await put.clone().text()).toBe(200);
    expect((await put.json<Destination>()).status.paused_until).toBeUndefined();
    await sendsAtOnce(d.id, sent, "prf_put@example.com");
  });

  it("ends when a test of the saved config succeeds, and not while it still fails", async () => {
    const ws = await seedWorkspace();
    const key = { current: RIGHT };
    const sent = klaviyoAccepting(key);
    const d = await pausedDestination(ws, "prf_test");

    const refused = await call(ws, "POST", `/v1/destinations/${d.id}/test`);
    expect(await refused.json()).toMatchObject({ ok: false });
    await drain(d.id);
    expect(sent).not.toContain("prf_test@example.com");

    // The key was fixed on the vendor's side: the saved one works now.
    key.current = WRONG;
    const ok = await call(ws, "POST", `/v1/destinations/${d.id}/test`);
    expect(await ok.json()).toMatchObject({ ok: true });
    await sendsAtOnce(d.id, sent, "prf_test@example.com");
    const read = await (await call(ws, "GET", `/v1/destinations/${d.id}`)).json<Destination>();
    expect(read.status.paused_until).toBeUndefined();
  });

  it("ends when the user asks to reconcile now: tried at once, paused again while the vendor still refuses", async () => {
    const ws = await seedWorkspace();
    const key = { current: RIGHT };
    const sent = klaviyoAccepting(key);
    const d = await pausedDestination(ws, "prf_reconcile");
    const reconcile = async () => {
      const res = await call(ws, "POST", `/v1/destinations/${d.id}/reconcile`);
      expect(res.status, await res.clone().text()).toBe(202);
    };
    const tries = () => vi.mocked(klaviyo.upsertContacts).mock.calls.length;
    const before = tries();

    await reconcile();
    await eventually(async () => {
      await drain(d.id);
      expect(tries()).toBeGreaterThan(before);
      const read = await (await call(ws, "GET", `/v1/destinations/${d.id}`)).json<Destination>();
      expect(read.status.pending).toBe(1);
      expect(Date.parse(read.status.paused_until ?? "")).toBeGreaterThan(Date.now() + 60_000);
    });
    expect(sent).not.toContain("prf_reconcile@example.com");

    // The key was fixed on the vendor's side: the next "Reconcile now" sends.
    key.current = WRONG;
    await reconcile();
    await sendsAtOnce(d.id, sent, "prf_reconcile@example.com");
    const read = await (await call(ws, "GET", `/v1/destinations/${d.id}`)).json<Destination>();
    expect(read.status.paused_until).toBeUndefined();
  });
});
