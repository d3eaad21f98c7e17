/**
 * A customer's webhook endpoint for `npm run mocks` (a `webhook` destination): `POST /hook` takes Tessera's events,
 * checking `X-Tessera-Signature` with the destination's secret (401 otherwise, as a careful receiver would), and
 * reports engagement back in Tessera's own format, signed the same way (`inbound/tessera.ts`), as a generic sender or
 * Marketo's "Call Webhook" does.
 */
import type { WebhookEvent } from "../../../../workers/sync/destinations/webhook";
import type { ProfileSnapshot } from "../../../../workers/sync/plugin";
import { signTessera, TESSERA_SIGNATURE_HEADER, verifyTessera } from "../../../../workers/sync/tessera-signature";
import { startMockVendor } from "../mock-vendor";
import { type Channel, ControlError, defineControlRoutes, ENGAGEMENT_KINDS, tesseraAnswer } from "./control";
import type { LocalVendor, LocalVendorOptions } from "./vendor";

/** The secret Tessera signs with and checks the engagement against: the destination's `secret`. */
export const RECEIVER_SECRET = "whsec_mock_receiver_0123456789";

const CHANNELS = Object.fromEntries(ENGAGEMENT_KINDS.map((k) => [k, "webhook" as Channel]));

export async function startLocalReceiver({ port, tessera, keepRequests }: LocalVendorOptions): Promise<LocalVendor> {
  // What it was last told of each profile, and of each profile in each audience: its state, as a vendor's contacts
  // and lists are theirs (an event arriving late, older than one already here, changes nothing).
  const profiles = new Map<string, WebhookEvent>();
  const memberships = new Map<string, WebhookEvent>();
  const keepLatest = (map: Map<string, WebhookEvent>, key: string, e: WebhookEvent) => {
    const seen = map.get(key);
    if (!seen || seen.at <= e.at) map.set(key, e);
  };
  let sent = 0;
  const emailOf = (p: ProfileSnapshot) => p.identifiers.find((i) => i.type === "email")?.value;
  const mock = await startMockVendor(
    (app) => {
      app.post("/hook", async (c) => {
        const body = await c.req.text();
        const check = await verifyTessera(
          RECEIVER_SECRET,
          c.req.header(TESSERA_SIGNATURE_HEADER) ?? null,
          new TextEncoder().encode(body),
          Date.now(),
        );
        if (!check.ok) return c.json({ error: check.reason }, 401);
        const event = JSON.parse(body) as WebhookEvent;
        keepLatest(profiles, event.profile.id, event);
        if (event.audience) keepLatest(memberships, `${event.audience}\n${event.profile.id}`, event);
        return c.json({ ok: true });
      });
    },
    () => {
      profiles.clear();
      memberships.clear();
    },
    {
      port,
      keepRequests,
      control: (app) =>
        defineControlRoutes(app, () => ({
          lists() {
            const lists: Record<string, string[]> = {};
            for (const e of memberships.values()) {
              if (profiles.get(e.profile.id)?.type === "profile.deleted") continue;
              const audience = e.audience as string;
              lists[audience] ??= [];
              if (e.type === "audience.entered") lists[audience].push(emailOf(e.profile) ?? e.profile.id);
            }
            for (const members of Object.values(lists)) members.sort();
            return lists;
          },
          contacts: () => [...profiles.values()].filter((e) => e.type !== "profile.deleted").map((e) => e.profile),
          channels: CHANNELS,
          async report({ email, event, campaign, link, webhook_url }) {
            if (![...profiles.values()].some((e) => emailOf(e.profile) === email))
              throw new ControlError(404, `Tessera has sent nothing about ${email} to this endpoint`);
            const url = await tessera.webhookUrl("webhook", mock.url, webhook_url);
            const now = Date.now();
            const properties = {
              ...(campaign ? { campaign } : {}),
              ...(event === "clicked" ? { link_url: link } : {}),
            };
            const id = `hook_${now.toString(36)}_${++sent}`;
            const body = JSON.stringify({ email, event, timestamp: new Date(now).toISOString(), id, properties });
            const res = await fetch(url, {
              method: "POST",
              headers: {
                "content-type": "application/json",
                [TESSERA_SIGNATURE_HEADER]: await signTessera(RECEIVER_SECRET, body, now),
              },
              body,
            });
            return tesseraAnswer(url, res);
          },
        })),
    },
  );
  return {
    name: "Webhook",
    url: mock.url,
    destination: { type: "webhook", config: { url: `${mock.url}/hook`, secret: RECEIVER_SECRET } },
    channels: CHANNELS,
    limits: "none (Tessera paces a webhook by how well it answers)",
    stop: () => mock.stop(),
  };
}
