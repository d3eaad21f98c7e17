/**
 * HubSpot marketing-email engagement, read from the Email Events API (`GET /email/public/v1/events`): HubSpot pushes
 * no opens, clicks or bounces to webhooks (reference/maps.md, corrections §2), so the engine polls this on cron.
 *
 * The cursor is JSON: `since`, the newest `created` (ms) seen so far, and while a window is being paged, `page` with
 * the window's fixed end and HubSpot's opaque offset. HubSpot lists events newest first, so a window whose end moved
 * with every page would shift the offsets under new events; fixing the end keeps each page where it was.
 *
 * @example
 * let cursor: string | undefined;
 * do { const r = await hubspotPoller.poll(ctx, cursor); store(r.engagements); cursor = r.cursor; } while (r.more);
 */

import { failureText, type HubSpotConfig, hubspotCall } from "../destinations/hubspot";
import type { Engagement, EngagementEventName, EngagementPoller } from "../plugin";

const DAY_MS = 86_400_000;
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

interface EmailEvent {
  id?: string;
  created?: number;
  type?: string;
  recipient?: string;
  emailCampaignId?: number | string;
  url?: string;
  category?: string;
  response?: string;
  portalSubscriptionStatus?: string;
  subscriptions?: Array<{ id?: number; status?: string }>;
}

export const hubspotPoller: EngagementPoller<HubSpotConfig> = {
  type: "hubspot",

  async poll(ctx, cursor) {
    const state: Cursor = cursor ? (JSON.parse(cursor) as Cursor) : { since: ctx.now() - DAY_MS };
    const until = state.page?.until ?? ctx.now();
    // `since` is inclusive: an event created in the same millisecond as the newest one seen may have arrived after
    // it, and re-reading that millisecond only repeats events the engine stores once (by their vendor event id).
    const query = new URLSearchParams({
      startTimestamp: String(state.since),
      endTimestamp: String(until),
      limit: String(PAGE_SIZE),
    });
    if (state.page) query.set("offset", state.page.offset);
    const reply = await hubspotCall(ctx, "GET", `/email/public/v1/events?${query}`);
    // Nothing was consumed: the engine keeps its cursor and polls again on its next run.
    if (reply.failure) throw new Error(failureText(reply.failure));

    const events = Array.isArray(reply.body.events) ? (reply.body.events as EmailEvent[]) : [];
    const created = events.map((e) => Number(e.created)).filter(Number.isFinite);
    const newest = Math.max(state.page?.newest ?? state.since, ...created);
    const engagements = events.flatMap((event) => {
      const engagement = toEngagement(event);
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

function toEngagement(event: EmailEvent): Engagement | undefined {
  const name = event.type === "STATUSCHANGE" ? unsubscribe(event) : EVENT_NAMES[event.type ?? ""];
  if (!name || !event.id || !Number.isFinite(Number(event.created))) return undefined;
  const properties = {
    campaign_id: event.emailCampaignId === undefined ? undefined : String(event.emailCampaignId),
    link_url: event.url,
    bounce_category: event.category,
    bounce_response: event.response,
    subscriptions: event.subscriptions,
  };
  return {
    vendorEventId: event.id,
    event: name,
    email: event.recipient?.trim().toLowerCase(),
    occurredAt: new Date(Number(event.created)).toISOString(),
    properties: Object.fromEntries(Object.entries(properties).filter(([, value]) => value !== undefined)),
  };
}

/** A STATUSCHANGE is an unsubscribe when it leaves the recipient unsubscribed from all email or from a type. */
function unsubscribe(event: EmailEvent): EngagementEventName | undefined {
  const fromAll = event.portalSubscriptionStatus === "UNSUBSCRIBED";
  const fromOne = event.subscriptions?.some((s) => s.status === "UNSUBSCRIBED") ?? false;
  return fromAll || fromOne ? "Unsubscribed" : undefined;
}
