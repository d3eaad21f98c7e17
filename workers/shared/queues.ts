/**
 * Queue names as wrangler.toml declares them: the `queue()` handler dispatches on them, so they live once here.
 * Keep in step with the `[[queues.*]]` entries of wrangler.toml.
 */
export const QUEUE = {
  /** Accepted messages whose Durable Object or D1 write failed, replayed with backoff. */
  ingestRetry: "tessera-ingest-retry",
  /** What failed every retry; parked and tried again, never dropped. */
  ingestDeadLetter: "tessera-ingest-dlq",
  /** Membership changes and deletions for destinations (consumed by the sync engine). */
  sync: "tessera-sync",
  /** What the sync consumer could not route in ten tries; consumed the same way, with more patience. */
  syncDeadLetter: "tessera-sync-dlq",
  /** Re-evaluation of every live profile after a definition changed: plan and page messages. */
  backfill: "tessera-backfill",
} as const;
