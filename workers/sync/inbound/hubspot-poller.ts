/**
 * HubSpot marketing-email engagement, read from the Email Events API (`GET /email/public/v1/events`): HubSpot pushes
 * no opens, clicks or bounces to webhooks (reference/maps.md, corrections §2), so the engine polls this on cron.
 *
 * The cursor is JSON: `since`, the newest `created` (ms) seen so far, and while a window is being paged, `page` with
 * the window's fixed end and HubSpot's opaque offset. HubSpot lists events newest first, so a window whose end moved
 * with every page would shift the offsets under new events; fixing the end keeps each page where it was.
 *
 * Each window starts 15 minutes before `since`, as the Mailchimp poller's does: HubSpot records some events late,
 * with a `created` earlier than events already read, and a window starting at `since` would never read them. What
 * is read twice is stored once (the message id derives from `vendorEventId`). The start derives from `since`, which
 * stays fixed while a window is paged, so every page of a window asks for the same start and end.
 *
 * @example
 * let cursor: string | undefined;
 * do { const r = await hubspotPoller.poll(ctx, cursor); store(r.engagements); cursor = r.cursor; } while (r.more);
 */

import { z } from "zod";
import { failureText, type HubSpotConfig, hubspotCall } from "../destinations/hubspot";
import type { Engagement, EngagementEventName, EngagementPoller } from "../plugin";
import { isoAt } from "./read";

const DAY_MS = 86_400_000;
/** How far before the newest event seen each window reaches, for events HubSpot records late. */
const OVERLAP_MS = 15 * 60 * 1000;
/** HubSpot's largest page of email events. */
const PAGE_SIZE = 1000;

const EVENT_NAMES: Record<string, EngagementEventName> = {
  DELIVERED: "Email Delivered",
  OPEN: "Email Opened",
  CLICK: "Email Link Clicked",
  BOUNCE: "Email Bounced",
  SPAMREPORT: "Email Marked as Spam",
};

interface Cursor {
  since: number;
  page?: { until: number; offset: string; newest: number };
}

/**
 * An email event as HubSpot documents it. One of other types (a null, a number for an address) is left out rather than
 * thrown: a poll that throws keeps its cursor, so that one event would fail every later poll for good.
 */
const EmailEvent = z.object({
  id: z.string(),
  created: z.union([z.number(), z.string()]),
  type: z.string(),
  recipient: z.string().nullish(),
  // Only copied through, so odd values cost the property, not the engagement.
  emailCampaignId: z.union([z.number(), z.string()]).nullish().catch(undefined),
  url: z.string().nullish().catch(undefined),
  category: z.string().nullish().catch(undefined),
  response: z.string().nullish().catch(undefined),
  portalSubscriptionStatus: z.string().nullish(),
  subscriptions: z
    .array(z.object({ id: z.number().nullish(), status: z.string().nullish() }))
    .nullish()
    .catch(undefined),
});
type EmailEvent = z.infer<typeof EmailEvent>;

export const hubspotPoller: EngagementPoller<HubSpotConfig> = {
  type: "hubspot",

  async poll(ctx, cursor) {
    const state: Cursor = cursor ? (JSON.parse(cursor) as Cursor) : { since: ctx.now() - DAY_MS };
    const until = state.page?.until ?? ctx.now();
    const query = new URLSearchParams({
      startTimestamp: String(state.since - OVERLAP_MS),
      endTimestamp: String(until),
      limit: String(PAGE_SIZE),
    });
    if (state.page) query.set("offset", state.page.offset);
    const reply = await hubspotCall(ctx, "GET", `/email/public/v1/events?${query}`);
    // Nothing was consumed: the engine keeps its cursor and polls again on its next run.
    if (reply.failure) throw new Error(failureText(reply.failure));

    const events = (Array.isArray(reply.body.events) ? reply.body.events : []).flatMap((raw) => {
      const event = EmailEvent.safeParse(raw);
      return event.success ? [event.data] : [];
    });
    // Only times inside the window move the cursor: an absurd one (1e20) would leave every later event behind it.
    const created = events.map((e) => Number(e.created)).filter((ms) => Number.isFinite(ms) && ms <= until);
    const newest = Math.max(state.page?.newest ?? state.since, ...created);
    const webhookReportsOptOuts = Boolean(ctx.config.client_secret);
    const engagements = events.flatMap((event) => {
      const engagement = toEngagement(event, webhookReportsOptOuts);
      return engagement ? [engagement] : [];
    });
    const { hasMore, offset } = reply.body;
    if (hasMore === true && (typeof offset === "string" || typeof offset === "number")) {
      const next: Cursor = { since: state.since, page: { until, offset: String(offset), newest } };
      return { engagements, cursor: JSON.stringify(next), more: true };
    }
    return { engagements, cursor: JSON.stringify({ since: newest } satisfies Cursor), more: false };
  },
};

function toEngagement(event: EmailEvent, webhookReportsOptOuts: boolean): Engagement | undefined {
  const name =
    event.type === "STATUSCHANGE"
      ? unsubscribe(event, webhookReportsOptOuts)
      : Object.hasOwn(EVENT_NAMES, event.type)
        ? EVENT_NAMES[event.type]
        : undefined;
  const occurredAt = isoAt(Number(event.created));
  if (!name || !event.id || !occurredAt) return undefined;
  const properties = {
    campaign_id: event.emailCampaignId == null ? undefined : String(event.emailCampaignId),
    link_url: event.url ?? undefined,
    bounce_category: event.category ?? undefined,
    bounce_response: event.response ?? undefined,
    subscriptions: event.subscriptions ?? undefined,
  };
  return {
    vendorEventId: event.id,
    event: name,
    email: event.recipient?.trim().toLowerCase(),
    occurredAt,
    properties: Object.fromEntries(Object.entries(properties).filter(([, value]) => value !== undefined)),
  };
}

/**
 * A STATUSCHANGE is an unsubscribe when it leaves the recipient unsubscribed from all email or from a type.
 *
 * One from all email also turns the contact's `hs_email_optout` to "true", which the app webhook reports (DESIGN §7)
 * under an event id of its own: while the webhook is configured (`client_secret`, without which it is refused), that
 * one is left to it, which tells it sooner, so the unsubscribe is stored once. One from a single subscription type
 * changes no property the webhook reads, so it is kept.
 */
function unsubscribe(event: EmailEvent, webhookReportsOptOuts: boolean): EngagementEventName | undefined {
  const fromAll = event.portalSubscriptionStatus === "UNSUBSCRIBED";
  if (fromAll) return webhookReportsOptOuts ? undefined : "Unsubscribed";
  const fromOne = event.subscriptions?.some((s) => s.status === "UNSUBSCRIBED") ?? false;
  return fromOne ? "Unsubscribed" : undefined;
}
