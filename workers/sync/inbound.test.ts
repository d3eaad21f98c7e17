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
import { insertDestination, sendHubSpotWebhook } from "../test-support/destinations";
import { identify } from "../test-support/messages";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api, store } from "../test-support/store-messages";
import { hmacSha256, toHex } from "./hmac";
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
    const again = await send(destinationId, opened("evt-1"));
    expect(again.status).toBe(200);
    // Said as it is: the redelivery was already stored, not stored a second time.
    expect(await again.json()).toEqual({ stored: 0, unmatched: 0, duplicates: 1 });
    const events = await eventsOf(profileId);
    expect(events.map((e) => (e.type === "track" ? e.event : e.type))).toEqual(["Email Opened"]);
    expect(events[0].properties).toMatchObject({ campaign: "spring", destination: destinationId });
  });

  it("finds the profile by an address it replaced, and leaves the profile's email as it is", async () => {
    const { workspaceId, destinationId, profileId } = await setup();
    await store(workspaceId, [identify({ email: "ada@new.example" }, new Date().toISOString(), { userId: "ada" })]);
    // An open of a mail sent to the old address, reported after the change.
    const res = await send(destinationId, {
      ...opened("evt-old"),
      timestamp: new Date(Date.now() + 1000).toISOString(),
    });
    expect(await res.json()).toEqual({ stored: 1, unmatched: 0 });
    expect((await eventsOf(profileId)).map((e) => (e.type === "track" ? e.event : e.type))).toEqual(["Email Opened"]);
    const read = await profileStub(env.PROFILE, profileId).getProfile();
    expect(read.status === "ok" && read.profile.traits.email).toBe("ada@new.example");
  });

  it("counts an engagement of an erased person as unmatched, not stored (it is dropped)", async () => {
    const { destinationId, profileId, secretKey } = await setup();
    const erase = await api(`/v1/profiles/${profileId}`, bearer(secretKey), { method: "DELETE" });
    expect(erase.status).toBe(202);
    const res = await send(destinationId, opened("evt-erased"));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ stored: 0, unmatched: 1 });
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

  it("takes a Marketo destination's engagement signed as Tessera signs, with the secret of its webhook_url", async () => {
    const { workspaceId, profileId } = await setup();
    const marketo = await insertDestination(workspaceId, {
      type: "marketo",
      config: { base_url: "https://123-ABC-456.mktorest.com", client_id: "id", client_secret: "secret", list_id: 1 },
      audiences: [],
    });
    const secret = (await env.DB.prepare("SELECT inbound_secret FROM destinations WHERE id = ?")
      .bind(marketo)
      .first<{ inbound_secret: string }>()) as { inbound_secret: string };
    expect((await send(marketo, opened("mkto-1"))).status).toBe(401);
    const res = await send(marketo, opened("mkto-1"), { secret: secret.inbound_secret });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ stored: 1, unmatched: 0 });
    expect((await eventsOf(profileId)).map((e) => e.properties?.destination)).toEqual([marketo]);
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

  it("answers 400 saying what is wrong with a signed Tessera body it cannot read, and stores nothing", async () => {
    const { destinationId, profileId } = await setup();
    const { id: _id, ...noId } = opened("x");
    const cases: Array<[unknown, RegExp]> = [
      [noId, /^Webhook body invalid: id: /],
      [{ ...opened("evt-b1"), timestamp: "yesterday" }, /^Webhook body invalid: timestamp: /],
      [{ ...opened("evt-b2"), email: 123 }, /^Webhook body invalid: email: /],
      [{ ...opened("evt-b3"), event: "Email Printed" }, /^Webhook body invalid: event: "Email Printed" is not/],
      [{ ...opened("evt-b4"), properties: "spring" }, /^Webhook body invalid: properties: /],
      [["not", "an", "object"], /^Webhook body invalid: /],
    ];
    for (const [payload, message] of cases) {
      const res = await send(destinationId, payload);
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe("validation_error");
      expect(body.error.message).toMatch(message);
    }
    const body = "{not json";
    const signature = await signTessera(SECRET, body, Date.now());
    const garbled = await api(`/v1/webhooks/${destinationId}`, undefined, {
      method: "POST",
      headers: { "x-tessera-signature": signature },
      body,
    });
    expect(garbled.status).toBe(400);
    expect(await garbled.json()).toMatchObject({ error: { message: expect.stringMatching(/not JSON/) } });
    expect(await eventsOf(profileId)).toEqual([]);
  });

  it("never answers 500 to a signed Klaviyo batch: unreadable items are left out and counted, the rest stored", async () => {
    const { workspaceId, profileId } = await setup();
    const destinationId = await insertDestination(workspaceId, {
      type: "klaviyo",
      config: { api_key: "pk_test", webhook_secret: KLAVIYO_SECRET },
      audiences: [],
    });
    const good = klaviyoItem("kl-good", { email: "ada@example.com" });
    const batch = [
      null,
      "opened",
      { ...klaviyoItem("kl-topic"), topic: 5 },
      { ...klaviyoItem("kl-included"), payload: { ...klaviyoItem("kl-included").payload, included: { a: 1 } } },
      klaviyoItem("kl-far", { timestamp: 1e20 }),
      klaviyoItem("kl-email", { email: 123 }),
      good,
    ];
    const res = await sendKlaviyo(destinationId, { data: batch, meta: { klaviyo_webhook_id: "wh_1" } });
    expect(res.status).toBe(200);
    // Every unreadable item counted, the first five named: the sender learns of its bug from the answer.
    expect(await res.json()).toEqual({
      stored: 1,
      unmatched: 0,
      skipped: 6,
      skipped_reasons: [
        { index: 0, reason: "Invalid input: expected object, received null" },
        { index: 1, reason: "Invalid input: expected object, received string" },
        { index: 2, reason: expect.stringMatching(/^topic: /) },
        { index: 3, reason: expect.stringMatching(/^payload\.included: /) },
        { index: 4, reason: expect.stringMatching(/^payload\.data\.attributes: must have a datetime/) },
      ],
    });
    expect((await eventsOf(profileId)).map((e) => (e.type === "track" ? e.event : e.type))).toEqual(["Email Opened"]);
    // A topic Tessera does not store is no engagement: neither stored nor skipped.
    const sms = { ...klaviyoItem("kl-sms"), topic: "event:klaviyo.received_sms" };
    const other = await sendKlaviyo(destinationId, { data: [sms], meta: { klaviyo_webhook_id: "wh_1" } });
    expect(await other.json()).toEqual({ stored: 0, unmatched: 0 });

    for (const [body, message] of [
      ["not json", /not JSON/],
      [JSON.stringify([good]), /JSON object/],
      [JSON.stringify({ data: { a: 1 }, meta: { klaviyo_webhook_id: "wh_1" } }), /^Webhook body invalid: data: /],
    ] as const) {
      const refused = await sendKlaviyo(destinationId, body);
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({
        error: { code: "validation_error", message: expect.stringMatching(message) },
      });
    }
  });

  it("never answers 500 to a signed HubSpot batch: unreadable items are left out and counted, the rest read", async () => {
    const { workspaceId } = await setup();
    const destinationId = await insertDestination(workspaceId, {
      type: "hubspot",
      config: { access_token: "pat-test", client_secret: HUBSPOT_SECRET },
      audiences: [],
    });
    const optOut = (eventId: number, occurredAt: unknown) => ({
      eventId,
      occurredAt,
      subscriptionType: "contact.propertyChange",
      objectId: 9001,
      propertyName: "hs_email_optout",
      propertyValue: "true",
    });
    const batch = [
      null,
      7,
      optOut(1, 1e20),
      optOut(2, "soon"),
      { ...optOut(3, Date.now()), objectId: {} },
      { ...optOut(5, Date.now()), propertyName: "constructor" },
    ];
    const res = await sendHubSpotWebhook(
      destinationId,
      JSON.stringify([...batch, optOut(4, Date.now())]),
      HUBSPOT_SECRET,
    );
    expect(res.status).toBe(200);
    // The one readable opt-out names a record Tessera never synced: read, and unmatched. The change of a property
    // that is no engagement ("constructor", at 5) is neither stored nor skipped.
    expect(await res.json()).toEqual({
      stored: 0,
      unmatched: 1,
      skipped: 5,
      skipped_reasons: [
        { index: 0, reason: "Invalid input: expected object, received null" },
        { index: 1, reason: "Invalid input: expected object, received number" },
        { index: 2, reason: "occurredAt: must be a time in epoch milliseconds" },
        { index: 3, reason: "occurredAt: must be a time in epoch milliseconds" },
        { index: 4, reason: expect.stringMatching(/^objectId: /) },
      ],
    });
    for (const [body, message] of [
      ["not json", /not JSON/],
      [JSON.stringify({ events: [] }), /JSON array/],
    ] as const) {
      const refused = await sendHubSpotWebhook(destinationId, body, HUBSPOT_SECRET);
      expect(refused.status).toBe(400);
      expect(await refused.json()).toMatchObject({
        error: { code: "validation_error", message: expect.stringMatching(message) },
      });
    }
  });
});

