/**
 * Mailchimp reports a hard bounce on a campaign twice: as the campaign's `bounce` activity (polled) and as the
 * `cleaned` webhook when that bounce cleans the address. Both give it one vendor event id, so it is stored once;
 * a soft bounce (polled only) and an unsubscribe (webhook only) keep ids of their own.
 */
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import type { MailchimpConfig } from "../../workers/sync/destinations/mailchimp";
import { mailchimpInbound } from "../../workers/sync/inbound/mailchimp";
import { mailchimpPoller } from "../../workers/sync/inbound/mailchimp-poller";
import { rawInbound } from "../../workers/sync/inbound/read";
import type { Engagement, PluginContext } from "../../workers/sync/plugin";
import { startMockMailchimp, webhookFields } from "../support/mocks/mailchimp";
import { startMockVendor } from "../support/mocks/mock-vendor";

const mc = await startMockMailchimp();
afterAll(() => mc.stop());
beforeEach(() => {
  mc.reset();
  received.length = 0;
});

const config = { api_key: mc.apiKey, list_id: mc.listId, base_url: `${mc.url}/3.0`, webhook_secret: "whsec_mc_1" };
const received: Engagement[] = [];
const receiver = await startMockVendor((app) => {
  // What the webhook route does: verify on the raw bytes, then parse.
  app.post("/v1/webhooks/:destination", async (c) => {
    const req = await rawInbound(c.req.raw);
    const verdict = await mailchimpInbound.verify(req, config, Date.now());
    if (!verdict.ok) return c.json({ error: verdict.reason }, 401);
    received.push(...mailchimpInbound.parse(req));
    return c.body(null, 204);
  });
});
afterAll(() => receiver.stop());

function context(now: number): PluginContext<MailchimpConfig> {
  const values = new Map<string, string>();
  return {
    config,
    fetch,
    now: () => now,
    store: { get: async (key) => values.get(key), put: async (key, value) => void values.set(key, value) },
  };
}

describe("mailchimp engagement from both channels", () => {
  it("gives a campaign's hard bounce one id from the poller and from the cleaned webhook", async () => {
    const now = Date.parse("2026-04-01T12:00:00Z");
    mc.addCampaign("cmp_1", "2026-04-01T09:00:00+00:00");
    mc.addActivity("cmp_1", "Bob@Tessera.dev", {
      action: "bounce",
      type: "hard",
      timestamp: "2026-04-01T10:10:00+00:00",
    });
    mc.addActivity("cmp_1", "carol@tessera.dev", {
      action: "bounce",
      type: "soft",
      timestamp: "2026-04-01T10:10:00+00:00",
    });
    const polled = (await mailchimpPoller.poll(context(now), "2026-04-01T09:30:00.000Z")).engagements;

    const url = `${receiver.url}/v1/webhooks/dst_1?secret=${config.webhook_secret}`;
    // Mailchimp cleans Bob's address for that bounce, seconds later; Dan unsubscribes from the same campaign.
    await mc.emitWebhook(
      url,
      webhookFields("cleaned", "2026-04-01 10:10:04", {
        list_id: mc.listId,
        campaign_id: "cmp_1",
        reason: "hard",
        email: "bob@tessera.dev",
      }),
    );
    await mc.emitWebhook(
      url,
      webhookFields("unsubscribe", "2026-04-01 10:12:00", {
        action: "unsub",
        reason: "manual",
        id: "8a25ff1d98",
        list_id: mc.listId,
        campaign_id: "cmp_1",
        email: "dan@tessera.dev",
      }),
    );

    const ids = (es: Engagement[]) => es.map((e) => [e.event, e.email, e.vendorEventId]);
    expect(ids(polled)).toEqual([
      ["Email Bounced", "bob@tessera.dev", "bounce:cmp_1:bob@tessera.dev"],
      ["Email Bounced", "carol@tessera.dev", "bounce:cmp_1:carol@tessera.dev"],
    ]);
    expect(ids(received)).toEqual([
      ["Email Bounced", "bob@tessera.dev", "bounce:cmp_1:bob@tessera.dev"],
      ["Unsubscribed", "dan@tessera.dev", "unsubscribe:8a25ff1d98:2026-04-01 10:12:00"],
    ]);
  });
});
