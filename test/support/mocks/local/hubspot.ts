/**
 * HubSpot for `npm run mocks`: the mock with HubSpot's 100 calls per 10 s, reporting engagement the way HubSpot does —
 * opens, clicks, deliveries, bounces and spam reports as events of the Email Events API feed Tessera's poller reads
 * (`inbound/hubspot-poller.ts`; Tessera's cron is run at once), and an unsubscribe as a signed `contact.propertyChange`
 * webhook of `hs_email_optout` (`inbound/hubspot.ts`), signed with the app's client secret.
 */
import { type MockHubSpot, startMockHubSpot } from "../hubspot";
import { type Channel, ControlError, defineControlRoutes, type EngagementKind, tesseraAnswer } from "./control";
import type { LocalVendor, LocalVendorOptions } from "./vendor";

/** The app's client secret HubSpot signs webhooks with: the destination's `client_secret`. */
export const HUBSPOT_CLIENT_SECRET = "hubspot-mock-client-secret";

/** The Email Events API's types for what HubSpot reports in its feed. */
const FEED_TYPES: Partial<Record<EngagementKind, string>> = {
  delivered: "DELIVERED",
  opened: "OPEN",
  clicked: "CLICK",
  bounced: "BOUNCE",
  spam: "SPAMREPORT",
};
const CHANNELS: Record<EngagementKind, Channel> = {
  delivered: "poll",
  opened: "poll",
  clicked: "poll",
  bounced: "poll",
  spam: "poll",
  unsubscribed: "webhook",
};

export async function startLocalHubSpot({ port, tessera, keepRequests }: LocalVendorOptions): Promise<LocalVendor> {
  let sent = 0;
  const mock: MockHubSpot = await startMockHubSpot({
    port,
    keepRequests,
    control: (app) =>
      defineControlRoutes(app, () => ({
        lists: () => Object.fromEntries(mock.listNames().map((name) => [name, mock.listMembers(name)])),
        contacts: () => mock.contacts(),
        channels: CHANNELS,
        async report({ email, event, campaign, link, webhook_url }) {
          const contact = mock.contacts().find((c) => c.properties.email === email);
          if (!contact) throw new ControlError(404, `no contact ${email} at this HubSpot (Tessera has not synced it)`);
          if (campaign !== undefined && !/^\d+$/.test(campaign))
            throw new ControlError(400, `"campaign": HubSpot names an email campaign by its number, not ${campaign}`);
          const type = FEED_TYPES[event];
          if (type) {
            const [item] = mock.addEmailEvents([
              {
                type,
                recipient: email,
                created: Date.now(),
                ...(campaign ? { emailCampaignId: Number(campaign) } : {}),
                ...(event === "clicked" ? { url: link } : {}),
                ...(event === "bounced" ? { category: "HARD_BOUNCE", response: "550 5.1.1 mailbox unknown" } : {}),
              },
            ]);
            return { ok: true, delivered: "poll", item, tessera: await tessera.runCron() };
          }
          const url = await tessera.webhookUrl("hubspot", mock.url, webhook_url);
          const change = {
            eventId: ++sent,
            subscriptionType: "contact.propertyChange",
            objectId: Number(contact.id),
            propertyName: "hs_email_optout",
            propertyValue: "true",
            changeSource: "EMAIL",
          };
          return tesseraAnswer(url, await mock.emitWebhook(url, [change], HUBSPOT_CLIENT_SECRET));
        },
      })),
  });
  return {
    name: "HubSpot",
    url: mock.url,
    destination: {
      type: "hubspot",
      config: { access_token: mock.token, base_url: mock.url, client_secret: HUBSPOT_CLIENT_SECRET },
    },
    channels: CHANNELS,
    limits: `${mock.limiter.limit} calls per ${mock.limiter.windowMs / 1000} s per token, 429 past it`,
    stop: () => mock.stop(),
  };
}
