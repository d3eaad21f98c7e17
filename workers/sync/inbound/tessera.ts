/**
 * Engagement sent in Tessera's own format (DESIGN §7), by generic senders and Marketo's "Call Webhook": a JSON body
 * `{email, event, timestamp, id, properties}` signed with `X-Tessera-Signature` (see tessera-signature.ts).
 *
 * `event` is a Segment email-spec name (`"Email Opened"`) or one of the short aliases `delivered`, `opened`,
 * `clicked`, `bounced`, `spam`, `unsubscribed`. `timestamp` is ISO-8601 text or a number of Unix seconds. `id` is
 * the sender's event id: a redelivery with the same id is stored once.
 *
 * @example
 * const body = JSON.stringify({ email: "ada@example.com", event: "opened", timestamp: "2026-05-01T10:00:00Z", id: "evt_1" });
 * // header X-Tessera-Signature: await signTessera(secret, body, Date.now())
 * tesseraInbound.parse(req) // [{ vendorEventId: "evt_1", event: "Email Opened", email: "ada@example.com", … }]
 */
import type { Engagement, EngagementEventName, InboundSource } from "../plugin";
import { TESSERA_SIGNATURE_HEADER, verifyTessera } from "../tessera-signature";

const ALIASES = new Map<string, EngagementEventName>([
  ["delivered", "Email Delivered"],
  ["opened", "Email Opened"],
  ["clicked", "Email Link Clicked"],
  ["bounced", "Email Bounced"],
  ["spam", "Email Marked as Spam"],
  ["unsubscribed", "Unsubscribed"],
]);
/** Every spec name has an alias, so the aliases' values are the spec names. */
const SPEC_NAMES = new Set<string>(ALIASES.values());

function eventName(value: unknown): EngagementEventName | undefined {
  if (typeof value !== "string") return undefined;
  return ALIASES.get(value) ?? (SPEC_NAMES.has(value) ? (value as EngagementEventName) : undefined);
}

export const tesseraInbound: InboundSource<{ secret: string }> = {
  type: "tessera",

  async verify(req, config, now) {
    // An empty key still yields a valid HMAC, which anyone could compute.
    if (!config.secret) return { ok: false, reason: "no webhook secret configured" };
    return verifyTessera(config.secret, req.headers.get(TESSERA_SIGNATURE_HEADER), req.body, now);
  },

  parse(req) {
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(new TextDecoder().decode(req.body));
    } catch {
      return [];
    }
    if (typeof payload !== "object" || payload === null) return [];
    const event = eventName(payload.event);
    const email = typeof payload.email === "string" ? payload.email.trim().toLowerCase() : "";
    const id = typeof payload.id === "string" || typeof payload.id === "number" ? String(payload.id) : "";
    const at = occurredAt(payload.timestamp);
    if (!event || !email || !id || at === undefined) return [];
    const properties = payload.properties;
    const engagement: Engagement = {
      vendorEventId: id,
      event,
      email,
      occurredAt: at,
      properties:
        typeof properties === "object" && properties !== null && !Array.isArray(properties) ? { ...properties } : {},
    };
    return [engagement];
  },
};

function occurredAt(timestamp: unknown): string | undefined {
  const ms =
    typeof timestamp === "number"
      ? timestamp * 1000
      : typeof timestamp === "string"
        ? Date.parse(timestamp)
        : Number.NaN;
  // Beyond ±8.64e15 ms a Date is invalid and toISOString throws.
  return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : undefined;
}
