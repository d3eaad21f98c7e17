/**
 * Consumers of the ingest retry queue and its dead-letter queue. Accepted messages whose Durable Object or D1 write
 * failed are replayed with backoff; what fails every retry becomes a row in D1 (`ingest_dead_letters`) for an
 * operator to see and replay. Nothing is ever acknowledged before it is stored or recorded.
 */

import pLimit from "p-limit";
import { recordIngestDeadLetter } from "../../d1/queries/dead-letters";
import { attemptJobs, deadLetterRow, withoutErasedPeople } from "./dead-letters";
import type { IngestDeps } from "./pipeline";
import { ingestDepsFor } from "./pipeline-deps";
import { earlierAttemptsOf, enqueueJobs, jobsOf } from "./retry-jobs";

/** Exponential backoff per attempt (10 s, 20 s, … capped at an hour): an outage gets hours to heal. */
export function backoffSeconds(attempts: number): number {
  return Math.min(3600, 5 * 2 ** Math.max(1, attempts));
}

/**
 * Jobs in flight in one consumer invocation, across its messages: a message packs up to a few hundred jobs, and a
 * batch of them at once was the burst that failed the local runtime's objects again (bench/README, import run E).
 */
const JOBS_IN_FLIGHT = 16;

/**
 * `tessera-ingest-retry`: runs each message's jobs (a pack, or one job queued before packs). A message whose jobs
 * all complete is acked. When some complete, what is left is sent again as a new message with backoff and the
 * original acked, so completed work is not redone; when none complete (an outage), the message alone is retried
 * with backoff (a throw would retry the whole batch), and after `max_retries` the queue moves it to the DLQ. Each
 * re-send follows a completed job, so a pack cannot circle forever. The jobs that failed again are one log line for
 * the batch, with the first one's reason: an outage fails them all at once, and a line with a stack per job is
 * noise (and `wrangler dev` source-maps every logged stack, on the machine's CPU).
 */
export async function handleIngestRetry(
  batch: MessageBatch<unknown>,
  env: Env,
  deps: IngestDeps = ingestDepsFor(env),
): Promise<void> {
  const slot = pLimit(JOBS_IN_FLIGHT);
  const failures: Array<{ jobs: number; reason: string }> = [];
  let total = 0;
  await Promise.all(
    batch.messages.map(async (msg) => {
      const attempts = earlierAttemptsOf(msg.body) + msg.attempts;
      const backoff = { delaySeconds: backoffSeconds(attempts) };
      const jobs = jobsOf(msg.body);
      if (jobs === null) {
        // Not ours to interpret; it ends as a dead letter for a human instead of being dropped here.
        console.error("ingest retry: unreadable job", msg.id);
        return msg.retry(backoff);
      }
      total += jobs.length;
      const { left, reason, completed } = await attemptJobs(deps, jobs, { quiet: true, slot });
      if (left.length === 0) return msg.ack();
      failures.push({ jobs: jobs.length - completed, reason: reason ?? "no reason reported" });
      if (completed > 0) {
        try {
          await enqueueJobs(env.INGEST_RETRY_QUEUE, left, { ...backoff, earlierAttempts: attempts });
          return msg.ack();
        } catch (err) {
          // The whole message is retried instead: its completed jobs run again, which is idempotent.
          console.error("ingest retry: sending what is left failed; retrying the whole message", err);
        }
      }
      msg.retry(backoff);
    }),
  );
  const [first] = failures;
  if (first === undefined) return;
  const failed = failures.reduce((n, f) => n + f.jobs, 0);
  const jobs = `${failed} of ${total} ${total === 1 ? "job" : "jobs"}`;
  console.error(`ingest retry: ${jobs} failed again; retrying with backoff (first: ${first.reason})`);
}

/**
 * `tessera-ingest-dlq`: messages whose jobs failed every retry. Each job is tried once more (the outage may be over,
 * and the attempt names the reason); what still fails, less the work of people erased meanwhile, is one row of
 * `ingest_dead_letters` per message, and the message is acked only once written. When D1 refuses the row the
 * message is retried with backoff, so it is kept for as long as the queue keeps retrying.
 */
export async function handleIngestDeadLetter(
  batch: MessageBatch<unknown>,
  env: Env,
  deps: IngestDeps = ingestDepsFor(env),
): Promise<void> {
  const slot = pLimit(JOBS_IN_FLIGHT);
  await Promise.all(
    batch.messages.map(async (msg) => {
      const jobs = jobsOf(msg.body);
      const attempt = jobs === null ? null : await attemptJobs(deps, jobs, { slot });
      if (attempt !== null && attempt.left.length === 0) return msg.ack();
      try {
        if (attempt !== null) {
          const ws = attempt.left[0].workspaceId;
          attempt.left = await withoutErasedPeople(env.DB, ws, attempt.left, await deps.loadRules(ws));
          if (attempt.left.length === 0) return msg.ack();
        }
        const row = deadLetterRow(msg.body, attempt);
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
