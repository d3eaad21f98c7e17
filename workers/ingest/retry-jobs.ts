/**
 * Work the collector could not finish when a dependency failed, as ingest-retry queue messages.
 * Every job is idempotent: messages carry their messageIds (a replay is deduplicated by the profile)
 * and a merge fold can run any number of times.
 */
import type { AcceptedMessage, Identifier } from "@tessera/protocol";
import { sendInBatches } from "../shared/send-in-batches";

export type SeenIdentifier = Identifier & { firstSeen: number };

export type IngestJob =
  /** Identity was not resolved (D1 failed): replay the whole pipeline. */
  | { kind: "resolve"; workspaceId: string; messages: AcceptedMessage[] }
  /** Identity was resolved; only the write into the profile's Durable Object failed. */
  | {
      kind: "deliver";
      workspaceId: string;
      profileId: string;
      messages: AcceptedMessage[];
      identifiers: SeenIdentifier[];
    }
  /** The graph merged `from` into `into`, but folding `from`'s Durable Object failed. */
  | { kind: "merge"; workspaceId: string; from: string; into: string };

/** Below Queues' 128 KB per message, with room for metadata and the structured-clone overhead. */
export const MAX_JOB_BYTES = 100_000;

/** Whether a queue body is a job this version understands (bodies outlive deploys). */
export function isIngestJob(body: unknown): body is IngestJob {
  if (typeof body !== "object" || body === null) return false;
  const job = body as Partial<Record<string, unknown>>;
  if (typeof job.workspaceId !== "string") return false;
  if (job.kind === "merge") return typeof job.from === "string" && typeof job.into === "string";
  if (!Array.isArray(job.messages)) return false;
  if (job.kind === "resolve") return true;
  return job.kind === "deliver" && typeof job.profileId === "string" && Array.isArray(job.identifiers);
}

/** Splits jobs so each fits one queue message (a message is at most 32 KB, so every chunk holds at least one). */
export function splitJobs(jobs: IngestJob[]): IngestJob[] {
  const out: IngestJob[] = [];
  for (const job of jobs) {
    if (job.kind === "merge") {
      out.push(job);
      continue;
    }
    const base = JSON.stringify({ ...job, messages: [] }).length;
    let chunk: AcceptedMessage[] = [];
    let bytes = base;
    for (const message of job.messages) {
      // UTF-16 length × 3 would be the worst case; JSON text is mostly ASCII, and the margin above absorbs the rest.
      const size = JSON.stringify(message).length + 1;
      if (chunk.length > 0 && bytes + size > MAX_JOB_BYTES) {
        out.push({ ...job, messages: chunk });
        chunk = [];
        bytes = base;
      }
      chunk.push(message);
      bytes += size;
    }
    if (chunk.length > 0) out.push({ ...job, messages: chunk });
  }
  return out;
}

/**
 * Puts jobs on the ingest retry queue, in as few `sendBatch` calls as the limits allow.
 * Throws when the queue refuses them: the caller must then not acknowledge the request.
 */
export async function enqueueJobs(queue: Pick<Queue, "sendBatch">, jobs: IngestJob[], delaySeconds = 0): Promise<void> {
  await sendInBatches(queue, splitJobs(jobs), { delaySeconds });
}
