/**
 * The engagement pollers read what the vendor's API answers without failing on one unreadable item: a poll that
 * throws keeps its cursor, so one null or absurd item would be read, and fail, on every cron run for good.
 */
import { describe, expect, it } from "vitest";
import type { HubSpotConfig } from "../destinations/hubspot";
import type { MailchimpConfig } from "../destinations/mailchimp";
import type { MarketoConfig } from "../destinations/marketo";
import type { PluginContext } from "../plugin";
import { hubspotPoller } from "./hubspot-poller";
import { mailchimpPoller } from "./mailchimp-poller";
import { marketoPoller } from "./marketo-poller";

const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);
const RECENT = new Date(NOW - 60_000).toISOString();

/** A context whose vendor answers each request with the first `answers` entry whose key its URL contains. */
function contextOf<C>(config: C, answers: Array<[string, unknown]>): PluginContext<C> {
  const stored = new Map<string, string>();
  return {
    config,
    now: () => NOW,
    fetch: (async (input: RequestInfo | URL) => {
      const url = String(input instanceof Request ? input.url : input);
      const answer = answers.find(([part]) => url.includes(part));
      if (!answer) return new Response("not found", { status: 404 });
      return Response.json(answer[1]);
    }) as typeof fetch,
    store: {
      get: async (key) => stored.get(key),
      put: async (key, value) => void stored.set(key, value),
    },
  };
}

describe("engagement pollers", () => {
  it("Marketo: leaves out null and untyped activities, reads the rest, odd attributes costing only themselves", async () => {
    const ctx = contextOf<MarketoConfig>(
      { base_url: "https://mkto.test", client_id: "id", client_secret: "secret", folder_id: 1 } as MarketoConfig,
      [
        ["/identity/oauth/token", { access_token: "tok", token_type: "bearer", expires_in: 3599 }],
        [
          "/rest/v1/activities.json",
          {
            success: true,
            moreResult: false,
            nextPageToken: "next",
            result: [
              null,
              { id: 1, leadId: 7, activityDate: RECENT, activityTypeId: 10, attributes: { Link: "x" } },
              { id: 2, leadId: 7, activityDate: RECENT, activityTypeId: 10, attributes: [null] },
              { id: 3, leadId: {}, activityDate: RECENT, activityTypeId: 10 },
              { id: 4, leadId: 7, activityDate: 1e20, activityTypeId: 10 },
              { id: 5, marketoGUID: "g5", leadId: 7, activityDate: RECENT, activityTypeId: 11, attributes: [] },
            ],
          },
        ],
      ],
    );
    const { engagements, cursor } = await marketoPoller.poll(ctx, "start");
    expect(cursor).toBe("next");
    // Odd attributes cost only the attributes (1, 2); a lead id or date of the wrong type, the activity (3, 4).
    expect(engagements.map((e) => [e.vendorEventId, e.event, e.vendorId, e.occurredAt])).toEqual([
      ["1", "Email Opened", "7", RECENT],
      ["2", "Email Opened", "7", RECENT],
      ["g5", "Email Link Clicked", "7", RECENT],
    ]);
    expect(engagements[0].properties.marketo_attributes).toEqual({});
  });

  it("Mailchimp: leaves out null recipients and activities and untyped addresses, reads the rest", async () => {
    const ctx = contextOf<MailchimpConfig>({ api_key: "key-us21", list_id: "l1", base_url: "https://mc.test" }, [
      ["/campaigns", { campaigns: [{ id: "c1" }], total_items: 1 }],
      [
        "/reports/c1/email-activity",
        {
          total_items: 4,
          emails: [
            null,
            { campaign_id: "c1", email_address: 42, activity: [{ action: "open", timestamp: RECENT }] },
            { campaign_id: "c1", email_address: "bob@example.com", activity: [null, "open"] },
            {
              campaign_id: "c1",
              email_address: "Ada@Example.com",
              activity: [
                { action: "open", timestamp: 7 },
                { action: "open", timestamp: RECENT },
              ],
            },
          ],
        },
      ],
    ]);
    const { engagements } = await mailchimpPoller.poll(ctx, new Date(NOW - 3_600_000).toISOString());
    expect(engagements).toEqual([
      expect.objectContaining({ event: "Email Opened", email: "ada@example.com", occurredAt: RECENT }),
    ]);
  });

  it("HubSpot: leaves out null events, untyped recipients and absurd times, reads the rest", async () => {
    const ctx = contextOf<HubSpotConfig>({ access_token: "pat", base_url: "https://hs.test" }, [
      [
        "/email/public/v1/events",
        {
          hasMore: false,
          events: [
            null,
            { id: "e1", type: "OPEN", created: 1e20, recipient: "ada@example.com" },
            { id: "e2", type: "OPEN", created: NOW - 60_000, recipient: 42 },
            { id: "e3", type: "OPEN", created: NOW - 60_000, recipient: "Ada@Example.com" },
          ],
        },
      ],
    ]);
    const { engagements, cursor } = await hubspotPoller.poll(ctx, JSON.stringify({ since: NOW - 3_600_000 }));
    expect(engagements).toEqual([
      expect.objectContaining({ vendorEventId: "e3", email: "ada@example.com", occurredAt: RECENT }),
    ]);
    // The absurd time does not become the cursor either, or every later event would be before it.
    expect(JSON.parse(cursor)).toEqual({ since: NOW - 60_000 });
  });
});
