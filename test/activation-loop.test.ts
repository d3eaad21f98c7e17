/**
 * The seed workflow end to end over `npm run dev` (DESIGN §6, §7): in-store buyers who stopped opening emails form an
 * audience; Tessera syncs it to a MAP (a mock Klaviyo that behaves like the real one, on a local port); the MAP
 * reports an open through its signed webhook; the profile leaves the audience at once and the MAP's list loses it.
 */
import type { Profile } from "@tessera/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { secretApi, sendBatch } from "./support/dev-api";
import { type DevServer, printServerLogOnFailure, startDevServer } from "./support/dev-server";
import { type MockKlaviyo, startMockKlaviyo } from "./support/mocks/klaviyo";
import { pollUntil } from "./support/poll-until";

const DAY = 86_400_000;
const WEBHOOK_SECRET = "klaviyo_webhook_secret_0123456789";
const LAPSED = {
  all: [
    { event: "Order Completed", where: [{ property: "channel", op: "eq", value: "pos" }], within: "30d" },
    { not: { event: "Email Opened", within: "60d" } },
  ],
};

describe("activation loop against the dev server", () => {
  let server: DevServer;
  printServerLogOnFailure(() => server?.logPath);
  let klaviyo: MockKlaviyo;
  beforeAll(async () => {
    [server, klaviyo] = await Promise.all([startDevServer(), startMockKlaviyo()]);
  });
  afterAll(async () => {
    await Promise.all([server?.stop(), klaviyo?.stop()]);
  });

  const api = <T>(method: string, path: string, body?: unknown) => secretApi<T>(server, method, path, body);

  const send = (messages: object[]) => sendBatch(server, messages);

  it("syncs a lapsed store buyer to the MAP, takes an open back, and removes them from the list", async () => {
    expect((await api("POST", "/v1/audiences", { key: "lapsed", definition: LAPSED })).status).toBe(201);
    const created = await api<{ id: string; webhook_url: string; config: Record<string, string> }>(
      "POST",
      "/v1/destinations",
      {
        type: "klaviyo",
        name: "Klaviyo",
        config: { api_key: klaviyo.apiKey, base_url: klaviyo.url, webhook_secret: WEBHOOK_SECRET },
        audiences: ["lapsed"],
        traits: ["first_name"],
      },
    );
    expect(created.status).toBe(201);
    expect(created.body.config.api_key).not.toBe(klaviyo.apiKey);

    const now = Date.now();
    await send([
      {
        type: "identify",
        userId: "ann",
        traits: { email: "ann@example.com", first_name: "Ann" },
        timestamp: new Date(now - 20 * DAY).toISOString(),
      },
      {
        type: "track",
        userId: "ann",
        event: "Order Completed",
        properties: { channel: "pos" },
        timestamp: new Date(now - 10 * DAY).toISOString(),
      },
    ]);
    // Audience change → vendor list within seconds (DESIGN §7's goal is 2 s p99; the bench measures it).
    await pollUntil(
      async () => klaviyo.listMembers("tessera_lapsed"),
      (members) => members.includes("ann@example.com"),
      { within: 10_000 },
    );
    const inKlaviyo = klaviyo.profiles().find((p) => p.email === "ann@example.com");
    expect(inKlaviyo).toMatchObject({ first_name: "Ann" });

    // Klaviyo reports an open through its signed webhook.
    const opened = await klaviyo.emitWebhook(
      created.body.webhook_url,
      [{ topic: "opened_email", profileId: inKlaviyo?.id, id: "evt_open_1", properties: { Subject: "We miss you" } }],
      WEBHOOK_SECRET,
    );
    expect(opened.status).toBe(200);
    expect(await opened.json()).toEqual({ stored: 1, unmatched: 0 });
    const ann = await api<Profile>("GET", `/v1/profiles/${encodeURIComponent("user_id:ann")}`);
    expect(ann.body.audiences).toEqual([]);
    await pollUntil(
      async () => klaviyo.listMembers("tessera_lapsed"),
      (members) => !members.includes("ann@example.com"),
      { within: 10_000 },
    );

    // A forged webhook is refused and changes nothing.
    const forged = await klaviyo.emitWebhook(
      created.body.webhook_url,
      [{ topic: "opened_email", email: "ann@example.com", id: "evt_open_2" }],
      "not_the_secret_0123456789",
    );
    expect(forged.status).toBe(401);

    const log = await api<{ data: Array<{ action: string; outcome: string }> }>(
      "GET",
      `/v1/destinations/${created.body.id}/log?limit=10`,
    );
    expect(log.body.data.map((l) => `${l.action}:${l.outcome}`)).toEqual(["remove:ok", "add:ok"]);
  });
});
