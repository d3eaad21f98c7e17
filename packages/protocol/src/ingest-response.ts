/** The collector's answer to every ingestion call (DESIGN §3). */
import { z } from "zod";

/** A message the collector refused, by its position in the batch, with the reason. */
export const RejectedMessage = z
  .object({ index: z.int().nonnegative(), messageId: z.string().optional(), error: z.string() })
  .meta({ id: "RejectedMessage", description: "A message that was not stored, and why." });
export type RejectedMessage = z.infer<typeof RejectedMessage>;

/** @example { success: true, accepted: 2, rejected: [{ index: 1, error: "batch[1]: track needs an event name …" }] } */
export const IngestResponse = z
  .object({ success: z.literal(true), accepted: z.int().nonnegative(), rejected: z.array(RejectedMessage) })
  .meta({
    id: "IngestResponse",
    description: "Valid messages are durable once this is sent; invalid ones are listed with their reason.",
  });
export type IngestResponse = z.infer<typeof IngestResponse>;
