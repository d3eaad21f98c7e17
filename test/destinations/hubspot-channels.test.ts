/**
 * HubSpot reports an opt-out from all email twice, as the app webhook's `hs_email_optout` change and as an email
 * events STATUSCHANGE, and a hard bounce twice, as a bounce-reason property change and as a BOUNCE event, each under
 * an id of its own. Each is read from one channel only, so it is stored once; what only one channel carries stays.
 */
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import type { HubSpotConfig } from "../../workers/sync/destinations/hubspot";
import { hubspotInbound } from "../../workers/sync/inbound/hubspot";
import { hubspotPoller } from "../../workers/sync/inbound/hubspot-poller";
import { rawInbound } from "../../workers/sync/inbound/read";
import type { PluginContext, RawInbound } from "../../workers/sync/plugin";
import { startMockHubSpot } from "../support/mocks/hubspot";
import { startMockVendor } from "../support/mocks/mock-vendor";

const SECRET = "hs-app-client-secret";
const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);
const T = NOW - 60_000;

const hs = await startMockHubSpot();
afterAll(() => hs.stop());
beforeEach(() => hs.reset());

/** Stands in for Tessera's webhook route: keeps each request exactly as received. */
const received: RawInbound[] = [];
const receiver = await startMockVendor((app) => {
  app.post("/v1/webhooks/:destination", async (c) => {
    received.push(await rawInbound(c.req.raw));
    return c.body(null, 204);
  });
});
afterAll(() => receiver.stop());

function context(config: Partial<HubSpotConfig>): PluginContext<HubSpotConfig> {
  const values = new Map<string, string>();
  return {
    fetch,
    now: () => NOW,
    store: { get: async (key) => values.get(key), put: async (key, value) => void values.set(key, value) },
    config: { access_token: hs.token, base_url: hs.url, ...config },
  };
}

/** Ada's hard bounce and unsubscribe from all email at T, Bob's unsubscribe from one subscription type. */
function seedEmailEvents() {
  return hs.addEmailEvents([
    { type: "BOUNCE", recipient: "ada@example.com", created: T, category: "UNKNOWN_USER", response: "550 5.1.1" },
    {
      type: "STATUSCHANGE",
      recipient: "ada@example.com",
      created: T,
      portalSubscriptionStatus: "UNSUBSCRIBED",
      subscriptions: [{ id: 7, status: "UNSUBSCRIBED" }],
    },
    {
      type: "STATUSCHANGE",
      recipient: "bob@example.com",
      created: T,
      portalSubscriptionStatus: "SUBSCRIBED",
      subscriptions: [{ id: 7, status: "UNSUBSCRIBED" }],
    },
    { type: "OPEN", recipient: "bob@example.com", created: T },
  ]);
}

const read = async (config: Partial<HubSpotConfig>) =>
  (await hubspotPoller.poll(context(config), undefined)).engagements.map((e) => [e.event, e.email]).sort();

describe("hubspot engagement from both channels", () => {
  it("the poller leaves an unsubscribe from all email to a configured webhook, and keeps the rest", async () => {
    seedEmailEvents();
    expect(await read({ client_secret: SECRET })).toEqual([
      ["Email Bounced", "ada@example.com"],
      ["Email Opened", "bob@example.com"],
      ["Unsubscribed", "bob@example.com"],
    ]);
    // Without a webhook, the poller is the only channel: it reads that unsubscribe too.
    expect(await read({})).toEqual([
      ["Email Bounced", "ada@example.com"],
      ["Email Opened", "bob@example.com"],
      ["Unsubscribed", "ada@example.com"],
      ["Unsubscribed", "bob@example.com"],
    ]);
  });

  it("the webhook reads the opt-out and leaves the bounce-reason change to the poller's BOUNCE", async () => {
    const url = `${receiver.url}/v1/webhooks/dst_1`;
    const change = (eventId: number, propertyName: string, propertyValue: string) => ({
      eventId,
      objectId: 501,
      occurredAt: T,
      propertyName,
      propertyValue,
      changeSource: "EMAIL",
    });
    const delivery = await hs.emitWebhook(
      url,
      [
        change(1, "hs_email_optout", "true"),
        change(2, "hs_email_hard_bounce_reason_enum", "UNKNOWN_USER"),
        change(3, "hs_email_hard_bounce_reason", "550 5.1.1 user unknown"),
      ],
      SECRET,
    );
    expect(delivery.status).toBe(204);
    const [req] = received.splice(0);
    expect(await hubspotInbound.verify(req, { access_token: "unused", client_secret: SECRET }, Date.now())).toEqual({
      ok: true,
    });
    expect(hubspotInbound.parse(req).map((e) => [e.event, e.vendorId, e.occurredAt])).toEqual([
      ["Unsubscribed", "501", new Date(T).toISOString()],
    ]);
  });
});
