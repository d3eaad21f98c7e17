/**
 * A destination whose engagement arrives by both of its channels, its webhook and its poller, stores each occurrence
 * once (DESIGN §7): a HubSpot opt-out is the app webhook's `hs_email_optout` change and the email events' STATUSCHANGE,
 * a Mailchimp hard bounce is the `cleaned` webhook and the campaign's `bounce` activity. What only one channel sees is
 * still stored. Through the production route and the destination object's poll, against vendors faked at the fetch.
 */
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { orm } from "../../../d1/client";
import { vendorIds } from "../../../d1/schema";
import { profileStub } from "../../profile/profile-stub";
import { insertDestination, sendHubSpotWebhook } from "../../test-support/destinations";
import { identify } from "../../test-support/messages";
import { seedWorkspace } from "../../test-support/seed";
import { api, store } from "../../test-support/store-messages";
import { destinationStub } from "../consumer";

afterEach(() => {
  vi.restoreAllMocks();
});

const realFetch = globalThis.fetch;

/**
 * Answers GETs to `origin` with `answer(path)` (a JSON body), as the vendor's API would; every other request goes out
 * as usual (the runtime is shared with other files' destination objects).
 */
function fakeVendor(origin: string, answer: (path: string) => unknown) {
  vi.spyOn(globalThis, "fetch").mockImplementation((input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin !== origin) return realFetch(input, init);
    return Promise.resolve(Response.json(answer(url.pathname)));
  });
}

async function trackEvents(profileId: string) {
  const read = await profileStub(env.PROFILE, profileId).listEvents({ limit: 100, type: "track" });
  if (read.status !== "ok") throw new Error(read.status);
  return read.page.data
    .flatMap((e) => (e.type === "track" ? [[e.timestamp, e.event] as const] : []))
    .sort((a, b) => a.join(" ").localeCompare(b.join(" ")));
}

async function people(workspaceId: string, emails: string[]) {
  const at = new Date(Date.now() - 86_400_000).toISOString();
  const ids = await store(
    workspaceId,
    emails.map((email) => identify({ email }, at, { userId: email })),
  );
  return ids as string[];
}

const poll = (destinationId: string) => destinationStub(env, destinationId).poll(destinationId);
const iso = (ms: number) => new Date(ms).toISOString();

describe("HubSpot: app webhook and email events poller", () => {
  const SECRET = "hs-app-client-secret";

  async function sendSigned(destinationId: string, events: unknown[]) {
    const res = await sendHubSpotWebhook(destinationId, JSON.stringify(events), SECRET);
    expect(res.status).toBe(200);
    return res.json();
  }

  async function hubspotDestination(config: Record<string, unknown>) {
    const { workspaceId } = await seedWorkspace();
    const base = `https://${crypto.randomUUID()}.hubspot.invalid`;
    const destinationId = await insertDestination(workspaceId, {
      type: "hubspot",
      config: { access_token: "pat", base_url: base, ...config },
      audiences: [],
    });
    const [ada] = await people(workspaceId, ["ada@example.com"]);
    // Tessera synced Ada as HubSpot contact 501: the webhook's property changes name her by that id.
    await orm(env.DB).insert(vendorIds).values({ destinationId, email: "ada@example.com", vendorId: "501" });
    return { base, destinationId, ada };
  }

  /** Ada's email events: an open, a one-type unsubscribe, then at `t` a hard bounce and an unsubscribe from all. */
  function emailEvents(t: number) {
    const recipient = "ada@example.com";
    return [
      { id: "ev-open", created: t - 2000, type: "OPEN", recipient },
      {
        id: "ev-one-type",
        created: t - 1000,
        type: "STATUSCHANGE",
        recipient,
        portalSubscriptionStatus: "SUBSCRIBED",
        subscriptions: [{ id: 7, status: "UNSUBSCRIBED" }],
      },
      { id: "ev-bounce", created: t, type: "BOUNCE", recipient, category: "UNKNOWN_USER", response: "550 5.1.1" },
      {
        id: "ev-all",
        created: t,
        type: "STATUSCHANGE",
        recipient,
        portalSubscriptionStatus: "UNSUBSCRIBED",
        subscriptions: [{ id: 7, status: "UNSUBSCRIBED" }],
      },
    ];
  }

  it("stores one hard bounce and one opt-out reported by both, and what only the poller sees", async () => {
    const { base, destinationId, ada } = await hubspotDestination({ client_secret: SECRET });
    const t = Date.now() - 60_000;
    fakeVendor(base, () => ({ events: emailEvents(t), hasMore: false, offset: "0" }));

    // The same bounce and opt-out, as the contact's property changes HubSpot's app webhook reports.
    const change = (eventId: number, propertyName: string, propertyValue: string) => ({
      eventId,
      occurredAt: t,
      subscriptionType: "contact.propertyChange",
      objectId: 501,
      propertyName,
      propertyValue,
      changeSource: "EMAIL",
    });
    expect(
      await sendSigned(destinationId, [
        change(1, "hs_email_optout", "true"),
        change(2, "hs_email_hard_bounce_reason_enum", "UNKNOWN_USER"),
        change(3, "hs_email_hard_bounce_reason", "550 5.1.1 user unknown"),
      ]),
    ).toEqual({ stored: 1, unmatched: 0 });
    // The poller leaves the unsubscribe from all email to the webhook and keeps the open, the one-type unsubscribe
    // and the bounce.
    expect(await poll(destinationId)).toEqual({ stored: 3, unmatched: 0 });

    expect(await trackEvents(ada)).toEqual([
      [iso(t - 2000), "Email Opened"],
      [iso(t - 1000), "Unsubscribed"],
      [iso(t), "Email Bounced"],
      [iso(t), "Unsubscribed"],
    ]);
  });

  it("stores the poller's unsubscribe from all email when no webhook is configured", async () => {
    const { base, destinationId, ada } = await hubspotDestination({});
    const t = Date.now() - 60_000;
    fakeVendor(base, () => ({ events: emailEvents(t), hasMore: false, offset: "0" }));

    expect(await poll(destinationId)).toEqual({ stored: 4, unmatched: 0 });
    expect(await trackEvents(ada)).toEqual([
      [iso(t - 2000), "Email Opened"],
      [iso(t - 1000), "Unsubscribed"],
      [iso(t), "Email Bounced"],
      [iso(t), "Unsubscribed"],
    ]);
  });
});

