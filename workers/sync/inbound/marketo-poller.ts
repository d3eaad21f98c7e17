/**
 * Marketo engagement, pulled from the Activities API (DESIGN §7): Marketo has no signed push for email events. The
 * cursor is Marketo's own `nextPageToken`, which always resumes where the last page ended, so activities seen once
 * are not read again; a re-read one would still be stored once (its `vendorEventId` is the activity's GUID).
 *
 * @example
 * let { engagements, cursor, more } = await marketoPoller.poll(ctx, undefined); // from a day ago
 * while (more) ({ engagements, cursor, more } = await marketoPoller.poll(ctx, cursor));
 */
import { z } from "zod";
import { type MarketoConfig, type MarketoReply, marketoCall } from "../destinations/marketo";
import type { Engagement, EngagementEventName, EngagementPoller, PluginContext } from "../plugin";
import { isoAt } from "./read";

/** Marketo's default activity type ids (check `/rest/v1/activities/types.json` on an unusual instance). */
const ACTIVITY_EVENTS = new Map<number, EngagementEventName>([
  [7, "Email Delivered"],
  [8, "Email Bounced"],
  [9, "Unsubscribed"],
  [10, "Email Opened"],
  [11, "Email Link Clicked"],
]);

const FIRST_POLL_LOOKBACK_MS = 86_400_000;

/**
 * An activity as Marketo documents it. One of other types (a null, an object for a lead id) is left out rather than
 * thrown: a poll that throws keeps its cursor, so that one activity would fail every later poll for good.
 */
const Activity = z.object({
  id: z.union([z.number(), z.string()]),
  marketoGUID: z.string().nullish(),
  leadId: z.union([z.number(), z.string()]),
  activityDate: z.string(),
  activityTypeId: z.number(),
  // Only copied through, so odd values cost the property, not the engagement.
  primaryAttributeValueId: z.union([z.number(), z.string()]).nullish().catch(undefined),
  primaryAttributeValue: z.string().nullish().catch(undefined),
  attributes: z
    .array(z.object({ name: z.string(), value: z.unknown() }))
    .nullish()
    .catch(undefined),
});
type Activity = z.infer<typeof Activity>;

export const marketoPoller: EngagementPoller<MarketoConfig> = {
  type: "marketo",

  async poll(ctx, cursor) {
    const token = cursor ?? (await pagingToken(ctx, ctx.now() - FIRST_POLL_LOOKBACK_MS));
    const body = unwrap(
      await marketoCall<unknown>(ctx, {
        method: "GET",
        path: "/rest/v1/activities.json",
        query: new URLSearchParams({ nextPageToken: token, activityTypeIds: [...ACTIVITY_EVENTS.keys()].join(",") }),
      }),
    );
    return {
      engagements: (Array.isArray(body.result) ? body.result : []).flatMap((raw) => {
        const activity = Activity.safeParse(raw);
        return activity.success ? toEngagement(activity.data) : [];
      }),
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
  const at = isoAt(Date.parse(activity.activityDate));
  // Left out rather than thrown: one unreadable activity must not stall the cursor for every later one.
  if (!event || !at) return [];
  const attributes = Object.fromEntries((activity.attributes ?? []).map(({ name, value }) => [name, value]));
  const link = attributes.Link;
  return [
    {
      vendorEventId: activity.marketoGUID ?? String(activity.id),
      event,
      vendorId: String(activity.leadId),
      occurredAt: at,
      properties: {
        // The primary attribute of the email activities is the email asset (id and "Program.Email" name).
        email_id: activity.primaryAttributeValueId == null ? undefined : String(activity.primaryAttributeValueId),
        email_name: activity.primaryAttributeValue ?? undefined,
        ...(typeof link === "string" ? { link_url: link } : {}),
        marketo_attributes: attributes,
      },
    },
  ];
}
