import { pruneExpiredRecords } from "../d1/queries/retention";
import { app } from "./app";
import { queueUnqueuedBackfills, restartStalledBuilds } from "./audiences/backfill";
import { handleBackfill } from "./audiences/backfill-consumer";
import { resumeDeletions } from "./erase/deletion-job";
import { sweepUnfoldedMerges } from "./identity/fold-sweep";
import { handleIngestDeadLetter, handleIngestRetry } from "./ingest/retry-consumer";
import { LiveEventsDO } from "./live-events/live-events-do";
import { ProfileDO } from "./profile/profile-do";
import { QUEUE } from "./shared/queues";
import { handleSync } from "./sync/consumer";
import { pollEngagement, reconcileDestinations } from "./sync/cron";
import { DestinationDO } from "./sync/destination-do";

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    switch (batch.queue) {
      case QUEUE.ingestRetry:
        return handleIngestRetry(batch, env);
      case QUEUE.ingestDeadLetter:
        return handleIngestDeadLetter(batch, env);
      case QUEUE.backfill:
        return handleBackfill(batch, env);
      case QUEUE.sync:
      case QUEUE.syncDeadLetter:
        return handleSync(batch, env);
      default:
        console.error(`no consumer for queue ${batch.queue}; retrying`);
        batch.retryAll();
    }
  },
  async scheduled(_controller, env, ctx) {
    ctx.waitUntil(pollEngagement(env));
    ctx.waitUntil(reconcileDestinations(env));
    // GDPR erase jobs that stopped part-way (DESIGN §12): retried until every step is done.
    ctx.waitUntil(resumeDeletions(env));
    // Merges whose fold every other way to ask failed (the object unreachable, the retry queue refusing the job).
    ctx.waitUntil(sweepUnfoldedMerges(env));
    // Audience and computed-trait builds whose backfill could not be queued when they were saved, or lost its pages.
    ctx.waitUntil(queueUnqueuedBackfills(env));
    ctx.waitUntil(restartStalledBuilds(env));
    // What is kept only for a while (`retention.ts`: the sync log, replayed dead letters, Idempotency-Key answers,
    // audience leaves), a bounded chunk a minute.
    ctx.waitUntil(
      pruneExpiredRecords(env.DB, Date.now()).catch((err) =>
        console.error("pruning expired records (retention.ts) failed; the next minute tries again", err),
      ),
    );
  },
} satisfies ExportedHandler<Env>;

export { DestinationDO, LiveEventsDO, ProfileDO };