describe("Mailchimp: audience webhook and email activity poller", () => {
  const SECRET = "mc_webhook_secret_0123456789";

  async function sendForm(destinationId: string, fields: Record<string, string>) {
    const res = await api(`/v1/webhooks/${destinationId}?secret=${SECRET}`, undefined, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(fields).toString(),
    });
    expect(res.status).toBe(200);
    return res.json();
  }

  /** Mailchimp's activity time (`+00:00`) and webhook time (`YYYY-MM-DD HH:MM:SS`, UTC) of `ms`. */
  const activityTime = (ms: number) => iso(ms).replace(/\.\d{3}Z$/, "+00:00");
  const firedAt = (ms: number) => iso(ms).slice(0, 19).replace("T", " ");

  it("stores one hard bounce reported by both, and the soft bounce and unsubscribe only one channel sees", async () => {
    const { workspaceId } = await seedWorkspace();
    const base = `https://${crypto.randomUUID()}.mailchimp.invalid`;
    const destinationId = await insertDestination(workspaceId, {
      type: "mailchimp",
      config: { api_key: "key-us21", list_id: "a6b5da1054", base_url: `${base}/3.0`, webhook_secret: SECRET },
      audiences: [],
    });
    const [ada, bob, carol] = await people(workspaceId, ["ada@example.com", "bob@example.com", "carol@example.com"]);
    // Whole seconds: Mailchimp's times have no milliseconds.
    const t = Math.floor((Date.now() - 60_000) / 1000) * 1000;
    const activity = [
      { email: "Ada@Example.com", activity: [{ action: "open", timestamp: activityTime(t - 5000) }] },
      { email: "ada@example.com", activity: [{ action: "bounce", type: "hard", timestamp: activityTime(t) }] },
      { email: "bob@example.com", activity: [{ action: "open", timestamp: activityTime(t) }] },
      { email: "carol@example.com", activity: [{ action: "bounce", type: "soft", timestamp: activityTime(t) }] },
    ];
    fakeVendor(base, (path) =>
      path === "/3.0/campaigns"
        ? { campaigns: [{ id: "cmp_1", status: "sent", send_time: activityTime(t - 3_600_000) }], total_items: 1 }
        : {
            emails: activity.map((a) => ({
              campaign_id: "cmp_1",
              list_id: "a6b5da1054",
              email_id: a.email.toLowerCase(),
              email_address: a.email,
              activity: a.activity,
            })),
            total_items: activity.length,
          },
    );

    expect(await poll(destinationId)).toEqual({ stored: 4, unmatched: 0 });
    // Mailchimp cleans Ada's address for that bounce, a few seconds later, and says so.
    const cleaned = {
      type: "cleaned",
      fired_at: firedAt(t + 4000),
      "data[list_id]": "a6b5da1054",
      "data[campaign_id]": "cmp_1",
      "data[reason]": "hard",
      "data[email]": "ada@example.com",
    };
    expect(await sendForm(destinationId, cleaned)).toEqual({ stored: 0, unmatched: 0, duplicates: 1 });
    // An unsubscribe: the email-activity report has none, so the webhook's is the only one.
    const unsubscribe = {
      type: "unsubscribe",
      fired_at: firedAt(t + 6000),
      "data[action]": "unsub",
      "data[reason]": "manual",
      "data[id]": "8a25ff1d98",
      "data[list_id]": "a6b5da1054",
      "data[campaign_id]": "cmp_1",
      "data[email]": "bob@example.com",
    };
    expect(await sendForm(destinationId, unsubscribe)).toEqual({ stored: 1, unmatched: 0 });
    expect(await poll(destinationId)).toMatchObject({ stored: 0 });

    expect(await trackEvents(ada)).toEqual([
      [iso(t - 5000), "Email Opened"],
      [iso(t), "Email Bounced"],
    ]);
    expect(await trackEvents(bob)).toEqual([
      [iso(t), "Email Opened"],
      [iso(t + 6000), "Unsubscribed"],
    ]);
    expect(await trackEvents(carol)).toEqual([[iso(t), "Email Bounced"]]);
  });
});
