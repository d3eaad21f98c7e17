/**
 * Engagement back (DESIGN §7): a signed webhook becomes an event on the profile found by email, once per vendor event
 * id, and re-evaluates the profile's audiences in the same commit.
 */
import { env } from "cloudflare:workers";
import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import { profileStub } from "../profile/profile-stub";
import { errorEnvelope } from "../shared/error-envelope";
import { defineAll } from "../test-support/definitions";
import { insertDestination } from "../test-support/destinations";
import { identify } from "../test-support/messages";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api, store } from "../test-support/store-messages";
import { inboundRoutes } from "./inbound-routes";
import { signTessera } from "./tessera-signature";

const SECRET = "whsec_inbound_0123456789abcdef";

async function setup() {
  const { workspaceId, secretKey } = await seedWorkspace();
  const destinationId = await insertDestination(workspaceId, {
    type: "webhook",
    config: { url: "http://receiver.test/unused", secret: SECRET },
    audiences: [],
  });
  const [profileId] = await store(workspaceId, [
    identify({ email: "ada@example.com" }, new Date(Date.now() - 86_400_000).toISOString(), { userId: "ada" }),
  ]);
  return { workspaceId, secretKey, destinationId, profileId: profileId as string };
}

/** A webhook's request carrying `payload`, signed as the webhook destination's sender signs. */
async function signed(payload: unknown, sign: { secret?: string; at?: number } = {}): Promise<RequestInit> {
  const body = JSON.stringify(payload);
  const signature = await signTessera(sign.secret ?? SECRET, body, sign.at ?? Date.now());
  return { method: "POST", headers: { "content-type": "application/json", "x-tessera-signature": signature }, body };
}

async function send(destinationId: string, payload: unknown, sign: { secret?: string; at?: number } = {}) {
  return api(`/v1/webhooks/${destinationId}`, undefined, await signed(payload, sign));
}

async function eventsOf(profileId: string) {
  const read = await profileStub(env.PROFILE, profileId).listEvents({ limit: 100, type: "track" });
  if (read.status !== "ok") throw new Error(read.status);
  return read.page.data;
}

const opened = (id: string) => ({
  email: "Ada@Example.com",
  event: "opened",
  timestamp: new Date().toISOString(),
  id,
  properties: { campaign: "spring" },
});

describe("POST /v1/webhooks/:destinationId", () => {
  it("stores a verified engagement on the profile found by email, once per vendor event id", async () => {
    const { destinationId, profileId } = await setup();
    const first = await send(destinationId, opened("evt-1"));
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ stored: 1, unmatched: 0 });
    expect((await send(destinationId, opened("evt-1"))).status).toBe(200);
    const events = await eventsOf(profileId);
    expect(events.map((e) => (e.type === "track" ? e.event : e.type))).toEqual(["Email Opened"]);
    expect(events[0].properties).toMatchObject({ campaign: "spring", destination: destinationId });
  });

  it("refuses a bad, missing or stale signature with 401 and stores nothing", async () => {
    const { destinationId, profileId } = await setup();
    const forged = await send(destinationId, opened("evt-2"), { secret: "whsec_someone_else_0123456789" });
    expect(forged.status).toBe(401);
    expect(await forged.json()).toEqual({
      error: { code: "authentication_error", message: "Webhook not verified: signature does not match" },
    });
    const stale = await send(destinationId, opened("evt-3"), { at: Date.now() - 6 * 60_000 });
    expect(stale.status).toBe(401);
    const unsigned = await api(`/v1/webhooks/${destinationId}`, undefined, {
      method: "POST",
      body: JSON.stringify(opened("evt-4")),
    });
    expect(unsigned.status).toBe(401);
    expect(await eventsOf(profileId)).toEqual([]);
  });

  it("refuses a body over 1 MB with 413, streamed without a length or declared, and stores nothing", async () => {
    const { destinationId, profileId } = await setup();
    const padded = JSON.stringify({ ...opened("evt-huge"), pad: "x".repeat(1_100_000) });
    const signature = await signTessera(SECRET, padded, Date.now());
    const headers = { "content-type": "application/json", "x-tessera-signature": signature };
    const streamed = await api(`/v1/webhooks/${destinationId}`, undefined, {
      method: "POST",
      headers,
      body: new Blob([padded]).stream(),
    });
    expect(streamed.status).toBe(413);
    expect(await streamed.json()).toMatchObject({ error: { code: "payload_too_large" } });
    const declared = await api(`/v1/webhooks/${destinationId}`, undefined, { method: "POST", headers, body: padded });
    expect(declared.status).toBe(413);
    expect(await eventsOf(profileId)).toEqual([]);
  });

  it("answers 404 for an unknown destination", async () => {
    expect((await send("dst_nope", opened("evt-5"))).status).toBe(404);
  });

  it("reads D1 once per isolate for a deleted destination, however often its vendor still posts to it", async () => {
    const { destinationId, secretKey } = await setup();
    expect((await send(destinationId, opened("evt-gone-1"))).status).toBe(200);
    const deleted = await api(`/v1/destinations/${destinationId}`, bearer(secretKey), { method: "DELETE" });
    expect(deleted.status).toBe(204);
    // The routes as the Worker mounts them, with a D1 that counts the statements it is asked to prepare.
    let statements = 0;
    const counted = new Proxy(env.DB, {
      get(db, name) {
        const value = Reflect.get(db, name);
        if (name === "prepare") statements++;
        return typeof value === "function" ? value.bind(db) : value;
      },
    });
    const app = new Hono().route("/", inboundRoutes);
    app.onError(errorEnvelope);
    for (let i = 0; i < 5; i++) {
      const res = await app.request(`/v1/webhooks/${destinationId}`, await signed(opened(`evt-gone-${i + 2}`)), {
        ...env,
        DB: counted,
      });
      expect(res.status).toBe(404);
    }
    expect(statements).toBe(1);
  });

  it("closes the loop: an open makes the profile leave a 'not opened in 60 days' audience at once", async () => {
    const { workspaceId, destinationId, profileId } = await setup();
    await defineAll(workspaceId, { audiences: { unengaged: { not: { event: "Email Opened", within: "60d" } } } });
    await store(workspaceId, [identify({ plan: "pro" }, new Date().toISOString(), { userId: "ada" })]);
    const before = await profileStub(env.PROFILE, profileId).getProfile();
    expect(before.status === "ok" && before.profile.audiences.map((a) => a.key)).toEqual(["unengaged"]);
    expect((await send(destinationId, opened("evt-6"))).status).toBe(200);
    const after = await profileStub(env.PROFILE, profileId).getProfile();
    expect(after.status === "ok" && after.profile.audiences).toEqual([]);
  });
});
