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
import type { SkippedItem } from "./inbound/read";
import type { Engagement } from "./plugin";

/** How many skipped items the report names (all are counted), as ingestion names the first five problems. */
const SKIPPED_REASONS_SHOWN = 5;

export interface EngagementReport {
  stored: number;
  /** Engagements naming nobody Tessera can find (no email, unknown vendor id) or keeps (an erased person). */
  unmatched: number;
  /** Engagements an earlier delivery already stored (a redelivered webhook, a re-polled activity); left out at 0. */
  duplicates?: number;
  /** Items of the vendor's batch left out as unreadable (a null, an impossible time); left out at 0. */
  skipped?: number;
  /** The first {@link SKIPPED_REASONS_SHOWN} of them: their place in the batch and why; with `skipped`. */
  skipped_reasons?: SkippedItem[];
}

export interface StoreOptions {
  /** Items the caller left out of `engagements` as unreadable, to be counted in the report. */
  skipped?: readonly SkippedItem[];
  /**
   * When the pipeline is out of room for more profiles (`IngestReport.overloaded`): `"queue"` (the default) queues
   * what it could not store and reports it stored, for a sender that would not send it again; `"push-back"`, for one
   * that will (a vendor retrying a 429, the next poll from an unmoved cursor), queues only merge folds (a resend cannot
   * redo them: the graph already joined the profiles) and answers `overloaded`, so the backlog stays with the sender.
   */
  onOverload?: "queue" | "push-back";
}

/** The report, or (`onOverload: "push-back"` only) that nothing may be acknowledged: the sender must send it again. */
export type StoreResult = { ok: true; report: EngagementReport } | { ok: false; reason: "overloaded" };

/**
 * Stores `engagements` reported for destination `destination` of workspace `workspaceId`. Throws only when what
 * could not be stored could not be queued for retry either (the caller must then not acknowledge the vendor).
 *
 * @example
 * const result = await storeEngagements(env, destination, read.engagements, { skipped: read.skipped });
 * if (result.ok) return c.json(result.report); // { stored: 3, unmatched: 0, skipped: 1, skipped_reasons: [...] }
 */
export async function storeEngagements(
  env: Env,
  destination: { id: string; workspaceId: string; type: string },
  engagements: Engagement[],
  { skipped = [], onOverload = "queue" }: StoreOptions = {},
): Promise<StoreResult> {
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
      // The email is how identity resolution finds (or starts) the profile: an identifier, not a trait — a vendor's
      // report of an open of a mail sent to a replaced address must not set the person's email back to it.
      context: {
        externalIds: [{ id: email, type: "email", collection: "users", encoding: "none" }],
        library: { name: `tessera-${destination.type}` },
      },
      properties: { ...e.properties, destination: destination.id, destination_type: destination.type },
    } as AcceptedMessage;
    items.push({ index: items.length, message });
  }
  const reported = (counts: EngagementReport): StoreResult => {
    const report = { ...counts };
    if (skipped.length > 0) {
      report.skipped = skipped.length;
      report.skipped_reasons = skipped.slice(0, SKIPPED_REASONS_SHOWN);
    }
    return { ok: true, report };
  };
  if (items.length === 0) return reported({ stored: 0, unmatched });
  const report = await ingestMessages(ingestDepsFor(env), destination.workspaceId, items);
  if (report.overloaded && onOverload === "push-back") {
    const merges = report.failed.filter((job) => job.kind === "merge");
    if (merges.length > 0) await enqueueJobs(env.INGEST_RETRY_QUEUE, merges);
    return { ok: false, reason: "overloaded" };
  }
  if (report.failed.length > 0) await enqueueJobs(env.INGEST_RETRY_QUEUE, report.failed);
  // What failed was queued for retry, so it counts as stored (durable), as ingestion's 200 does.
  // (Not below 0: a profile call retried after its answer was lost counts the first call's messages again.)
  const { duplicates } = report;
  // An erased person's engagement is dropped (their identifiers are suppressed): nobody Tessera keeps, so unmatched.
  const dropped = report.rejected.length + report.erased.length;
  const stored = Math.max(0, items.length - dropped - duplicates);
  const counts = { stored, unmatched: unmatched + dropped };
  return reported(duplicates > 0 ? { ...counts, duplicates } : counts);
}
