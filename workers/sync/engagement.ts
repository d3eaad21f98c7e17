/**
 * Engagement back into the profile (DESIGN §7): each open, click, bounce or unsubscribe a vendor reports becomes a
 * track event (Segment email-spec name) on the profile found by email, or by the vendor id Tessera recorded when it
 * synced the contact. The message id derives from the vendor's event id, so a redelivered webhook or a re-polled
 * activity is stored once. It goes through the same pipeline as any event, so it re-evaluates the profile's
 * audiences: the loop closes.
 */
import type { AcceptedMessage } from "@tessera/protocol";
import { sha256Hex } from "../../d1/hash";
import { emailForVendorId } from "../../d1/queries/sync-records";
import { type IndexedMessage, ingestMessages } from "../ingest/pipeline";
import { ingestDepsFor } from "../ingest/pipeline-deps";
import { enqueueJobs } from "../ingest/retry-jobs";
import type { Engagement } from "./plugin";

export interface EngagementReport {
  stored: number;
  /** Engagements naming nobody Tessera can find (no email, unknown vendor id). */
  unmatched: number;
  /** Engagements an earlier delivery already stored (a redelivered webhook, a re-polled activity); left out at 0. */
  duplicates?: number;
}

/**
 * Stores `engagements` reported for destination `destination` of workspace `workspaceId`. Throws only when what
 * could not be stored could not be queued for retry either (the caller must then not acknowledge the vendor).
 */
export async function storeEngagements(
  env: Env,
  destination: { id: string; workspaceId: string; type: string },
  engagements: Engagement[],
): Promise<EngagementReport> {
  const receivedAt = new Date().toISOString();
  const items: IndexedMessage[] = [];
  let unmatched = 0;
  for (const e of engagements) {
    const email =
      e.email?.trim().toLowerCase() ??
      (e.vendorId ? await emailForVendorId(env.DB, destination.id, e.vendorId) : undefined);
    if (!email) {
      unmatched++;
      continue;
    }
    const message = {
      type: "track",
      event: e.event,
      messageId: `eng_${(await sha256Hex(`${destination.id}\u0000${e.vendorEventId}`)).slice(0, 40)}`,
      timestamp: e.occurredAt,
      receivedAt,
      // The email is how identity resolution finds (or starts) the profile.
      context: { traits: { email }, library: { name: `tessera-${destination.type}` } },
      properties: { ...e.properties, destination: destination.id, destination_type: destination.type },
    } as AcceptedMessage;
    items.push({ index: items.length, message });
  }
  if (items.length === 0) return { stored: 0, unmatched };
  const report = await ingestMessages(ingestDepsFor(env), destination.workspaceId, items);
  if (report.failed.length > 0) await enqueueJobs(env.INGEST_RETRY_QUEUE, report.failed);
  // What failed was queued for retry, so it counts as stored (durable), as ingestion's 200 does.
  // (Not below 0: a profile call retried after its answer was lost counts the first call's messages again.)
  const { duplicates } = report;
  const stored = Math.max(0, items.length - report.rejected.length - duplicates);
  const counts = { stored, unmatched: unmatched + report.rejected.length };
  return duplicates > 0 ? { ...counts, duplicates } : counts;
}
