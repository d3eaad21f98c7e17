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
import { z } from "zod";
import { describeIssue } from "../../shared/validation-hook";
import type { KlaviyoConfig } from "../destinations/klaviyo";
import { concatBytes, hmacSha256, timingSafeEqualText, toHex } from "../hmac";
import {
  type Engagement,
  type EngagementEventName,
  type InboundSource,
  type RawInbound,
  WEBHOOK_TOLERANCE_MS,
} from "../plugin";
import {
  type BodyRead,
  isoAt,
  jsonOf,
  parseOf,
  type ReadingSource,
  readItems,
  type Unreadable,
  unreadable,
} from "./read";

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

/**
 * Optional fields are `nullish`: Klaviyo writes `null` for what a resource lacks (a profile without an email). An
 * item whose fields have other types is not one Klaviyo sent as documented, and is left out.
 */
const EventResource = z.object({
  id: z.string().nullish(),
  attributes: z
    .object({
      datetime: z.string().nullish(),
      timestamp: z.number().nullish(),
      // Only copied through, so odd properties cost the properties, not the engagement.
      event_properties: z.record(z.string(), z.unknown()).nullish().catch(undefined),
    })
    .nullish(),
  relationships: z
    .object({ profile: z.object({ data: z.object({ id: z.string().nullish() }).nullish() }).nullish() })
    .nullish(),
});
type EventResource = z.infer<typeof EventResource>;

const WebhookItem = z.object({
  external_id: z.string().nullish(),
  topic: z.string().nullish(),
  /** "The same structure as a Get Event call": `{data, included?}`, though some senders put the event bare. */
  payload: EventResource.extend({
    data: EventResource.nullish(),
    included: z
      .array(
        z.object({
          type: z.string().nullish(),
          id: z.string().nullish(),
          attributes: z.object({ email: z.string().nullish() }).nullish(),
        }),
      )
      .nullish(),
  }).nullish(),
});
type WebhookItem = z.infer<typeof WebhookItem>;

const WebhookBody = z.object({ data: z.array(z.unknown(), { error: "must be the array of Klaviyo events" }) });

/** `meta.klaviyo_webhook_id` of a body, read before it is trusted (only to compare with the header). */
function signedWebhookId(body: Uint8Array): unknown {
  const json = jsonOf(body);
  const meta =
    json.ok && typeof json.value === "object" && json.value !== null ? Reflect.get(json.value, "meta") : null;
  return typeof meta === "object" && meta !== null ? Reflect.get(meta, "klaviyo_webhook_id") : undefined;
}

function read(req: RawInbound): BodyRead {
  const json = jsonOf(req.body);
  if (!json.ok) return json;
  if (typeof json.value !== "object" || json.value === null || Array.isArray(json.value))
    return { ok: false, problem: "the body must be a JSON object {data:[…], meta}" };
  const body = WebhookBody.safeParse(json.value);
  if (!body.success) return { ok: false, problem: describeIssue(body.error) };
  return { ok: true, ...readItems(body.data.data, WebhookItem, toEngagement) };
}

function toEngagement(item: WebhookItem): Engagement | Unreadable | undefined {
  const topic = item.topic?.startsWith(TOPIC_PREFIX) ? item.topic.slice(TOPIC_PREFIX.length) : undefined;
  const event = topic !== undefined && Object.hasOwn(EVENTS, topic) ? EVENTS[topic] : undefined;
  if (!event) return undefined;
  const resource = item.payload?.data ?? item.payload;
  const vendorEventId = item.external_id ?? resource?.id;
  if (!vendorEventId) return unreadable("external_id: is required (the event's id), or payload.data.id");
  const occurredAt = occurredAtOf(resource);
  if (!occurredAt)
    return unreadable("payload.data.attributes: must have a datetime (ISO-8601) or a timestamp (Unix seconds)");
  const vendorId = resource?.relationships?.profile?.data?.id;
  const email = item.payload?.included?.find((r) => r.type === "profile" && r.id === vendorId)?.attributes?.email;
  const properties: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(resource?.attributes?.event_properties ?? {}))
    if (Object.hasOwn(PROPERTIES, name)) properties[PROPERTIES[name]] = value;
  return {
    vendorEventId,
    event,
    ...(email ? { email: email.trim().toLowerCase() } : {}),
    ...(vendorId ? { vendorId } : {}),
    occurredAt,
    properties,
  };
}

/**
 * Not `redeliversAfter429` (see `InboundSource`): Klaviyo documents retries of 429 for its flow webhooks (17 times
 * over 24 h), not for system webhooks; until it does, an overload is answered 200 with the work queued: nothing is
 * lost.
 */
export const klaviyoInbound: InboundSource<KlaviyoConfig> & ReadingSource = {
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
    const signedId = signedWebhookId(req.body);
    if (signedId !== undefined && signedId !== req.headers.get("klaviyo-webhook-id"))
      return { ok: false, reason: "Klaviyo-Webhook-Id does not match meta.klaviyo_webhook_id" };
    return { ok: true };
  },

  read,
  parse: parseOf(read),
};

/**
 * Klaviyo documents an HTTP-date (`Tue, 14 Apr 2026 03:50:12 GMT`); digits alone are read as Unix seconds, the
 * spelling some of its SDK samples use.
 */
function timestampMs(value: string): number | undefined {
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

function occurredAtOf(resource: EventResource | null | undefined): string | undefined {
  const { datetime, timestamp } = resource?.attributes ?? {};
  return isoAt(datetime ? Date.parse(datetime) : typeof timestamp === "number" ? timestamp * 1000 : Number.NaN);
}
