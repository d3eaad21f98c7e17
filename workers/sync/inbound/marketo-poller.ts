/**
 * Marketo engagement, pulled from the Activities API (DESIGN §7): Marketo has no signed push for email events. The
 * cursor is Marketo's own `nextPageToken`, which always resumes where the last page ended, so activities seen once
 * are not read again; a re-read one would still be stored once (its `vendorEventId` is the activity's GUID).
 *
 * @example
 * let { engagements, cursor, more } = await marketoPoller.poll(ctx, undefined); // from a day ago
 * while (more) ({ engagements, cursor, more } = await marketoPoller.poll(ctx, cursor));
 */
import { type MarketoConfig, type MarketoReply, marketoCall } from "../destinations/marketo";
import type { Engagement, EngagementEventName, EngagementPoller, PluginContext } from "../plugin";

/** Marketo's default activity type ids (check `/rest/v1/activities/types.json` on an unusual instance). */
const ACTIVITY_EVENTS = new Map<number, EngagementEventName>([
  [7, "Email Delivered"],
  [8, "Email Bounced"],
  [9, "Unsubscribed"],
  [10, "Email Opened"],
  [11, "Email Link Clicked"],
]);

const FIRST_POLL_LOOKBACK_MS = 86_400_000;

interface Activity {
  id: number;
  marketoGUID?: string;
  leadId: number;
  activityDate: string;
  activityTypeId: number;
  primaryAttributeValueId?: number;
  primaryAttributeValue?: string;
  attributes?: Array<{ name: string; value: unknown }>;
}

export const marketoPoller: EngagementPoller<MarketoConfig> = {
  type: "marketo",

  async poll(ctx, cursor) {
    const token = cursor ?? (await pagingToken(ctx, ctx.now() - FIRST_POLL_LOOKBACK_MS));
    const body = unwrap(
      await marketoCall<Activity>(ctx, {
        method: "GET",
        path: "/rest/v1/activities.json",
        query: new URLSearchParams({ nextPageToken: token, activityTypeIds: [...ACTIVITY_EVENTS.keys()].join(",") }),
      }),
    );
    return {
      engagements: (body.result ?? []).flatMap(toEngagement),
      cursor: body.nextPageToken ?? token,
      more: body.moreResult === true,
    };
  },
};

/** The paging token for activities from `since` (Marketo takes ISO-8601 without milliseconds). */
async function pagingToken(ctx: PluginContext<MarketoConfig>, since: number): Promise<string> {
  const sinceDatetime = new Date(since).toISOString().replace(/\.\d{3}Z$/, "Z");
  const body = unwrap(
    await marketoCall<never>(ctx, {
      method: "GET",
      path: "/rest/v1/activities/pagingtoken.json",
      query: new URLSearchParams({ sinceDatetime }),
    }),
  );
  if (!body.nextPageToken) throw new Error("Marketo returned no paging token");
  return body.nextPageToken;
}

/** A poll has no per-item outcomes: a failed call fails the poll, and the engine polls again from the same cursor. */
function unwrap<T>(reply: MarketoReply<T>) {
  if (reply.ok) return reply.body;
  throw new Error(reply.failure.status === "fail" ? reply.failure.message : reply.failure.reason);
}

function toEngagement(activity: Activity): Engagement[] {
  const event = ACTIVITY_EVENTS.get(activity.activityTypeId);
  const at = Date.parse(activity.activityDate);
  // Left out rather than thrown: one unreadable activity must not stall the cursor for every later one.
  if (!event || Number.isNaN(at)) return [];
  const attributes = Object.fromEntries((activity.attributes ?? []).map(({ name, value }) => [name, value]));
  const link = attributes.Link;
  return [
    {
      vendorEventId: activity.marketoGUID ?? String(activity.id),
      event,
      vendorId: String(activity.leadId),
      occurredAt: new Date(at).toISOString(),
      properties: {
        // The primary attribute of the email activities is the email asset (id and "Program.Email" name).
        email_id: activity.primaryAttributeValueId === undefined ? undefined : String(activity.primaryAttributeValueId),
        email_name: activity.primaryAttributeValue,
        ...(typeof link === "string" ? { link_url: link } : {}),
        marketo_attributes: attributes,
      },
    },
  ];
}
