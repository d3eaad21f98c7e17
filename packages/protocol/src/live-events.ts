/**
 * `GET /v1/events/live` (DESIGN §11): the last messages a workspace's collector accepted or rejected, as they arrive
 * (Segment's debugger). A long poll: `after` is the last `seq` the caller has, `wait` how long to hold the request
 * open for something newer.
 */
import { z } from "zod";
import { isPlainObject, type JsonObject } from "./json-object";
import { isoTime } from "./request-body";

/** Messages kept per workspace; older ones fall off. */
export const LIVE_EVENTS_KEPT = 200;
/** The longest a live-events request may wait for something new, in seconds. */
export const MAX_LIVE_WAIT_SECONDS = 25;

export const LiveEvent = z
  .object({
    seq: z.int().positive().meta({ description: "Increases with every message the feed records." }),
    at: isoTime.meta({ description: "When the collector received it." }),
    status: z.enum(["accepted", "rejected", "dropped"]).meta({
      description:
        "`dropped`: valid, but it names a person who was erased (GDPR delete), so it was not stored; the feed shows " +
        "nothing of it but its type and message id.",
    }),
    error: z
      .string()
      .nullable()
      .meta({ description: "Why a rejected message was rejected, or a dropped one dropped; null when accepted." }),
    type: z.string().nullable(),
    event: z.string().nullable().meta({ description: "A track call's event name." }),
    message_id: z.string().nullable(),
    user_id: z.string().nullable(),
    anonymous_id: z.string().nullable(),
    message: z
      .custom<JsonObject>(isPlainObject)
      .nullable()
      .meta({
        // Not JSON_OBJECT_DOC: its `type: "object"` would replace the null that `.nullable()` declares.
        type: ["object", "null"],
        additionalProperties: true,
        description: "The message as received (accepted: as stored); null when it was not a JSON object or too large.",
      }),
  })
  .meta({ id: "LiveEvent", description: "One message as the collector saw it." });
export type LiveEvent = z.infer<typeof LiveEvent>;

export const LiveEventsQuery = z
  .object({
    after: z.coerce
      .number({ error: "after must be a non-negative integer (the last seq you have)" })
      .int({ error: "after must be a non-negative integer (the last seq you have)" })
      .nonnegative({ error: "after must be a non-negative integer (the last seq you have)" })
      .optional()
      .meta({ param: { name: "after", in: "query" }, description: "Only messages with a greater `seq`." }),
    wait: z.coerce
      .number({ error: `wait must be a number of seconds from 0 to ${MAX_LIVE_WAIT_SECONDS}` })
      .min(0, { error: `wait must be a number of seconds from 0 to ${MAX_LIVE_WAIT_SECONDS}` })
      .max(MAX_LIVE_WAIT_SECONDS, { error: `wait must be a number of seconds from 0 to ${MAX_LIVE_WAIT_SECONDS}` })
      .optional()
      .meta({
        param: { name: "wait", in: "query" },
        description: `Seconds to hold the request while nothing newer than \`after\` has arrived (default 0, at most ${MAX_LIVE_WAIT_SECONDS}).`,
      }),
  })
  .meta({ id: "LiveEventsQuery" });
export type LiveEventsQuery = z.infer<typeof LiveEventsQuery>;

/** `GET /v1/events/live` — oldest first; pass `cursor` as `after` to wait for what comes next. */
export const LiveEventsPage = z
  .object({
    data: z.array(LiveEvent),
    cursor: z.int().nonnegative().meta({ description: "The newest `seq` so far: the next request's `after`." }),
    erasures: z
      .int()
      .nonnegative()
      .meta({
        description:
          "How many GDPR erasures the feed has applied since it started (0 again when the feed starts again). When it " +
          "changes, messages read before may have been withdrawn: read from `after=0` and show only what the feed " +
          "still holds. A read waiting for something new is answered when an erasure comes.",
      }),
  })
  .meta({ id: "LiveEventsPage", description: "The workspace's latest messages, oldest first." });
export type LiveEventsPage = z.infer<typeof LiveEventsPage>;
