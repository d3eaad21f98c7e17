/**
 * Issue 8's seed workflow over `npm run dev` with all four MAP mocks and a webhook receiver (DESIGN §6, §7): a lapsed
 * store buyer enters `lapsed_store_buyers` and appears in every MAP's list and at the webhook, even through an
 * outage at one MAP; an open reported by Klaviyo's signed webhook makes them leave, and every MAP drops them; a GDPR
 * delete reaches every MAP; forged or stale signatures store nothing.
 */
import type { Profile } from "@tessera/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WebhookEvent } from "../workers/sync/destinations/webhook";
import { secretApi, sendBatch } from "./support/dev-api";
import { type DevServer, startDevServer } from "./support/dev-server";
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

describe("the seed workflow across HubSpot, Mailchimp, Klaviyo, Marketo and a webhook", () => {
  let server: DevServer;
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
      startMockHubSpot(),
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

  /** Who is in the audience's list at each MAP, and what the webhook receiver last heard for Ann. */
  function everywhere() {
    return {
      hubspot: hubspot.listMembers(LIST).includes(ANN),
      mailchimp: mailchimp.segmentMembers(LIST)?.includes(ANN) ?? false,
      klaviyo: klaviyo.listMembers(LIST).includes(ANN),
      marketo: marketo.listMembers(LIST).some((lead) => lead.email === ANN),
      webhook: received.filter((e) => e.audience === KEY).at(-1)?.type ?? null,
    };
  }

  it("syncs the member to every MAP through an outage, takes an open back, removes them, then erases them everywhere", async () => {
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
    await destination("mailchimp", {
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
    // Mailchimp is down for its next two calls: the engine retries with backoff, nothing is lost.
    mailchimp.fault({ match: {}, times: 2, respond: { status: 503, body: { title: "Service Unavailable" } } });

    const now = Date.now();
    await sendBatch(server, [
      {
        type: "identify",
        userId: "ann",
        traits: { email: ANN, first_name: "Ann" },
        timestamp: new Date(now - 20 * DAY).toISOString(),
      },
      {
        type: "track",
        userId: "ann",
        event: "Order Completed",
        properties: { channel: "pos" },
        timestamp: new Date(now - 10 * DAY).toISOString(),
      },
      { type: "track", userId: "ann", event: "Email Opened", timestamp: new Date(now - 90 * DAY).toISOString() },
    ]);
    const entered = { hubspot: true, mailchimp: true, klaviyo: true, marketo: true, webhook: "audience.entered" };
    await pollUntil(
      async () => everywhere(),
      (state) => JSON.stringify(state) === JSON.stringify(entered),
      {
        within: 20_000,
      },
    );
    expect(received.filter((e) => e.type === "audience.entered")).toHaveLength(1);

    // Klaviyo reports an open through its signed webhook; a forged and a stale one are refused first.
    const annInKlaviyo = klaviyo.profiles().find((p) => p.email === ANN);
    const open = [{ topic: "opened_email", profileId: annInKlaviyo?.id, id: "evt_open_1" }];
    expect((await klaviyo.emitWebhook(klaviyoHook, open, "forged_secret_0123456789")).status).toBe(401);
    const stale = new Date(Date.now() - 6 * 60_000);
    expect((await klaviyo.emitWebhook(klaviyoHook, open, KLAVIYO_SECRET, { at: stale })).status).toBe(401);
    const ann = await api<Profile>("GET", `/v1/profiles/${encodeURIComponent("user_id:ann")}`);
    expect(ann.body.audiences.map((a) => a.key)).toEqual([KEY]);
    expect((await klaviyo.emitWebhook(klaviyoHook, open, KLAVIYO_SECRET)).status).toBe(200);
    const left = { hubspot: false, mailchimp: false, klaviyo: false, marketo: false, webhook: "audience.exited" };
    await pollUntil(
      async () => everywhere(),
      (state) => JSON.stringify(state) === JSON.stringify(left),
      {
        within: 20_000,
      },
    );

    // GDPR delete: every MAP deletes the contact with its own call, the webhook hears profile.deleted.
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
  });
});
