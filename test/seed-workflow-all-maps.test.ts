/**
 * Issue 8's seed workflow over `npm run dev` with all four MAP mocks and a webhook receiver (DESIGN §6, §7):
 * (a) lapsed store buyers enter `lapsed_store_buyers` and appear in every MAP's list and at the webhook, through a
 * 429 storm at HubSpot (its mock allows 2 requests per 2 s for that phase) and a 30-second outage at Mailchimp, losing
 * nothing (no dead letter) and duplicating nothing (one contact, one segment, one entry each); a member's changed
 * trait reaches every MAP as an upsert; (b) an open reported by Klaviyo's signed webhook, and (b') one read by the
 * Marketo activities poller (the production `scheduled` handler, run through wrangler's `/cdn-cgi/handler/scheduled`),
 * make members leave, and every MAP drops them; (c) a window boundary passing removes a member with no new event;
 * (e) a GDPR delete reaches every MAP; (f) forged or stale signatures store nothing.
 */
import type { Profile } from "@tessera/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WebhookEvent } from "../workers/sync/destinations/webhook";
import { secretApi, sendBatch } from "./support/dev-api";
import { type DevServer, printServerLogOnFailure, startDevServer } from "./support/dev-server";
import { type MockHubSpot, startMockHubSpot } from "./support/mocks/hubspot";
import { type MockKlaviyo, startMockKlaviyo } from "./support/mocks/klaviyo";
import { type MockMailchimp, startMockMailchimp } from "./support/mocks/mailchimp";
import { type MockMarketo, startMockMarketo } from "./support/mocks/marketo";
import { type MockVendor, startMockVendor } from "./support/mocks/mock-vendor";
import { pollUntil } from "./support/poll-until";

const DAY = 86_400_000;
const KEY = "lapsed_store_buyers";
const LIST = `tessera_${KEY}`;
const KLAVIYO_SECRET = "klaviyo_webhook_secret_0123456789";
const HOOK_SECRET = "whsec_receiver_0123456789abcdef";
const ANN = "ann@example.com";
const DEE = "dee@example.com";
const CID = "cid@example.com";
/** Cid's store order leaves the 30-day window this long after it is sent: his membership ends with no new event. */
const CID_BOUNDARY_MS = 15_000;
/** Marketo's "Open Email" activity type. */
const MARKETO_OPEN = 10;
/** Phase (d)'s Mailchimp outage (issue 8 asks for 30 s); the engine's retries notice its end within 10 s. */
const OUTAGE_MS = 30_000;

