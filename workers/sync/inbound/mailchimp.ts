/**
 * Mailchimp audience webhooks (DESIGN §7, reference/maps.md §1d and §2.2). Mailchimp neither signs nor timestamps
 * them: authenticity is the secret Tessera put in the webhook URL's query (`?secret=…`), over HTTPS. So there is no
 * 5-minute replay window: `fired_at` is in the unsigned body, and Mailchimp retries a failed delivery for about
 * 75 minutes, so a window on it would refuse honest retries. A replay is stored once anyway, since the stored
 * message id derives from `vendorEventId`. Opens and clicks never arrive here (see `mailchimp-poller.ts`).
 *
 * @example
 * // Mailchimp: POST https://…/v1/webhooks/dst_1?secret=s3cret  body: type=unsubscribe&data[email]=ada%40x.io&…
 * await mailchimpInbound.verify(req, config, Date.now()); // { ok: true }
 * mailchimpInbound.parse(req); // [{ event: "Unsubscribed", email: "ada@x.io", … }]
 */
import type { MailchimpConfig } from "../destinations/mailchimp";
import { timingSafeEqualText } from "../hmac";
import type { Engagement, EngagementEventName, InboundSource } from "../plugin";

export type MailchimpInboundConfig = MailchimpConfig & { webhook_secret: string };

/** The query parameter of the webhook URL that carries the secret. */
export const MAILCHIMP_SECRET_PARAM = "secret";

/** Mailchimp's audience webhooks: `unsubscribe` and `cleaned`; other kinds carry no engagement and are left out. */
export const mailchimpInbound: InboundSource<MailchimpInboundConfig> = {
  type: "mailchimp",
  // Mailchimp retries a delivery answered non-2xx (or not within 10 s) for about 75 minutes (reference/maps.md §1d).
  redeliversAfter429: true,

  // Mailchimp checks the URL with a GET when the webhook is saved, and refuses to save it unless it gets a 200.
  handshake: (req) => (req.method === "GET" ? new Response(null, { status: 200 }) : undefined),

  async verify(req, config) {
    if (!config.webhook_secret) return { ok: false, reason: "no webhook_secret configured" };
    const given = new URL(req.url).searchParams.get(MAILCHIMP_SECRET_PARAM);
    if (!given) return { ok: false, reason: `missing ?${MAILCHIMP_SECRET_PARAM}= in the webhook URL` };
    return (await timingSafeEqualText(given, config.webhook_secret))
      ? { ok: true }
      : { ok: false, reason: "webhook secret does not match" };
  },

  parse(req) {
    const form = new URLSearchParams(new TextDecoder().decode(req.body));
    const engagement = toEngagement(form);
    return engagement ? [engagement] : [];
  },
};

function toEngagement(form: URLSearchParams): Engagement | undefined {
  const type = form.get("type");
  const reason = form.get("data[reason]") ?? undefined;
  const event = eventName(type, reason);
  const email = form.get("data[email]")?.trim().toLowerCase();
  if (!event || !email) return undefined;
  const firedAt = form.get("fired_at") ?? "";
  const properties: Record<string, unknown> = {
    list_id: form.get("data[list_id]") ?? undefined,
    campaign_id: form.get("data[campaign_id]") || undefined,
    reason,
  };
  if (event === "Email Bounced") properties.bounce_type = "hard";
  if (type === "unsubscribe") properties.action = form.get("data[action]") ?? undefined;
  const campaignId = form.get("data[campaign_id]");
  return {
    // Mailchimp has no event id: the kind, the member and the second it fired name one delivery and its retries.
    // `cleaned` carries no data[id], so the address stands in for it. A bounce on a campaign is one the poller reads
    // too, so it takes the id both channels share.
    vendorEventId:
      event === "Email Bounced" && campaignId
        ? campaignBounceId(campaignId, email)
        : `${type}:${form.get("data[id]") ?? email}:${firedAt}`,
    event,
    email,
    occurredAt: firedAtIso(firedAt),
    properties: Object.fromEntries(Object.entries(properties).filter(([, v]) => v !== undefined)),
  };
}

/**
 * The vendor event id of a bounce on a campaign, the same from both channels: the poller's `bounce` activity and the
 * `cleaned` webhook Mailchimp sends when that bounce cleans the address (reference/maps.md §2.2, M8). Their own ids
 * differ (the activity's second is not the webhook's `fired_at`), which stored one bounce twice. A campaign is sent to
 * an address once, so the campaign and the address name its bounce, whichever channel reports it first.
 *
 * @example
 * campaignBounceId("4fjk2ma9xd", "Bob@Tessera.dev"); // "bounce:4fjk2ma9xd:bob@tessera.dev"
 */
export function campaignBounceId(campaignId: string, email: string): string {
  return `bounce:${campaignId}:${email.trim().toLowerCase()}`;
}

function eventName(type: string | null, reason: string | undefined): EngagementEventName | undefined {
  if (type === "unsubscribe") return "Unsubscribed";
  // `cleaned` means Mailchimp removed the address: for a hard bounce, or for a spam complaint (`reason=abuse`).
  if (type === "cleaned") return reason === "abuse" ? "Email Marked as Spam" : "Email Bounced";
  return undefined;
}

/** `fired_at` is `YYYY-MM-DD HH:MM:SS` without a zone; Mailchimp's API times are UTC, so it is read as UTC. */
function firedAtIso(firedAt: string): string {
  const at = Date.parse(`${firedAt.replace(" ", "T")}Z`);
  // Without a readable `fired_at` the event is still kept (an unsubscribe must not be lost), dated on arrival.
  return new Date(Number.isNaN(at) ? Date.now() : at).toISOString();
}