describe("POST /v1/webhooks/:destinationId in /openapi.json", () => {
  it("documents the skipped items of the answer, and the 429 of back-pressure with Retry-After", async () => {
    const doc = (await (await api("/openapi.json")).json()) as {
      paths: Record<string, { post: { responses: Record<string, { headers?: Record<string, unknown> }> } }>;
      components: { schemas: Record<string, { properties: Record<string, unknown>; required?: string[] }> };
    };
    const received = doc.components.schemas.WebhookReceived;
    expect(Object.keys(received.properties)).toEqual(
      expect.arrayContaining(["stored", "unmatched", "duplicates", "skipped", "skipped_reasons"]),
    );
    expect(received.required).not.toContain("skipped");
    const responses = doc.paths["/v1/webhooks/{destinationId}"].post.responses;
    expect(responses["429"]?.headers).toHaveProperty("Retry-After");
  });
});

const KLAVIYO_SECRET = "whsec_klaviyo_0123456789abcdef";
const HUBSPOT_SECRET = "hubspot-client-secret-0123456789";

/** One Klaviyo webhook item, the event in `payload.data` and its profile in `payload.included`. */
function klaviyoItem(id: string, over: { email?: unknown; timestamp?: number } = {}) {
  const attributes =
    over.timestamp === undefined ? { datetime: new Date().toISOString() } : { timestamp: over.timestamp };
  return {
    external_id: id,
    topic: "event:klaviyo.opened_email",
    payload: {
      data: {
        type: "event",
        id,
        attributes: { ...attributes, event_properties: { Subject: "Hi" } },
        relationships: { profile: { data: { type: "profile", id: "01KPROFILE" } } },
      },
      included: [{ type: "profile", id: "01KPROFILE", attributes: { email: over.email ?? "ada@example.com" } }],
    },
  };
}

/** A Klaviyo system webhook: hex HMAC-SHA256 over the raw body then the `Klaviyo-Timestamp` value. */
async function sendKlaviyo(destinationId: string, payload: unknown) {
  const body = typeof payload === "string" ? payload : JSON.stringify(payload);
  const timestamp = new Date().toUTCString();
  const signature = toHex(await hmacSha256(KLAVIYO_SECRET, body + timestamp));
  return api(`/v1/webhooks/${destinationId}`, undefined, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "klaviyo-signature": signature,
      "klaviyo-timestamp": timestamp,
      "klaviyo-webhook-id": "wh_1",
    },
    body,
  });
}
