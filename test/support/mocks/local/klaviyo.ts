/**
 * Klaviyo for `npm run mocks`: the mock with Klaviyo's own rate limits, reporting every engagement the way Klaviyo
 * does — a system webhook signed with the webhook secret, to the destination's `webhook_url` (Tessera's
 * `inbound/klaviyo.ts` reads it).
 */
import { type MockKlaviyo, startMockKlaviyo } from "../klaviyo";
import { type Channel, ControlError, defineControlRoutes, type EngagementKind, tesseraAnswer } from "./control";
import type { LocalVendor, LocalVendorOptions } from "./vendor";

/** The secret Klaviyo signs webhooks with: the destination's `webhook_secret`. */
export const KLAVIYO_WEBHOOK_SECRET = "klaviyo-mock-webhook-secret";

/** Klaviyo's metric topics for Tessera's engagement kinds (workers/sync/inbound/klaviyo.ts reads them back). */
const TOPICS: Record<EngagementKind, string> = {
  delivered: "received_email",
  opened: "opened_email",
  clicked: "clicked_email",
  bounced: "bounced_email",
  spam: "marked_email_as_spam",
  unsubscribed: "unsubscribed",
};
const CHANNELS = Object.fromEntries(Object.keys(TOPICS).map((k) => [k, "webhook"])) as Record<EngagementKind, Channel>;

export async function startLocalKlaviyo({ port, tessera, keepRequests }: LocalVendorOptions): Promise<LocalVendor> {
  let sent = 0;
  const mock: MockKlaviyo = await startMockKlaviyo({
    port,
    keepRequests,
    control: (app) =>
      defineControlRoutes(app, () => ({
        lists: () =>
          Object.fromEntries(mock.lists().map(({ name }) => [name, mock.listMembers(name)] as [string, string[]])),
        contacts: () => mock.profiles(),
        channels: CHANNELS,
        async report({ email, event, campaign, link, webhook_url }) {
          const profile = mock.profiles().find((p) => p.email === email);
          if (!profile) throw new ControlError(404, `no profile ${email} at this Klaviyo (Tessera has not synced it)`);
          const url = await tessera.webhookUrl("klaviyo", mock.url, webhook_url);
          const properties: Record<string, unknown> = { Subject: "A note from the shop" };
          if (campaign) properties["Campaign Name"] = campaign;
          if (event === "clicked") properties.URL = link;
          const id = `evt_mock_${Date.now().toString(36)}_${++sent}`;
          const res = await mock.emitWebhook(
            url,
            [{ topic: TOPICS[event], id, profileId: profile.id, email: profile.email, properties }],
            KLAVIYO_WEBHOOK_SECRET,
          );
          return tesseraAnswer(url, res);
        },
      })),
  });
  return {
    name: "Klaviyo",
    url: mock.url,
    destination: {
      type: "klaviyo",
      config: { api_key: mock.apiKey, base_url: mock.url, webhook_secret: KLAVIYO_WEBHOOK_SECRET },
    },
    channels: CHANNELS,
    limits: "Klaviyo's per-endpoint burst (1 s) and steady (1 min) windows",
    stop: () => mock.stop(),
  };
}
