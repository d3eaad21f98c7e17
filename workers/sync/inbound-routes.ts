/**
 * `POST /v1/webhooks/{destinationId}` (DESIGN §7): engagement pushed by a vendor. The raw bytes are verified with the
 * vendor's own signature scheme (and its 5-minute replay window) before anything is parsed; a bad or missing
 * signature is `401` and nothing is stored. `GET` answers vendors that check the URL first (Mailchimp).
 *
 * Out of room for more profiles, the route pushes back (`429`, `Retry-After`) to a vendor that sends the webhook
 * again (`InboundSource.redeliversAfter429`), and answers `200` with the work queued to one that would drop it.
 */
import { createRoute, z } from "@hono/zod-openapi";
import { LRUCache } from "lru-cache";
import { findDestinationById } from "../../d1/queries/destinations";
import { HttpError, notFound, validationError } from "../shared/errors";
import { openApiRoutes } from "../shared/openapi-routes";
import { errorResponses, jsonResponse } from "../shared/route-docs";
import { storeEngagements } from "./engagement";
import { MAX_WEBHOOK_BYTES, rawInbound, readBody } from "./inbound/read";
import { inboundFor } from "./registry";

/**
 * When a vendor pushed back should send again. Longer than the collector's 2 s: an out-of-room runtime frees room as
 * idle objects are evicted, tens of seconds later (DESIGN §2), and a vendor's retry costs it nothing to wait.
 */
const BUSY_RETRY_AFTER_SECONDS = 30;

const Params = z.object({
  destinationId: z.string().meta({ param: { name: "destinationId", in: "path" }, example: "dst_01jq8m4v0c5z2e7k" }),
});

const Received = z
  .object({
    stored: z.int().nonnegative(),
    unmatched: z.int().nonnegative().meta({
      description: "Engagements naming nobody Tessera can find (no email, an unknown vendor id) or an erased person.",
    }),
    duplicates: z
      .int()
      .positive()
      .optional()
      .meta({ description: "Engagements already stored by an earlier delivery (present when there are any)." }),
    skipped: z
      .int()
      .positive()
      .optional()
      .meta({
        description:
          "Items of the body's batch left out because they cannot be read (a null, a wrong type, an impossible time); " +
          "present when there are any. Items of a kind that carries no engagement (another topic or property) are " +
          "neither stored nor counted.",
      }),
    skipped_reasons: z
      .array(
        z.object({
          index: z.int().nonnegative().meta({ description: "The item's position in the body's batch, from 0." }),
          reason: z.string().meta({ example: "occurredAt: must be a time in epoch milliseconds" }),
        }),
      )
      .optional()
      .meta({ description: "The first five skipped items and why (present with `skipped`)." }),
  })
  .meta({
    id: "WebhookReceived",
    description:
      "Engagements stored as events, those naming no known contact, those an earlier delivery already stored, and " +
      "the items that could not be read.",
  });

/**
 * Destination ids D1 did not know, per isolate. An id is made when its destination is created and goes with it, never
 * to come back, so the answer holds for good: a vendor still posting to a deleted destination (an event a request,
 * for as long as its account keeps the URL) or a sender repeating a made-up id reads D1 once per isolate, not once
 * per request. Bounded, so ids by the million cost the isolate no more.
 */
const unknownDestinations = new LRUCache<string, true>({ max: 10_000 });

/** The destination and how its type's webhooks are read; 404 when either is unknown. */
async function inboundOf(env: Env, destinationId: string) {
  const unknown = () => notFound(`No destination ${destinationId} that receives webhooks`);
  if (unknownDestinations.has(destinationId)) throw unknown();
  const destination = await findDestinationById(env.DB, destinationId);
  if (!destination) unknownDestinations.set(destinationId, true);
  const source = destination ? inboundFor(destination.type) : undefined;
  if (!destination || !source) throw unknown();
  // Each vendor reads its secret under its own name; Tessera's inbound secret (in webhook_url) is the fallback.
  const config = JSON.parse(destination.config) as Record<string, unknown>;
  const secrets = {
    ...config,
    secret: config.secret ?? destination.inboundSecret,
    webhook_secret: config.webhook_secret ?? destination.inboundSecret,
  };
  return { destination, source, config: secrets };
}

export const inboundRoutes = openApiRoutes()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/webhooks/{destinationId}",
      tags: ["Destinations"],
      summary: "Receive engagement from a destination",
      description:
        "Where a MAP (or any sender signing with `X-Tessera-Signature`) reports opens, clicks, bounces and " +
        "unsubscribes. Verified on the raw body with the vendor's signature; each engagement becomes an event on " +
        "the profile found by email or vendor id, stored once per vendor event id.",
      request: { params: Params },
      responses: {
        200: jsonResponse(Received, "Verified and stored."),
        ...errorResponses({
          400: "A verified body that cannot be read at all (not JSON, not the sender's format, a missing or invalid field); the message says what is wrong. Unreadable items of a vendor's batch are left out instead.",
          401: "Bad, missing or stale signature.",
          404: "Unknown destination.",
          413: `The body is larger than ${MAX_WEBHOOK_BYTES} bytes.`,
          429: "Out of room for more profiles at the moment, answered to vendors that send a webhook again (HubSpot, Mailchimp): nothing of it was acknowledged; send it again after `Retry-After` seconds (each engagement is stored once). Others are answered 200, what could not be stored yet being queued.",
        }),
      },
    }),
    async (c) => {
      const { destination, source, config } = await inboundOf(c.env, c.req.valid("param").destinationId);
      const req = await rawInbound(c.req.raw);
      const verdict = await source.verify(req, config, Date.now());
      if (!verdict.ok) throw new HttpError(401, "authentication_error", `Webhook not verified: ${verdict.reason}`);
      // Signed is not well-formed: a body it cannot read is the sender's bug, said so (a 500 a vendor would retry
      // forever, a 200 would hide it). The sources without `read` have no such body (Mailchimp's form).
      const read = readBody(source, req);
      if (!read.ok) throw validationError(`Webhook body invalid: ${read.problem}`);
      const result = await storeEngagements(c.env, destination, read.engagements, {
        skipped: read.skipped,
        onOverload: source.redeliversAfter429 ? "push-back" : "queue",
      });
      if (!result.ok)
        throw new HttpError(
          429,
          "rate_limit_error",
          "Out of room for more profiles at the moment; nothing of this webhook was acknowledged, send it again",
          { headers: { "Retry-After": String(BUSY_RETRY_AFTER_SECONDS) } },
        );
      return c.json(result.report, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/webhooks/{destinationId}",
      tags: ["Destinations"],
      summary: "Answer a destination's URL check",
      description:
        "Mailchimp checks a webhook URL with a GET before using it; for other destinations there is no such URL.",
      request: { params: Params },
      responses: {
        200: { description: "The URL is ready." },
        ...errorResponses({ 404: "Unknown destination, or its type sends no URL check." }),
      },
    }),
    async (c) => {
      const { source } = await inboundOf(c.env, c.req.valid("param").destinationId);
      const answer = source.handshake?.(await rawInbound(c.req.raw));
      if (!answer) throw notFound("This destination's type sends no URL check");
      return answer;
    },
  );
