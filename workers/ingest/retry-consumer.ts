/**
 * Consumers of the ingest retry queue and its dead-letter queue. Accepted messages whose Durable Object
 * or D1 write failed are replayed with backoff; nothing is ever acknowledged before it is stored.
 */
import { type IngestDeps, runJob } from "./pipeline";
import { ingestDepsFor } from "./pipeline-deps";
import { enqueueJobs, type IngestJob, isIngestJob } from "./retry-jobs";

/** Exponential backoff per attempt (10 s, 20 s, … capped at an hour): an outage gets hours to heal. */
export function backoffSeconds(attempts: number): number {
  return Math.min(3600, 5 * 2 ** Math.max(1, attempts));
}

/** How long a parked job waits before the dead-letter consumer tries it again. */
const PARK_SECONDS = 3600;

/**
 * `tessera-ingest-retry`: runs each job; acks it when done, otherwise retries that message alone with
 * backoff (a throw would retry the whole batch). After `max_retries` the queue moves it to the DLQ.
 */
export async function handleIngestRetry(
  batch: MessageBatch<unknown>,
  env: Env,
  deps: IngestDeps = ingestDepsFor(env),
): Promise<void> {
  await Promise.all(
    batch.messages.map(async (msg) => {
      if (!isIngestJob(msg.body)) {
        // Not ours to interpret; the DLQ keeps it for a human instead of it being dropped here.
        console.error("ingest retry: unreadable job", msg.id);
        return msg.retry({ delaySeconds: backoffSeconds(msg.attempts) });
      }
      const left = await runSafely(deps, msg.body);
      if (left.length === 0) msg.ack();
      else msg.retry({ delaySeconds: backoffSeconds(msg.attempts) });
    }),
  );
}

/**
 * `tessera-ingest-dlq`: jobs that failed every retry. Each is tried once more (the outage may be over);
 * one that still fails is parked by re-sending it to this queue with a delay and only then acked, so it
 * is never dropped — the DLQ itself has no dead-letter queue, and its own retries would end in discard.
 * Every park is logged with the job, for an operator to see and replay.
 */
export async function handleIngestDeadLetter(
  batch: MessageBatch<unknown>,
  env: Env,
  deps: IngestDeps = ingestDepsFor(env),
  dlq: Pick<Queue, "sendBatch"> = env.INGEST_DLQ,
): Promise<void> {
  await Promise.all(
    batch.messages.map(async (msg) => {
      const body = msg.body;
      const left = isIngestJob(body) ? await runSafely(deps, body) : null;
      if (left !== null && left.length === 0) return msg.ack();
      console.error("ingest dead letter: parking job", JSON.stringify(body).slice(0, 2000));
      try {
        if (left === null) await dlq.sendBatch([{ body, delaySeconds: PARK_SECONDS }]);
        else await enqueueJobs(dlq, left, PARK_SECONDS);
        msg.ack();
      } catch (err) {
        console.error("ingest dead letter: parking failed; retrying", err);
        msg.retry({ delaySeconds: PARK_SECONDS });
      }
    }),
  );
}

/** Jobs report dependency failures as values; anything thrown is a bug, and the job is kept for retry. */
async function runSafely(deps: IngestDeps, job: IngestJob): Promise<IngestJob[]> {
  try {
    return await runJob(deps, job);
  } catch (err) {
    console.error("ingest job threw", err);
    return [job];
  }
}
