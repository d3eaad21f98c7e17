/**
 * HubSpot's app webhooks (DESIGN §7, reference/maps.md §1d and §2.1): a JSON array of CRM events, signed with
 * `X-HubSpot-Signature-v3` = base64(HMAC-SHA256(client secret, method + URI + raw body + timestamp)) and
 * `X-HubSpot-Request-Timestamp` in epoch milliseconds. HubSpot pushes no email engagement this way (opens, clicks and
 * bounces come from the poller); what is read here is a contact's opt-out, as a property change.
 *
 * @example
 * const check = await hubspotInbound.verify(req, config, Date.now());
 * if (check.ok) hubspotInbound.parse(req); // → [{ event: "Unsubscribed", vendorId: "123", … }]
 */

import { z } from "zod";
import type { HubSpotConfig } from "../destinations/hubspot";
import { concatBytes, hmacSha256, timingSafeEqualText, toBase64 } from "../hmac";
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

const SIGNATURE_HEADER = "X-HubSpot-Signature-v3";
const TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp";
/** HubSpot's object type id for contacts, as the generic `object.*` subscriptions name it. */
const CONTACTS = "0-1";

/**
 * The contact properties whose change is an engagement: `hs_email_optout` turning "true", an unsubscribe from all
 * email. The email events poller, which every HubSpot destination runs, leaves those out while this webhook is
 * configured (`client_secret`), so each is stored once (see `hubspot-poller.ts`).
 *
 * A hard-bounce reason being set (`hs_email_hard_bounce_reason[_enum]`) is left out: the poller stores every bounce
 * already, as its BOUNCE event, and storing the property change too counted one bounce twice. The poller's is kept as
 * the other way round cannot be done: nothing in a BOUNCE event says whether it also set the property (its `category`
 * is a cause, and HubSpot's help lists security filters, content and policy among the causes of hard and soft bounces
 * alike), and it names the recipient by email, where a property change names a record id that resolves only for the
 * contacts Tessera synced.
 */
const PROPERTY_EVENTS: Record<string, (value: string) => EngagementEventName | undefined> = {
  hs_email_optout: (value) => (value === "true" ? "Unsubscribed" : undefined),
};

/**
 * One event of the batch as HubSpot documents it; an item of other types (a null, an object for an id) is left out
 * rather than failing the batch, whose other events HubSpot would otherwise send again and again.
 */
const WebhookEvent = z.object({
  eventId: z.union([z.number(), z.string()]),
  occurredAt: z.union([z.number(), z.string()]),
  subscriptionType: z.string().nullish(),
  objectTypeId: z.string().nullish(),
  objectId: z.union([z.number(), z.string()]),
  propertyName: z.string().nullish(),
  propertyValue: z.string().nullish(),
  changeSource: z.string().nullish(),
});
type WebhookEvent = z.infer<typeof WebhookEvent>;

function read(req: RawInbound): BodyRead {
  const json = jsonOf(req.body);
  if (!json.ok) return json;
  if (!Array.isArray(json.value)) return { ok: false, problem: "the body must be a JSON array of HubSpot events" };
  return { ok: true, ...readItems(json.value, WebhookEvent, toEngagement) };
}

export const hubspotInbound: InboundSource<HubSpotConfig> & ReadingSource = {
  type: "hubspot",
  // HubSpot sends a notification again (up to 10 times, the payload's `attemptNumber` counting them) after any answer
  // but 400, 401, 403, 404 and 405, and honours `Retry-After` on a 429 (HubSpot's webhooks guide).
  redeliversAfter429: true,

  async verify(req, config, now) {
    if (!config.client_secret) return { ok: false, reason: "client_secret is not configured for this destination" };
    const signature = req.headers.get(SIGNATURE_HEADER);
    const timestamp = req.headers.get(TIMESTAMP_HEADER);
    if (!signature || !timestamp) return { ok: false, reason: `missing ${SIGNATURE_HEADER} or ${TIMESTAMP_HEADER}` };
    if (!/^\d+$/.test(timestamp)) return { ok: false, reason: `malformed ${TIMESTAMP_HEADER}` };
    if (Math.abs(now - Number(timestamp)) > WEBHOOK_TOLERANCE_MS) {
      return { ok: false, reason: "timestamp outside the 5-minute window" };
    }
    const signed = concatBytes(req.method.toUpperCase(), signedUri(req.url), req.body, timestamp);
    const expected = toBase64(await hmacSha256(config.client_secret, signed));
    return (await timingSafeEqualText(signature, expected))
      ? { ok: true }
      : { ok: false, reason: "signature does not match" };
  },

  read,
  parse: parseOf(read),
};

/**
 * The URI as HubSpot signs it: the full URL with these twelve percent-encodings decoded (HubSpot's request-validation
 * guide lists exactly them; every other escape, such as `%20` or `%26`, stays as received).
 */
export function signedUri(url: string): string {
  return url.replace(/%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)/gi, (encoded) => decodeURIComponent(encoded));
}

function toEngagement(event: WebhookEvent): Engagement | Unreadable | undefined {
  const isContactChange =
    event.subscriptionType === "contact.propertyChange" ||
    (event.subscriptionType === "object.propertyChange" && event.objectTypeId === CONTACTS);
  if (!isContactChange) return undefined;
  // Own keys only: a `propertyName` of "constructor" must not call what Object.prototype holds.
  const property = event.propertyName ?? "";
  const name = Object.hasOwn(PROPERTY_EVENTS, property)
    ? PROPERTY_EVENTS[property](event.propertyValue ?? "")
    : undefined;
  if (!name) return undefined;
  const occurredAt = isoAt(Number(event.occurredAt));
  if (!occurredAt) return unreadable("occurredAt: must be a time in epoch milliseconds");
  return {
    // HubSpot says `eventId` alone "is not guaranteed to be unique"; with the record and the time it names one
    // change, and a redelivery (only `attemptNumber` differs) keeps the same id.
    vendorEventId: `${event.eventId}:${event.objectId}:${event.occurredAt}`,
    event: name,
    vendorId: String(event.objectId),
    occurredAt,
    properties: { property: event.propertyName, value: event.propertyValue, change_source: event.changeSource },
  };
}
