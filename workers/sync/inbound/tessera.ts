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
import { z } from "zod";
import { describeIssue } from "../../shared/validation-hook";
import type { EngagementEventName, InboundSource, RawInbound } from "../plugin";
import { TESSERA_SIGNATURE_HEADER, verifyTessera } from "../tessera-signature";
import { type BodyRead, isoAt, jsonOf, parseOf, type ReadingSource } from "./read";

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

function eventName(value: string): EngagementEventName | undefined {
  return ALIASES.get(value) ?? (SPEC_NAMES.has(value) ? (value as EngagementEventName) : undefined);
}

/**
 * The sender is whoever wrote the integration, so each refusal says what to fix: a body dropped with a 200 would
 * hide their bug for good.
 */
const TesseraEvent = z.object({
  email: z.string(expected("the recipient's email address, as text")).trim().min(1, "must not be empty"),
  event: z
    .string(expected(`one of ${[...ALIASES.keys()].join(", ")} or their Segment names`))
    .transform((value, ctx) => {
      const name = eventName(value);
      if (name) return name;
      ctx.addIssue({
        code: "custom",
        message: `${JSON.stringify(value)} is not one of ${[...ALIASES.keys()].join(", ")} or their Segment names`,
      });
      return z.NEVER;
    }),
  timestamp: z
    .union([z.string(), z.number()], expected("ISO-8601 text or a number of Unix seconds"))
    .transform((value, ctx) => {
      const at = isoAt(typeof value === "number" ? value * 1000 : Date.parse(value));
      if (at) return at;
      ctx.addIssue({ code: "custom", message: `${JSON.stringify(value)} is not ISO-8601 text or Unix seconds` });
      return z.NEVER;
    }),
  id: z.union([z.string().min(1), z.number()], expected("the sender's event id, text or a number")).transform(String),
  properties: z.record(z.string(), z.unknown(), expected("an object")).nullish(),
});

/** A field's message: missing, or present with the wrong type. */
function expected(what: string) {
  return {
    error: (issue: { input?: unknown }) => (issue.input === undefined ? `is required (${what})` : `must be ${what}`),
  };
}

function read(req: RawInbound): BodyRead {
  const json = jsonOf(req.body);
  if (!json.ok) return json;
  if (typeof json.value !== "object" || json.value === null || Array.isArray(json.value))
    return { ok: false, problem: "the body must be a JSON object {email, event, timestamp, id, properties}" };
  const payload = TesseraEvent.safeParse(json.value);
  if (!payload.success) return { ok: false, problem: describeIssue(payload.error) };
  const { id, event, email, timestamp, properties } = payload.data;
  return {
    ok: true,
    engagements: [
      { vendorEventId: id, event, email: email.toLowerCase(), occurredAt: timestamp, properties: { ...properties } },
    ],
    skipped: [],
  };
}

/**
 * Not `redeliversAfter429` (see `InboundSource`): whether a generic sender retries a 429 is up to whoever wrote it,
 * so an overload is answered 200 with the work queued: nothing is lost.
 */
export const tesseraInbound: InboundSource<{ secret: string }> & ReadingSource = {
  type: "tessera",

  async verify(req, config, now) {
    // An empty key still yields a valid HMAC, which anyone could compute.
    if (!config.secret) return { ok: false, reason: "no webhook secret configured" };
    return verifyTessera(config.secret, req.headers.get(TESSERA_SIGNATURE_HEADER), req.body, now);
  },

  read,
  parse: parseOf(read),
};
