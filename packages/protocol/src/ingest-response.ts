/** The collector's answer to every ingestion call (DESIGN §3). */
import { z } from "zod";

/** A message the collector refused, by its position in the batch, with the reason. */
export const RejectedMessage = z
  .object({
    index: z.int().nonnegative(),
    messageId: z.string().meta({ description: "The message's own `messageId`, or one generated when it had none." }),
    error: z.string(),
  })
  .meta({ id: "RejectedMessage", description: "A message that was not stored, and why." });
export type RejectedMessage = z.infer<typeof RejectedMessage>;

/**
 * `accepted` counts every valid message the collector holds durably, those it already had included: a Segment
 * client's retry of a batch whose answer it lost is a success, not a loss. `duplicates` (only when there are any)
 * says how many of the accepted ones were already stored under their messageId and were dropped, their content not
 * stored again: an importer re-sending a changed row under the same id learns that its change was not taken.
 *
 * @example { success: true, accepted: 2, duplicates: 1, rejected: [{ index: 2, messageId: "m3", error: "batch[2]: track needs an event name …" }] }
 */
export const IngestResponse = z
  .object({
    success: z.literal(true),
    accepted: z.int().nonnegative(),
    duplicates: z
      .int()
      .positive()
      .optional()
      .meta({
        description:
          "Messages whose messageId this workspace already stored: dropped, their content not stored again. " +
          "Counted within `accepted` (a retry is a success); present only when there are any. Messages whose " +
          "storing was queued (a dependency failed) are not counted.",
      }),
    rejected: z.array(RejectedMessage),
  })
  .meta({
    id: "IngestResponse",
    description: "Valid messages are durable once this is sent; invalid ones are listed with their reason.",
  });
export type IngestResponse = z.infer<typeof IngestResponse>;
