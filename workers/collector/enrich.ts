/** Turning a valid client message into what a profile stores: ids, server times, request facts. */
import { env } from "cloudflare:workers";
import {
  type AcceptedMessage,
  type JsonObject,
  type Message,
  objectOrUndefined,
  storedEventTime,
} from "@tessera/protocol";
import { mergeJson } from "./context-merge";
import type { IngestEnvelope } from "./envelope";

/** What the HTTP request says about every message in it; read once per request. */
export interface RequestFacts {
  ip?: string;
  userAgent?: string;
  location?: JsonObject;
}

/** The most of a User-Agent header kept in `context.userAgent`. */
const MAX_USER_AGENT_CHARS = 1_000;

/**
 * The client IP (`CF-Connecting-IP`), User-Agent and Cloudflare's geo for the request, when present.
 *
 * Geo is taken from `request.cf` only in production (`ENVIRONMENT=production`, the deployed Worker), where
 * Cloudflare's edge fills it from the client's address. Everywhere else the runtime is miniflare (`wrangler dev`,
 * tests), whose `cf` describes no client: it is a fixed placeholder (Austin, Texas) or the `cf.json` miniflare
 * fetched for the developer's own machine, so every event would be placed where the developer is, or in Texas
 * (issue 10, finding 10). The deployment says which it is, so no placeholder value has to be recognised.
 *
 * @example requestFacts(c.req.raw, c.env.ENVIRONMENT) // { ip: "203.0.113.7", userAgent: "…", location: {…} } in production
 */
export function requestFacts(request: Request, environment: string = env.ENVIRONMENT): RequestFacts {
  const facts: RequestFacts = {};
  const ip = request.headers.get("cf-connecting-ip");
  if (ip) facts.ip = ip;
  // Copied into every message of the request, within what enrichment may add to a message: browsers send a few
  // hundred characters; a longer header is cut, not stored once per message.
  const userAgent = request.headers.get("user-agent")?.slice(0, MAX_USER_AGENT_CHARS);
  if (userAgent) facts.userAgent = userAgent;
  const cf = (request as { cf?: Record<string, unknown> }).cf;
  if (cf && environment === "production") {
    const location: JsonObject = {};
    for (const key of ["country", "region", "city", "timezone", "postalCode"] as const) {
      if (typeof cf[key] === "string" && cf[key]) location[key] = cf[key];
    }
    for (const key of ["latitude", "longitude"] as const) {
      const n = Number(cf[key]);
      if (cf[key] != null && Number.isFinite(n)) location[key] = n;
    }
    if (Object.keys(location).length > 0) facts.location = location;
  }
  return facts;
}

type BatchDefaults = Pick<IngestEnvelope, "context" | "integrations" | "sentAt">;

/** Context entries that each describe one thing (a library, an app, an OS, a device): never mixed from two. */
const WHOLE_CONTEXT_OBJECTS = ["library", "app", "os", "device"] as const;

/**
 * The stored form of `message`: `messageId` generated when absent (the idempotency key from here on),
 * `receivedAt` from the server clock, `timestamp` as {@link storedEventTime} says (corrected for client clock skew
 * when `sentAt` is present, Segment's rule; as sent otherwise), the batch's context merged under the
 * message's own, and `context.ip`/`userAgent`/`location` from the request unless the message set them.
 */
export function enrichMessage(
  message: Message,
  batch: BatchDefaults,
  facts: RequestFacts,
  receivedAt: number,
): AcceptedMessage {
  const original = message.originalTimestamp ?? message.timestamp;
  const sentAt = message.sentAt ?? batch.sentAt;
  const at = storedEventTime(message, batch.sentAt, receivedAt);
  const context = mergeJson(batch.context, message.context);
  // A message naming its own library (app, os, device) keeps that one whole: merged key by key, a batch's
  // `analytics-python 2.0` under a message's `{name:"x"}` would report library x at Python's version.
  const own = objectOrUndefined(message.context);
  for (const key of WHOLE_CONTEXT_OBJECTS) if (own?.[key] !== undefined) context[key] = own[key];
  if (facts.ip && context.ip === undefined) context.ip = facts.ip;
  if (facts.userAgent && context.userAgent === undefined) context.userAgent = facts.userAgent;
  if (facts.location) context.location = mergeJson(facts.location, objectOrUndefined(context.location));
  const out = {
    ...message,
    messageId: message.messageId ?? crypto.randomUUID(),
    timestamp: new Date(at).toISOString(),
    receivedAt: new Date(receivedAt).toISOString(),
    context,
  } as AcceptedMessage;
  if (original !== undefined) out.originalTimestamp = original;
  if (sentAt !== undefined) out.sentAt = sentAt;
  if (batch.integrations) out.integrations = mergeJson(batch.integrations, message.integrations);
  return out;
}
