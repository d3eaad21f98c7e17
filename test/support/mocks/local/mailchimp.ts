/**
 * Mailchimp for `npm run mocks`: the mock with Mailchimp's 10 simultaneous connections, reporting engagement the way
 * Mailchimp does — opens, clicks and bounces as campaign email activity in the Reports API that Tessera's poller reads
 * (`inbound/mailchimp-poller.ts`; Tessera's cron is run at once), an unsubscribe or a spam complaint (`cleaned`,
 * reason `abuse`) as an audience webhook, form-encoded, to `webhook_url`, whose `?secret=` is its only credential
 * (`inbound/mailchimp.ts`). Mailchimp reports no deliveries.
 */
import { type MockMailchimp, startMockMailchimp, webhookFields } from "../mailchimp";
import { type Channel, ControlError, defineControlRoutes, type EngagementKind, tesseraAnswer } from "./control";
import type { LocalVendor, LocalVendorOptions } from "./vendor";

const CHANNELS: Partial<Record<EngagementKind, Channel>> = {
  opened: "poll",
  clicked: "poll",
  bounced: "poll",
  spam: "webhook",
  unsubscribed: "webhook",
};
const ACTIONS = { opened: "open", clicked: "click", bounced: "bounce" } as const;
/** A campaign id when none is named (Mailchimp's are ten hex digits). */
const CAMPAIGN = "5e1f0b2c3d";

export async function startLocalMailchimp({ port, tessera, keepRequests }: LocalVendorOptions): Promise<LocalVendor> {
  const mock: MockMailchimp = await startMockMailchimp({
    port,
    keepRequests,
    control: (app) =>
      defineControlRoutes(app, () => ({
        lists: () => Object.fromEntries(mock.segmentNames().map((name) => [name, mock.segmentMembers(name) ?? []])),
        contacts: () => mock.members(),
        channels: CHANNELS,
        async report({ email, event, campaign = CAMPAIGN, link, webhook_url }) {
          const member = mock.member(email);
          if (!member)
            throw new ControlError(404, `no member ${email} on this Mailchimp audience (Tessera has not synced it)`);
          const now = new Date().toISOString();
          if (event === "opened" || event === "clicked" || event === "bounced") {
            const activity = {
              action: ACTIONS[event],
              timestamp: now.replace(/\.\d{3}Z$/, "+00:00"),
              ...(event === "clicked" ? { url: link } : {}),
              ...(event === "bounced" ? { type: "hard" as const } : {}),
            };
            mock.addActivity(campaign, member.email_address, activity);
            return { ok: true, delivered: "poll", campaign, item: activity, tessera: await tessera.runCron() };
          }
          const url = await tessera.webhookUrl("mailchimp", mock.url, webhook_url);
          const firedAt = now.slice(0, 19).replace("T", " ");
          const common = { list_id: mock.listId, email: member.email_address, campaign_id: campaign };
          const fields =
            event === "unsubscribed"
              ? webhookFields("unsubscribe", firedAt, { ...common, id: member.id, action: "unsub", reason: "manual" })
              : webhookFields("cleaned", firedAt, { ...common, reason: "abuse" });
          return tesseraAnswer(url, await mock.emitWebhook(url, fields));
        },
      })),
  });
  return {
    name: "Mailchimp",
    url: mock.url,
    destination: {
      type: "mailchimp",
      config: { api_key: mock.apiKey, list_id: mock.listId, base_url: `${mock.url}/3.0` },
    },
    channels: CHANNELS,
    limits: "10 simultaneous connections per account, 429 past them",
    stop: () => mock.stop(),
  };
}
