/**
 * Klaviyo system webhooks (DESIGN §7, reference/maps.md §1d, §2.3, §4.3): a batch of metric events, each becoming a
 * Segment email-spec engagement on the profile found by email or by the Klaviyo profile id Tessera synced.
 *
 * Signature: `Klaviyo-Signature` = hex HMAC-SHA256(webhook_secret, raw body + `Klaviyo-Timestamp` header value),
 * body first, no separator. The timestamp must be within 5 minutes, and `Klaviyo-Webhook-Id` must equal the signed
 * body's `meta.klaviyo_webhook_id` (Klaviyo's own instruction: a mismatch is a replayed or forged delivery).
 *
 * @example
 * const check = await klaviyoInbound.verify(req, { api_key, webhook_secret }, Date.now());
 * if (check.ok) for (const e of klaviyoInbound.parse(req)) store(e); // { event: "Email Opened", vendorEventId, … }
 */
import type { KlaviyoConfig } from "../destinations/klaviyo";
import { concatBytes, hmacSha256, timingSafeEqualText, toHex } from "../hmac";
import { type Engagement, type EngagementEventName, type InboundSource, WEBHOOK_TOLERANCE_MS } from "../plugin";

const TOPIC_PREFIX = "event:klaviyo.";

/** Klaviyo metric topics → Segment email-spec names; other topics are left out. */
const EVENTS: Record<string, EngagementEventName> = {
  received_email: "Email Delivered",
  // The topic Klaviyo's webhook guide gives as its example for deliveries.
  email_delivered: "Email Delivered",
  opened_email: "Email Opened",
  clicked_email: "Email Link Clicked",
  bounced_email: "Email Bounced",
  marked_email_as_spam: "Email Marked as Spam",
  unsubscribed: "Unsubscribed",
  unsubscribed_from_email_marketing: "Unsubscribed",
  unsubscribed_from_list: "Unsubscribed",
};

/** Klaviyo's email event properties → Segment email-spec property names. */
const PROPERTIES: Record<string, string> = {
  $message: "email_id",
  Subject: "email_subject",
  "Campaign Name": "campaign_name",
  URL: "link_url",
  "Bounce Type": "bounce_type",
};

interface EventResource {
  id?: string;
  attributes?: { datetime?: string; timestamp?: number; event_properties?: Record<string, unknown> };
  relationships?: { profile?: { data?: { id?: string } } };
}

interface WebhookBody {
  data?: Array<{
    external_id?: string;
    topic?: string;
    /** "The same structure as a Get Event call": `{data, included?}`, though some senders put the event bare. */
    payload?: EventResource & {
      data?: EventResource;
      included?: Array<{ type?: string; id?: string; attributes?: { email?: string } }>;
    };
  }>;
  meta?: { klaviyo_webhook_id?: string; timestamp?: string };
}

export const klaviyoInbound: InboundSource<KlaviyoConfig> = {
  type: "klaviyo",

  async verify(req, config, now) {
    if (!config.webhook_secret) return { ok: false, reason: "no webhook_secret is configured" };
    const signature = req.headers.get("klaviyo-signature");
    const timestamp = req.headers.get("klaviyo-timestamp");
    if (!signature || !timestamp) return { ok: false, reason: "missing Klaviyo-Signature or Klaviyo-Timestamp header" };
    const sentAt = timestampMs(timestamp);
    if (sentAt === undefined) return { ok: false, reason: "malformed Klaviyo-Timestamp header" };
    if (Math.abs(now - sentAt) > WEBHOOK_TOLERANCE_MS)
      return { ok: false, reason: "timestamp outside the 5-minute window" };
    // The header value is signed verbatim, however it is spelled.
    const expected = toHex(await hmacSha256(config.webhook_secret, concatBytes(req.body, timestamp)));
    if (!(await timingSafeEqualText(signature.trim().toLowerCase(), expected)))
      return { ok: false, reason: "signature does not match" };
    // Only now that the bytes are Klaviyo's is the body read, for the webhook id it carries.
    const signedId = parseBody(req.body)?.meta?.klaviyo_webhook_id;
    if (signedId !== undefined && signedId !== req.headers.get("klaviyo-webhook-id"))
      return { ok: false, reason: "Klaviyo-Webhook-Id does not match meta.klaviyo_webhook_id" };
    return { ok: true };
  },

  parse(req) {
    const engagements: Engagement[] = [];
    for (const item of parseBody(req.body)?.data ?? []) {
      const topic = item.topic?.startsWith(TOPIC_PREFIX) ? item.topic.slice(TOPIC_PREFIX.length) : undefined;
      const event = topic !== undefined && Object.hasOwn(EVENTS, topic) ? EVENTS[topic] : undefined;
      const resource = item.payload?.data ?? item.payload;
      const vendorEventId = item.external_id ?? resource?.id;
      const occurredAt = occurredAtOf(resource);
      if (!event || !vendorEventId || !occurredAt) continue;
      const vendorId = resource?.relationships?.profile?.data?.id;
      const profile = item.payload?.included?.find((r) => r.type === "profile" && r.id === vendorId);
      const properties: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(resource?.attributes?.event_properties ?? {}))
        if (Object.hasOwn(PROPERTIES, name)) properties[PROPERTIES[name]] = value;
      engagements.push({
        vendorEventId,
        event,
        ...(profile?.attributes?.email ? { email: profile.attributes.email.trim().toLowerCase() } : {}),
        ...(vendorId ? { vendorId } : {}),
        occurredAt,
        properties,
      });
    }
    return engagements;
  },
};

/**
 * Klaviyo documents an HTTP-date (`Tue, 14 Apr 2026 03:50:12 GMT`); digits alone are read as Unix seconds, the
 * spelling some of its SDK samples use.
 */
function timestampMs(value: string): number | undefined {
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

function occurredAtOf(resource: EventResource | undefined): string | undefined {
  const { datetime, timestamp } = resource?.attributes ?? {};
  const ms = datetime ? Date.parse(datetime) : typeof timestamp === "number" ? timestamp * 1000 : Number.NaN;
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

function parseBody(body: Uint8Array): WebhookBody | undefined {
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(body));
    return typeof parsed === "object" && parsed !== null ? (parsed as WebhookBody) : undefined;
  } catch {
    return undefined; // not JSON: nothing in it to store
  }
}
