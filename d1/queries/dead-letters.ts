/**
 * Ingest dead letters (DESIGN §12): accepted work that failed every retry, recorded by the dead-letter consumer and
 * listed and replayed by the operations API. A workspace's secret key sees its own; the admin token every workspace's.
 */
import { and, count, desc, eq, inArray, isNotNull, isNull, lt, type SQL, sql } from "drizzle-orm";
import { inJsonList, orm } from "../client";
import { ingestDeadLetters } from "../schema";

export type IngestDeadLetterRow = typeof ingestDeadLetters.$inferSelect;
export type NewIngestDeadLetter = Omit<typeof ingestDeadLetters.$inferInsert, "id" | "replayedAt">;

/** Whose dead letters: one workspace's, or (`undefined`, the admin token) every workspace's. */
export interface DeadLetterScope {
  workspaceId?: string;
}

export type DeadLetterStatus = "pending" | "replayed" | "all";

function scoped(scope: DeadLetterScope, ...more: Array<SQL | undefined>): SQL | undefined {
  return and(
    scope.workspaceId === undefined ? undefined : eq(ingestDeadLetters.workspaceId, scope.workspaceId),
    ...more,
  );
}

const byStatus = (status: DeadLetterStatus) =>
  status === "pending"
    ? isNull(ingestDeadLetters.replayedAt)
    : status === "replayed"
      ? isNotNull(ingestDeadLetters.replayedAt)
      : undefined;

/**
 * Records one dead-lettered queue message. A redelivery of the same queue message changes nothing (its id is unique),
 * so the consumer may ack only after this returned and still never record a job twice.
 *
 * @example await recordIngestDeadLetter(env.DB, { workspaceId, queueMessageId: msg.id, jobs: "[…]", … });
 */
export async function recordIngestDeadLetter(db: D1Database, row: NewIngestDeadLetter): Promise<void> {
  await orm(db).insert(ingestDeadLetters).values(row).onConflictDoNothing({ target: ingestDeadLetters.queueMessageId });
}

/** One page, newest first, before id `beforeId`: `limit + 1` rows are read so the caller knows whether more follow. */
export function listIngestDeadLetters(
  db: D1Database,
  scope: DeadLetterScope,
  page: { status: DeadLetterStatus; beforeId?: number; limit: number },
): Promise<IngestDeadLetterRow[]> {
  return orm(db)
    .select()
    .from(ingestDeadLetters)
    .where(
      scoped(
        scope,
        byStatus(page.status),
        page.beforeId === undefined ? undefined : lt(ingestDeadLetters.id, page.beforeId),
      ),
    )
    .orderBy(desc(ingestDeadLetters.id))
    .limit(page.limit + 1);
}

/**
 * Pending dead letters to replay, oldest first: the ones named by `ids`, or the `limit` tried the fewest times (oldest
 * first among those). A dead letter that fails again counts one more attempt, so the next call without `ids` reaches
 * the ones after it instead of failing the same oldest ones forever (unreadable bodies never complete).
 */
export function pendingDeadLetters(
  db: D1Database,
  scope: DeadLetterScope,
  pick: { ids?: readonly number[]; limit: number },
): Promise<IngestDeadLetterRow[]> {
  const d = orm(db);
  const pending = scoped(scope, isNull(ingestDeadLetters.replayedAt));
  const picked =
    pick.ids === undefined
      ? inArray(
          ingestDeadLetters.id,
          d
            .select({ id: ingestDeadLetters.id })
            .from(ingestDeadLetters)
            .where(pending)
            .orderBy(ingestDeadLetters.attempts, ingestDeadLetters.id)
            .limit(pick.limit),
        )
      : inJsonList(ingestDeadLetters.id, pick.ids);
  return d.select().from(ingestDeadLetters).where(and(pending, picked)).orderBy(ingestDeadLetters.id).limit(pick.limit);
}

/** One dead letter as it stands, if it is still pending. */
export function findPendingDeadLetter(db: D1Database, id: number): Promise<IngestDeadLetterRow | undefined> {
  return orm(db)
    .select()
    .from(ingestDeadLetters)
    .where(and(eq(ingestDeadLetters.id, id), isNull(ingestDeadLetters.replayedAt)))
    .get();
}

