/**
 * How long D1 keeps what operations look back at: the destinations' sync log, and dead letters once replayed; and
 * how long it remembers a profile's leave of an audience or computed trait (`member_exits`).
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
import { idempotentRequests, ingestDeadLetters, memberExits, syncDeadLetters, syncLog } from "../schema";

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

/**
 * A leave's seq is kept against a change older than it that reaches D1 after it: a copy of an outbox row that an
 * ingest request or the profile's object read before the leave was written, and writes later (`member_exits`). Such a
 * copy lives only in the memory of the invocation delivering it, for as long as that runs: minutes (queue consumers
 * and alarms stop at 15). The outbox itself sends none later: it drops rows only once D1 took them, oldest first, so
 * an entry still in it goes out before or with any leave after it, never after. A day is far past any of them.
 */
export const MEMBER_EXIT_RETENTION_MS = 24 * 60 * 60 * 1000;

/** What one prune deleted. */
export interface Pruned {
  syncLog: number;
  ingestDeadLetters: number;
  syncDeadLetters: number;
  idempotentRequests: number;
  memberExits: number;
}

/**
 * Deletes, oldest first and at most `limit` of each, the sync log entries older than the retention, the dead
 * letters replayed before it, the `Idempotency-Key` answers older than a day and the leaves D1 took more than
 * {@link MEMBER_EXIT_RETENTION_MS} ago. Each is found by an index on its time, so a prune reads what it deletes.
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
  // Keyed by several columns, not an id: SQLite's rowid names their rows.
  const rowid = sql<number>`rowid`;
  const expiredByRowid = <T extends typeof idempotentRequests | typeof memberExits>(
    table: T,
    time: SQLiteColumn,
    before: number,
  ) =>
    d
      .delete(table)
      .where(inArray(rowid, d.select({ rowid }).from(table).where(lt(time, before)).orderBy(time).limit(limit)))
      .returning({ rowid });
  const [log, ingest, sync, idempotent, exits] = await d.batch([
    expired(syncLog, syncLog.at),
    expired(ingestDeadLetters, ingestDeadLetters.replayedAt),
    expired(syncDeadLetters, syncDeadLetters.replayedAt),
    expiredByRowid(idempotentRequests, idempotentRequests.startedAt, now - IDEMPOTENCY_RETENTION_MS),
    expiredByRowid(memberExits, memberExits.exitedAt, now - MEMBER_EXIT_RETENTION_MS),
  ]);
  return {
    syncLog: log.length,
    ingestDeadLetters: ingest.length,
    syncDeadLetters: sync.length,
    idempotentRequests: idempotent.length,
    memberExits: exits.length,
  };
}