describe("the seed workflow across HubSpot, Mailchimp, Klaviyo, Marketo and a webhook", () => {
  let server: DevServer;
  printServerLogOnFailure(() => server?.logPath);
  let hubspot: MockHubSpot;
  let mailchimp: MockMailchimp;
  let klaviyo: MockKlaviyo;
  let marketo: MockMarketo;
  let receiver: MockVendor;
  const received: WebhookEvent[] = [];
  let klaviyoHook = "";

  beforeAll(async () => {
    [server, hubspot, mailchimp, klaviyo, marketo, receiver] = await Promise.all([
      startDevServer(),
      // A 429 storm: far below what the engine assumes of HubSpot (100 per 10 s), until the test lifts it.
      startMockHubSpot({ rateLimit: { limit: 2, windowMs: 2_000 } }),
      startMockMailchimp(),
      startMockKlaviyo(),
      startMockMarketo(),
      startMockVendor((app) => {
        app.post("/hook", async (c) => {
          received.push(await c.req.json<WebhookEvent>());
          return c.text("ok");
        });
      }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([server, hubspot, mailchimp, klaviyo, marketo, receiver].map((s) => s?.stop()));
  });

  const api = <T>(method: string, path: string, body?: unknown) => secretApi<T>(server, method, path, body);

  async function destination(type: string, config: Record<string, unknown>) {
    const res = await api<{ id: string; webhook_url: string }>("POST", "/v1/destinations", {
      type,
      name: type,
      config,
      audiences: [KEY],
      traits: ["first_name"],
    });
    expect(res.status).toBe(201);
    return res.body;
  }

  const ofEmail = (email: string) => (e: WebhookEvent) => e.profile.identifiers.some((i) => i.value === email);

  /** Whether `email` is in the audience's list at each MAP, and what the webhook receiver last heard of them. */
  function where(email: string) {
    return {
      hubspot: hubspot.listMembers(LIST).includes(email),
      mailchimp: mailchimp.segmentMembers(LIST)?.includes(email) ?? false,
      klaviyo: klaviyo.listMembers(LIST).includes(email),
      marketo: marketo.listMembers(LIST).some((lead) => lead.email === email),
      webhook: received.filter((e) => e.audience === KEY && ofEmail(email)(e)).at(-1)?.type ?? null,
    };
  }
  const IN = { hubspot: true, mailchimp: true, klaviyo: true, marketo: true, webhook: "audience.entered" };
  const OUT = { hubspot: false, mailchimp: false, klaviyo: false, marketo: false, webhook: "audience.exited" };
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

  /** Waits until every one of `emails` is in (or out of) every MAP's list and the webhook heard it. */
  const everywhere = (emails: string[], state: typeof IN | typeof OUT, within = 30_000) =>
    pollUntil(
      async () => emails.map(where),
      (states) => states.every((s) => same(s, state)),
      { within },
    );

  /** What each MAP holds as the contact's first name (each vendor's own field). */
  const firstNames = (email: string) => ({
    hubspot: hubspot.contacts().find((c) => c.properties.email === email)?.properties.firstname,
    mailchimp: mailchimp.member(email)?.merge_fields.FNAME,
    klaviyo: klaviyo.profiles().find((p) => p.email === email)?.first_name,
    marketo: marketo.leads().find((l) => l.email === email)?.firstName,
  });

  /** How many contacts each MAP holds for `email`: never more than one, whatever was retried. */
  const contactCounts = (email: string) => ({
    hubspot: hubspot.contacts().filter((c) => c.properties.email === email).length,
    mailchimp: mailchimp.member(email) === undefined ? 0 : 1,
    klaviyo: klaviyo.profiles().filter((p) => p.email === email).length,
    marketo: marketo.leads().filter((l) => l.email === email).length,
  });

  const lapsedBuyer = (userId: string, email: string, firstName: string, orderAt: number) => [
    {
      type: "identify",
      userId,
      traits: { email, first_name: firstName },
      timestamp: new Date(orderAt - DAY).toISOString(),
    },
    {
      type: "track",
      userId,
      event: "Order Completed",
      properties: { channel: "pos" },
      timestamp: new Date(orderAt).toISOString(),
    },
  ];

  it("syncs members everywhere through a 429 storm and an outage, takes opens back by webhook and poller, removes members at a window boundary, then erases everywhere", async () => {
    expect(
      (
        await api("POST", "/v1/audiences", {
          key: KEY,
          definition: {
            all: [
              { event: "Order Completed", where: [{ property: "channel", op: "eq", value: "pos" }], within: "30d" },
              { not: { event: "Email Opened", within: "60d" } },
            ],
          },
        })
      ).status,
    ).toBe(201);
    await destination("hubspot", { access_token: hubspot.token, base_url: hubspot.url });
    const mailchimpDestination = await destination("mailchimp", {
      api_key: mailchimp.apiKey,
      list_id: mailchimp.listId,
      base_url: `${mailchimp.url}/3.0`,
    });
    const k = await destination("klaviyo", {
      api_key: klaviyo.apiKey,
      base_url: klaviyo.url,
      webhook_secret: KLAVIYO_SECRET,
    });
    klaviyoHook = k.webhook_url;
    await destination("marketo", {
      base_url: marketo.url,
      client_id: marketo.clientId,
      client_secret: marketo.clientSecret,
      folder_id: marketo.folderId,
    });
    await destination("webhook", { url: `${receiver.url}/hook`, secret: HOOK_SECRET });

    // (a), (d): Mailchimp is down for 30 s from now and HubSpot throttles hard; the engine waits them out. The
    // engine paces on the window HubSpot says remains, so the 429s come from other apps using the account up.
    mailchimp.fault({
      match: {},
      until: Date.now() + OUTAGE_MS,
      respond: { status: 503, body: { title: "Service Unavailable" } },
    });
    hubspot.fault({
      match: {},
      times: 3,
      respond: {
        status: 429,
        headers: { "X-HubSpot-RateLimit-Remaining": "0" },
        body: {
          status: "error",
          message: "You have reached your ten_secondly_rolling limit.",
          errorType: "RATE_LIMIT",
          policyName: "TEN_SECONDLY_ROLLING",
        },
      },
    });
    const now = Date.now();
    await sendBatch(server, [
      ...lapsedBuyer("ann", ANN, "Ann", now - 10 * DAY),
      { type: "track", userId: "ann", event: "Email Opened", timestamp: new Date(now - 90 * DAY).toISOString() },
      ...lapsedBuyer("dee", DEE, "Dee", now - 5 * DAY),
    ]);
    await everywhere([ANN, DEE], IN, OUTAGE_MS + 30_000);
    expect(hubspot.requests.filter((r) => r.status === 429).length).toBeGreaterThanOrEqual(3);
    // The engine kept trying through the outage, and what it sent then was neither lost nor doubled.
    expect(mailchimp.requests.filter((r) => r.status === 503).length).toBeGreaterThan(1);
    const mailchimpDead = await api<{ data: unknown[] }>(
      "GET",
      `/v1/destinations/${mailchimpDestination.id}/dead-letters`,
    );
    expect(mailchimpDead.body.data).toEqual([]);
    expect(mailchimp.segmentNames().filter((name) => name === LIST)).toHaveLength(1);
    for (const email of [ANN, DEE]) {
      expect(contactCounts(email)).toEqual({ hubspot: 1, mailchimp: 1, klaviyo: 1, marketo: 1 });
      expect(received.filter((e) => e.type === "audience.entered" && ofEmail(email)(e))).toHaveLength(1);
    }
    // HubSpot's storm is over.
    hubspot.limiter.limit = 100;
    hubspot.limiter.windowMs = 10_000;

    // (c) Cid's order leaves the window shortly; meanwhile Dee's first name changes and reaches every MAP.
    await sendBatch(server, lapsedBuyer("cid", CID, "Cid", Date.now() - 30 * DAY + CID_BOUNDARY_MS));
    await sendBatch(server, [{ type: "identify", userId: "dee", traits: { first_name: "Deedee" } }]);
    await everywhere([CID], IN, CID_BOUNDARY_MS);
    await pollUntil(
      async () => firstNames(DEE),
      (names) => Object.values(names).every((n) => n === "Deedee"),
      { within: 20_000 },
    );

    // (b) Klaviyo reports Ann's open through its signed webhook; a forged and a stale one are refused first.
    const annInKlaviyo = klaviyo.profiles().find((p) => p.email === ANN);
    const open = [{ topic: "opened_email", profileId: annInKlaviyo?.id, id: "evt_open_1" }];
    expect((await klaviyo.emitWebhook(klaviyoHook, open, "forged_secret_0123456789")).status).toBe(401);
    const stale = new Date(Date.now() - 6 * 60_000);
    expect((await klaviyo.emitWebhook(klaviyoHook, open, KLAVIYO_SECRET, { at: stale })).status).toBe(401);
    const ann = await api<Profile>("GET", `/v1/profiles/${encodeURIComponent("user_id:ann")}`);
    expect(ann.body.audiences.map((a) => a.key)).toEqual([KEY]);
    expect((await klaviyo.emitWebhook(klaviyoHook, open, KLAVIYO_SECRET)).status).toBe(200);

    // (b') Marketo records Dee's open; the cron's poller (run as wrangler runs cron) brings it back.
    const deeLead = marketo.leads().find((l) => l.email === DEE);
    marketo.addActivities({
      leadId: Number(deeLead?.id),
      activityTypeId: MARKETO_OPEN,
      primaryAttributeValue: "Win-back",
    });
    const cron = await fetch(`${server.url}/cdn-cgi/handler/scheduled?cron=${encodeURIComponent("* * * * *")}`);
    expect(cron.status).toBe(200);
    await everywhere([ANN, DEE], OUT);
    const dee = await api<Profile>("GET", `/v1/profiles/${encodeURIComponent("user_id:dee")}`);
    expect(dee.body.audiences).toEqual([]);

    // (c) Cid leaves when his order ages out of the window: no event was sent for him since.
    await everywhere([CID], OUT, CID_BOUNDARY_MS + 30_000);
    expect(received.filter((e) => e.type === "audience.exited" && ofEmail(CID)(e))).toHaveLength(1);

    // (e) GDPR delete: every MAP deletes the contact with its own call, the webhook hears profile.deleted.
    expect((await api("DELETE", `/v1/profiles/${encodeURIComponent("user_id:ann")}`)).status).toBe(202);
    await pollUntil(
      async () => ({
        hubspot: hubspot.contacts().some((c) => c.properties.email === ANN),
        mailchimp: mailchimp.member(ANN) !== undefined,
        klaviyo: klaviyo.deletionJobs().some((job) => Object.values(job).includes(ANN)),
        marketo: marketo.leads().some((lead) => lead.email === ANN),
        webhook: received.some((e) => e.type === "profile.deleted"),
      }),
      (s) => !s.hubspot && !s.mailchimp && s.klaviyo && !s.marketo && s.webhook,
      { within: 20_000 },
    );
  }, 240_000);
});