/** How many dead letters in scope still wait for a replay. */
export async function countPendingDeadLetters(db: D1Database, scope: DeadLetterScope): Promise<number> {
  const row = await orm(db)
    .select({ n: count() })
    .from(ingestDeadLetters)
    .where(scoped(scope, isNull(ingestDeadLetters.replayedAt)))
    .get();
  return row?.n ?? 0;
}

/** The dead letter's work is stored: it leaves the pending list (kept, marked, as the record of what happened). */
export async function markIngestDeadLetterReplayed(db: D1Database, id: number, at: number): Promise<void> {
  await orm(db)
    .update(ingestDeadLetters)
    .set({ replayedAt: at })
    .where(and(eq(ingestDeadLetters.id, id), isNull(ingestDeadLetters.replayedAt)));
}

/**
 * A replay failed again: the row keeps what is still left to do and the new reason, if its jobs are still `read` (the
 * ones the replay ran). A GDPR erase may have taken a person's work out of them meanwhile, and writing back what the
 * replay read would bring it back. Returns whether the row was written.
 */
export async function recordReplayFailure(
  db: D1Database,
  id: number,
  read: string,
  left: Pick<IngestDeadLetterRow, "jobs" | "messageCount" | "error">,
): Promise<boolean> {
  const result = await orm(db)
    .update(ingestDeadLetters)
    .set({
      jobs: left.jobs,
      messageCount: left.messageCount,
      error: left.error,
      attempts: sql`${ingestDeadLetters.attempts} + 1`,
    })
    .where(and(eq(ingestDeadLetters.id, id), isNull(ingestDeadLetters.replayedAt), eq(ingestDeadLetters.jobs, read)))
    .run();
  return result.meta.changes > 0;
}

/**
 * One page of a workspace's ingest dead letters, pending and replayed, by id: a GDPR erase reads them all to take
 * the person's messages out. A workspace's dead letters are its failures, and an erase is rare: read by the
 * workspace's index, not by content (no index could find a person inside the jobs' JSON). A page holds at most
 * `rows` rows and stops at the first row that starts past `bytes` of jobs (a row holds up to a queue message, 128 KB):
 * erasures run side by side in one isolate of 128 MB, and 200 rows of large jobs were 25 MB each. Raw: a running
 * sum of each row's bytes (`octet_length`) over the page.
 */
export async function ingestDeadLettersAfter(
  db: D1Database,
  workspaceId: string,
  afterId: number,
  page: { rows: number; bytes: number },
): Promise<Array<{ id: number; jobs: string }>> {
  const { results } = await db
    .prepare(
      `WITH sized AS (
         SELECT id, sum(size) OVER (ORDER BY id) - size AS before
         FROM (SELECT id, octet_length(jobs) AS size FROM ingest_dead_letters
               WHERE workspace_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3))
       SELECT d.id, d.jobs FROM sized CROSS JOIN ingest_dead_letters AS d ON d.id = sized.id
       WHERE sized.before < ?4 ORDER BY d.id`,
    )
    .bind(workspaceId, afterId, page.rows, page.bytes)
    .all<{ id: number; jobs: string }>();
  return results;
}

/**
 * Dead letters with what a GDPR erase left of their jobs; a row with none left (`jobs` null) is deleted. Two
 * statements whatever the number of rows: an erase shares its invocation's 1,000 D1 queries with the jobs the cron
 * resumes beside it.
 */
export async function rewriteIngestDeadLetters(
  db: D1Database,
  rows: ReadonlyArray<{ id: number; jobs: string | null; messageCount: number }>,
): Promise<void> {
  const gone = rows.filter((r) => r.jobs === null).map((r) => r.id);
  const kept = rows.filter((r) => r.jobs !== null).map((r) => [r.id, r.jobs, r.messageCount]);
  const statements: D1PreparedStatement[] = [];
  if (gone.length > 0)
    statements.push(
      db
        .prepare("DELETE FROM ingest_dead_letters WHERE id IN (SELECT value FROM json_each(?1))")
        .bind(JSON.stringify(gone)),
    );
  if (kept.length > 0)
    statements.push(
      db
        .prepare(
          `UPDATE ingest_dead_letters SET jobs = json_extract(k.value, '$[1]'), message_count = json_extract(k.value, '$[2]')
           FROM json_each(?1) AS k WHERE ingest_dead_letters.id = json_extract(k.value, '$[0]')`,
        )
        .bind(JSON.stringify(kept)),
    );
  if (statements.length > 0) await db.batch(statements);
}
