/**
 * Consumers of the ingest retry queue and its dead-letter queue. Accepted messages whose Durable Object or D1 write
 * failed are replayed with backoff; what fails every retry becomes a row in D1 (`ingest_dead_letters`) for an
 * operator to see and replay. Nothing is ever acknowledged before it is stored or recorded.
 */
import { recordIngestDeadLetter } from "../../d1/queries/dead-letters";
import { attemptJob, deadLetterRow } from "./dead-letters";
import type { IngestDeps } from "./pipeline";
import { ingestDepsFor } from "./pipeline-deps";
import { isIngestJob } from "./retry-jobs";

/** Exponential backoff per attempt (10 s, 20 s, … capped at an hour): an outage gets hours to heal. */
export function backoffSeconds(attempts: number): number {
  return Math.min(3600, 5 * 2 ** Math.max(1, attempts));
}

/**
 * `tessera-ingest-retry`: runs each job; acks it when done, otherwise retries that message alone with
 * backoff (a throw would retry the whole batch). After `max_retries` the queue moves it to the DLQ. The jobs that
 * failed again are one log line for the batch, with the first one's reason: an outage fails them all at once, and a
 * line with a stack per job is noise (and `wrangler dev` source-maps every logged stack, on the machine's CPU).
 */
export async function handleIngestRetry(
  batch: MessageBatch<unknown>,
  env: Env,
  deps: IngestDeps = ingestDepsFor(env),
): Promise<void> {
  const reasons: string[] = [];
  await Promise.all(
    batch.messages.map(async (msg) => {
      if (!isIngestJob(msg.body)) {
        // Not ours to interpret; it ends as a dead letter for a human instead of being dropped here.
        console.error("ingest retry: unreadable job", msg.id);
        return msg.retry({ delaySeconds: backoffSeconds(msg.attempts) });
      }
      const { left, reason } = await attemptJob(deps, msg.body, { quiet: true });
      if (left.length === 0) return msg.ack();
      reasons.push(reason ?? "no reason reported");
      msg.retry({ delaySeconds: backoffSeconds(msg.attempts) });
    }),
  );
  const [first] = reasons;
  if (first === undefined) return;
  const jobs = `${reasons.length} of ${batch.messages.length} ${batch.messages.length === 1 ? "job" : "jobs"}`;
  console.error(`ingest retry: ${jobs} failed again; retrying with backoff (first: ${first})`);
}

/**
 * `tessera-ingest-dlq`: jobs that failed every retry. Each is tried once more (the outage may be over, and the
 * attempt names the reason); what still fails is written to `ingest_dead_letters` and acked only once written. When
 * D1 refuses the row the message is retried with backoff, so it is kept for as long as the queue keeps retrying.
 */
export async function handleIngestDeadLetter(
  batch: MessageBatch<unknown>,
  env: Env,
  deps: IngestDeps = ingestDepsFor(env),
): Promise<void> {
  await Promise.all(
    batch.messages.map(async (msg) => {
      const attempt = isIngestJob(msg.body) ? await attemptJob(deps, msg.body) : null;
      if (attempt !== null && attempt.left.length === 0) return msg.ack();
      const row = deadLetterRow(msg.body, attempt);
      try {
        await recordIngestDeadLetter(env.DB, {
          ...row,
          queueMessageId: msg.id,
          attempts: msg.attempts,
          createdAt: Date.now(),
        });
        console.error(`ingest dead letter recorded (${row.workspaceId ?? "no workspace"}): ${row.error}`);
        msg.ack();
      } catch (err) {
        console.error("ingest dead letter: recording it failed; retrying", err);
        msg.retry({ delaySeconds: backoffSeconds(msg.attempts) });
      }
    }),
  );
}
