/**
 * Mailchimp campaign email activity, polled (DESIGN §7): Mailchimp's webhooks carry no opens, clicks or bounces, only
 * its Reports API does. Each poll lists the audience's campaigns sent in the last 30 days
 * (`GET /campaigns?list_id=…&status=sent&since_send_time=…`) and reads each one's activity since the cursor
 * (`GET /reports/{campaign_id}/email-activity?since=…`, every page). The cursor is the latest activity timestamp
 * seen. Each poll reaches 15 minutes back before it, so activity Mailchimp records late is still read; what is read
 * twice is stored once, since the message id derives from `vendorEventId`.
 *
 * Limits, kept on purpose: activity on campaigns sent more than 30 days ago is not read, and one poll reads
 * everything since the cursor (`more` is always false), which for a very large send costs one call per 1,000
 * recipients with activity.
 *
 * @example
 * const { engagements, cursor } = await mailchimpPoller.poll(ctx, "2026-03-26T21:40:57.000Z");
 * // engagements: [{ event: "Email Opened", email: "ada@x.io", occurredAt: "2026-03-26T22:01:00.000Z", … }]
 */
import { listAll, type MailchimpConfig } from "../destinations/mailchimp";
import type { Engagement, EngagementEventName, EngagementPoller } from "../plugin";

const DAY_MS = 24 * 60 * 60 * 1000;
const CAMPAIGN_LOOKBACK_MS = 30 * DAY_MS;
const OVERLAP_MS = 15 * 60 * 1000;

const EVENTS: Record<string, EngagementEventName> = {
  open: "Email Opened",
  click: "Email Link Clicked",
  bounce: "Email Bounced",
};

interface ActivityEmail {
  campaign_id: string;
  list_id?: string;
  email_id?: string;
  email_address: string;
  activity?: Array<{ action: string; type?: string; timestamp: string; url?: string; ip?: string }>;
}

/** The Mailchimp engagement poller. */
export const mailchimpPoller: EngagementPoller<MailchimpConfig> = {
  type: "mailchimp",

  async poll(ctx, cursor) {
    const now = ctx.now();
    const from = cursor === undefined ? now - DAY_MS : Date.parse(cursor);
    if (Number.isNaN(from)) throw new Error(`unreadable Mailchimp poll cursor ${JSON.stringify(cursor)}`);
    const campaigns = await listAll<{ id: string }>(ctx, "/campaigns", "campaigns", {
      list_id: ctx.config.list_id,
      status: "sent",
      since_send_time: mailchimpTime(now - CAMPAIGN_LOOKBACK_MS),
    });
    if (!campaigns.ok) throw failure(campaigns.outcome);
    const engagements: Engagement[] = [];
    let latest = from;
    for (const campaign of campaigns.items) {
      const path = `/reports/${encodeURIComponent(campaign.id)}/email-activity`;
      const emails = await listAll<ActivityEmail>(ctx, path, "emails", { since: mailchimpTime(from - OVERLAP_MS) });
      if (!emails.ok) throw failure(emails.outcome);
      for (const email of emails.items) {
        for (const activity of email.activity ?? []) {
          const event = EVENTS[activity.action];
          const at = Date.parse(activity.timestamp);
          if (!event || Number.isNaN(at)) continue;
          latest = Math.max(latest, at);
          const properties: Record<string, unknown> = { campaign_id: email.campaign_id, list_id: email.list_id };
          if (activity.url) properties.url = activity.url;
          if (activity.type) properties.bounce_type = activity.type;
          if (activity.ip) properties.ip = activity.ip;
          engagements.push({
            // Mailchimp has no activity id: campaign, recipient, action, second (and link) name one activity.
            vendorEventId: [
              email.campaign_id,
              email.email_id ?? email.email_address,
              activity.action,
              activity.timestamp,
              activity.url,
            ]
              .filter(Boolean)
              .join(":"),
            event,
            email: email.email_address.toLowerCase(),
            occurredAt: new Date(at).toISOString(),
            properties,
          });
        }
      }
    }
    return { engagements, cursor: new Date(latest).toISOString(), more: false };
  },
};

/** Mailchimp's query time format: ISO 8601 to the second, `+00:00`. */
function mailchimpTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "+00:00");
}

function failure(outcome: { status: "retry"; reason: string } | { status: "fail"; message: string }): Error {
  return new Error(`Mailchimp poll failed: ${outcome.status === "retry" ? outcome.reason : outcome.message}`);
}
