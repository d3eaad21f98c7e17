/**
 * Mailchimp campaign email activity, polled (DESIGN §7): Mailchimp's webhooks carry no opens or clicks, and a bounce
 * only when it cleans the address (that one is stored once, see `campaignBounceId`); the email-activity report has
 * them all, and no unsubscribes (only the webhook reports those). Each poll lists the audience's campaigns sent in the
 * last 30 days (`GET /campaigns?list_id=…&status=sent&since_send_time=…`) and reads each one's activity since the
 * cursor (`GET /reports/{campaign_id}/email-activity?since=…`, every page). The cursor is the latest activity timestamp
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
import { z } from "zod";
import { listAll, type MailchimpConfig } from "../destinations/mailchimp";
import type { Engagement, EngagementEventName, EngagementPoller } from "../plugin";
import { campaignBounceId } from "./mailchimp";
import { isoAt } from "./read";

const DAY_MS = 24 * 60 * 60 * 1000;
const CAMPAIGN_LOOKBACK_MS = 30 * DAY_MS;
const OVERLAP_MS = 15 * 60 * 1000;

const EVENTS: Record<string, EngagementEventName> = {
  open: "Email Opened",
  click: "Email Link Clicked",
  bounce: "Email Bounced",
};

/**
 * A recipient's activity as Mailchimp documents it. A recipient or an activity of other types (a null, a number for
 * an address) is left out rather than thrown: a poll that throws keeps its cursor, so it would fail for good.
 */
const ActivityEmail = z.object({
  campaign_id: z.string().nullish(),
  list_id: z.string().nullish().catch(undefined),
  email_id: z.string().nullish(),
  email_address: z.string(),
  activity: z.array(z.unknown()).nullish(),
});

const Activity = z.object({
  action: z.string(),
  timestamp: z.string(),
  // Only copied through, so odd values cost the property, not the engagement.
  type: z.string().nullish().catch(undefined),
  url: z.string().nullish().catch(undefined),
  ip: z.string().nullish().catch(undefined),
});

/** The Mailchimp engagement poller. */
export const mailchimpPoller: EngagementPoller<MailchimpConfig> = {
  type: "mailchimp",

  async poll(ctx, cursor) {
    const now = ctx.now();
    const from = cursor === undefined ? now - DAY_MS : Date.parse(cursor);
    if (Number.isNaN(from)) throw new Error(`unreadable Mailchimp poll cursor ${JSON.stringify(cursor)}`);
    const campaigns = await listAll<unknown>(ctx, "/campaigns", "campaigns", {
      list_id: ctx.config.list_id,
      status: "sent",
      since_send_time: mailchimpTime(now - CAMPAIGN_LOOKBACK_MS),
    });
    if (!campaigns.ok) throw failure(campaigns.outcome);
    const engagements: Engagement[] = [];
    let latest = from;
    for (const campaign of campaigns.items) {
      const campaignId = typeof campaign === "object" && campaign !== null ? Reflect.get(campaign, "id") : undefined;
      if (typeof campaignId !== "string") continue;
      const path = `/reports/${encodeURIComponent(campaignId)}/email-activity`;
      const emails = await listAll<unknown>(ctx, path, "emails", { since: mailchimpTime(from - OVERLAP_MS) });
      if (!emails.ok) throw failure(emails.outcome);
      for (const raw of emails.items) {
        const email = ActivityEmail.safeParse(raw);
        if (!email.success) continue;
        const { email_address, email_id, list_id } = email.data;
        const campaign_id = email.data.campaign_id ?? campaignId;
        for (const rawActivity of email.data.activity ?? []) {
          const parsed = Activity.safeParse(rawActivity);
          if (!parsed.success) continue;
          const activity = parsed.data;
          const event = Object.hasOwn(EVENTS, activity.action) ? EVENTS[activity.action] : undefined;
          const at = Date.parse(activity.timestamp);
          const occurredAt = isoAt(at);
          if (!event || !occurredAt) continue;
          // An activity dated after now is no reason to move the cursor past what is yet to come.
          latest = Math.max(latest, Math.min(at, now));
          const properties: Record<string, unknown> = { campaign_id, list_id: list_id ?? undefined };
          if (activity.url) properties.url = activity.url;
          if (activity.type) properties.bounce_type = activity.type;
          if (activity.ip) properties.ip = activity.ip;
          engagements.push({
            // Mailchimp has no activity id: campaign, recipient, action, second (and link) name one activity. A bounce
            // takes the id the `cleaned` webhook of the same bounce takes, so the two are stored once.
            vendorEventId:
              event === "Email Bounced"
                ? campaignBounceId(campaign_id, email_address)
                : [campaign_id, email_id ?? email_address, activity.action, activity.timestamp, activity.url]
                    .filter(Boolean)
                    .join(":"),
            event,
            email: email_address.toLowerCase(),
            occurredAt,
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
