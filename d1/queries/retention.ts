/**
 * How long D1 keeps what operations look back at: the destinations' sync log, and dead letters once replayed.
 *
 * D1 is one database for every workspace's identity graph, and a record that only grows would one day fill it (10 GB
 * on Cloudflare), stopping every workspace's ingestion with it: the sync log takes a row per contact per audience
 * change — an audience of a million members synced to three vendors is three million rows, ~1 GB with its indexes —
 * and a replayed dead letter keeps its messages (personal data) whole. Pending dead letters are work an operator has
 * not done yet: they stay until replayed.
 */
import { OPERATIONS_RETENTION_DAYS } from "@tessera/protocol";
import { inArray, lt, sql } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { orm } from "../client";
import { idempotentRequests, ingestDeadLetters, syncDeadLetters, syncLog } from "../schema";

/** Sync log entries, and dead letters after their replay, are kept this long. */
export const OPERATIONS_RETENTION_MS = OPERATIONS_RETENTION_DAYS * 24 * 60 * 60 * 1000;

/**
 * Rows one prune deletes from each record at most: the cron prunes every minute, so a backlog goes at ~7 million
 * rows a day, while each write stays short (it holds D1's one writer, which identity resolution waits on).
 */
export const PRUNE_LIMIT = 5_000;

/**
 * The stored answers of `Idempotency-Key` calls are kept this long: a client resends a call within seconds or minutes,
 * never a day later (Stripe keeps them as long).
 */
export const IDEMPOTENCY_RETENTION_MS = 24 * 60 * 60 * 1000;

/** What one prune deleted. */
export interface Pruned {
  syncLog: number;
  ingestDeadLetters: number;
  syncDeadLetters: number;
  idempotentRequests: number;
}

/**
 * Deletes, oldest first and at most `limit` of each, the sync log entries older than the retention, the dead
 * letters replayed before it, and the `Idempotency-Key` answers older than a day. Each is found by an index on its
 * time, so a prune reads what it deletes.
 */
export async function pruneExpiredRecords(db: D1Database, now: number, limit = PRUNE_LIMIT): Promise<Pruned> {
  const d = orm(db);
  const cutoff = now - OPERATIONS_RETENTION_MS;
  const expired = <T extends typeof syncLog | typeof ingestDeadLetters | typeof syncDeadLetters>(
    table: T,
    time: SQLiteColumn,
  ) =>
    d
      .delete(table)
      .where(
        inArray(table.id, d.select({ id: table.id }).from(table).where(lt(time, cutoff)).orderBy(time).limit(limit)),
      )
      .returning({ id: table.id });
  // Keyed by workspace and key, not an id: SQLite's rowid names its rows.
  const rowid = sql`rowid`;
  const [log, ingest, sync, idempotent] = await d.batch([
    expired(syncLog, syncLog.at),
    expired(ingestDeadLetters, ingestDeadLetters.replayedAt),
    expired(syncDeadLetters, syncDeadLetters.replayedAt),
    d
      .delete(idempotentRequests)
      .where(
        inArray(
          rowid,
          d
            .select({ rowid })
            .from(idempotentRequests)
            .where(lt(idempotentRequests.startedAt, now - IDEMPOTENCY_RETENTION_MS))
            .orderBy(idempotentRequests.startedAt)
            .limit(limit),
        ),
      )
      .returning({ key: idempotentRequests.key }),
  ]);
  return {
    syncLog: log.length,
    ingestDeadLetters: ingest.length,
    syncDeadLetters: sync.length,
    idempotentRequests: idempotent.length,
  };
}
