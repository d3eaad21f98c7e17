/** The query string of `GET /v1/profiles/:ref/events` (DESIGN §5). Unknown parameters are ignored. */
import { z } from "zod";
import { DEFAULT_EVENT_PAGE, MAX_EVENT_NAME_LENGTH, MAX_EVENT_PAGE } from "./limits";
import { MESSAGE_TYPES } from "./messages";
import { pageLimit, quoted } from "./page-limit";

const limit = pageLimit("Events", DEFAULT_EVENT_PAGE, MAX_EVENT_PAGE);

/**
 * `limit` (1–1000, default 50), `cursor` (opaque, from the previous page), `event` (a track event name) and
 * `type` (a message type).
 *
 * @example ProfileEventsQuery.safeParse({ limit: "20", type: "track" }) // data: { limit: 20, type: "track" }
 */
export const ProfileEventsQuery = z
  .object({
    limit,
    cursor: z
      .string()
      .refine((cursor) => cursor !== "", "cursor is empty: pass cursor.next from the previous page")
      .optional()
      .meta({ description: "`cursor.next` of the previous page." }),
    // Any name the collector stores can be asked for: the same cap as a track call's `event`.
    event: z
      .string()
      .min(1, { error: "event is empty: pass an event name such as Order Completed" })
      .max(MAX_EVENT_NAME_LENGTH, { error: `event is longer than ${MAX_EVENT_NAME_LENGTH} characters` })
      .optional()
      .meta({ description: "Only track events with this name." }),
    type: z
      .enum(MESSAGE_TYPES, {
        error: (issue) => `type must be one of ${MESSAGE_TYPES.join(", ")}, got ${quoted(issue.input)}`,
      })
      .optional()
      .meta({ description: "Only messages of this type." }),
  })
  .meta({ id: "ProfileEventsQuery", description: "Filters and paging of a profile's events." });
export type ProfileEventsQuery = z.infer<typeof ProfileEventsQuery>;
