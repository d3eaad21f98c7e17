/**
 * Work the collector could not finish when a dependency failed, as ingest-retry queue messages.
 * Every job is idempotent: messages carry their messageIds (a replay is deduplicated by the profile)
 * and a merge fold can run any number of times.
 */
import type { AcceptedMessage, Identifier } from "@tessera/protocol";
import { chunked } from "../shared/chunked";
import { sendInBatches } from "../shared/send-in-batches";
import { jsonBytes } from "../shared/utf8";

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

/**
 * A pack's JSON in UTF-8 bytes, below the 128 KB per message `sendInBatches` allows (metadata included), with room
 * for the pack's envelope around a job this large and for the structured-clone overhead.
 */
export const MAX_JOB_BYTES = 100_000;

/**
 * One ingest-retry queue message: jobs of one workspace, as many as fit. `earlierAttempts`: attempts the jobs
 * had in earlier messages (the consumer re-sends what is left of a pack when part of it completed), so the
 * backoff keeps growing.
 *
 * Packed, not a message per job: a request of 250 new people whose objects all fail queued 250 messages, and an
 * import meeting the local runtime's SQLite ceiling queued ~50,000. Besides costing a queue operation each on
 * Cloudflare, that many messages exceed the 10,000 timers the local queue broker may hold (it sets one per waiting
 * message), which stalled the local retry queue for good (bench/README, import run E; workers-sdk#15670).
 */
export interface IngestJobPack {
  workspaceId: string;
  jobs: IngestJob[];
  earlierAttempts?: number;
}

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

/**
 * `items` in order, in chunks whose JSON in UTF-8 (`base` bytes of envelope, then each item's JSON and a comma) stays
 * within {@link MAX_JOB_BYTES}; an item larger than that is a chunk of its own. Bytes, as the queue counts them, not
 * `string.length`: a character of Japanese is one of those and three bytes.
 */
function chunksWithin<T>(items: T[], base: number): T[][] {
  return chunked(items, MAX_JOB_BYTES - base, (item) => jsonBytes(item) + 1);
}

/** Splits jobs so each fits one queue message (a message is at most 32 KB, so every chunk holds at least one). */
function splitJobs(jobs: IngestJob[]): IngestJob[] {
  return jobs.flatMap((job): IngestJob[] => {
    if (job.kind === "merge") return [job];
    const base = jsonBytes({ ...job, messages: [] });
    return chunksWithin(job.messages, base).map((messages) => ({ ...job, messages }));
  });
}

/**
 * Packs jobs into queue messages: grouped by workspace, in order, each pack's JSON within `MAX_JOB_BYTES` (plus the
 * pack's few bytes of its own when it holds one job of the largest size: a larger job is split first).
 */
export function packJobs(jobs: IngestJob[], earlierAttempts = 0): IngestJobPack[] {
  const byWorkspace = new Map<string, IngestJob[]>();
  for (const job of splitJobs(jobs)) {
    const list = byWorkspace.get(job.workspaceId);
    if (list) list.push(job);
    else byWorkspace.set(job.workspaceId, [job]);
  }
  const packs: IngestJobPack[] = [];
  for (const [workspaceId, list] of byWorkspace) {
    const envelope = { workspaceId, ...(earlierAttempts > 0 && { earlierAttempts }) };
    const base = jsonBytes({ ...envelope, jobs: [] });
    for (const chunk of chunksWithin(list, base)) packs.push({ ...envelope, jobs: chunk });
  }
  return packs;
}

/**
 * The jobs of an ingest-retry queue body: a pack's, or the one job of a body queued before packs (bodies outlive
 * deploys). Null when the body is neither, or a pack holds something that is not a job of its workspace.
 */
export function jobsOf(body: unknown): IngestJob[] | null {
  if (isIngestJob(body)) return [body];
  if (typeof body !== "object" || body === null) return null;
  const { workspaceId, jobs } = body as Partial<Record<keyof IngestJobPack, unknown>>;
  if (typeof workspaceId !== "string" || !Array.isArray(jobs) || jobs.length === 0) return null;
  return jobs.every((job) => isIngestJob(job) && job.workspaceId === workspaceId) ? jobs : null;
}

/** Attempts a queue body's jobs had in earlier messages (0 for a body queued by the collector). */
export function earlierAttemptsOf(body: unknown): number {
  const earlier = (body as Partial<IngestJobPack> | null)?.earlierAttempts;
  return typeof earlier === "number" && Number.isInteger(earlier) && earlier > 0 ? earlier : 0;
}

/**
 * Puts jobs on the ingest retry queue, packed, in as few `sendBatch` calls as the limits allow.
 * Throws when the queue refuses them: the caller must then not acknowledge the request.
 */
export async function enqueueJobs(
  queue: Pick<Queue, "sendBatch">,
  jobs: IngestJob[],
  { delaySeconds = 0, earlierAttempts = 0 }: { delaySeconds?: number; earlierAttempts?: number } = {},
): Promise<void> {
  await sendInBatches(queue, packJobs(jobs, earlierAttempts), { delaySeconds });
}
