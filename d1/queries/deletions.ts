/** GDPR erase jobs (`deletions`): recorded before anything is erased, then advanced step by step until done. */
import { and, asc, eq, gt, lte, sql } from "drizzle-orm";
import { orm } from "../client";
import { deletionDestinations, deletions, destinations, erasedProfiles } from "../schema";

export type DeletionRow = typeof deletions.$inferSelect;

/** The step columns, in the order the job runs them. */
export const STEP_COLUMNS = {
  graph: "graphAt",
  profiles: "profilesAt",
  memberships: "membershipsAt",
  dead_letters: "deadLettersAt",
  destinations: "destinationsAt",
} as const satisfies Record<string, keyof DeletionRow>;

/**
 * Records a new erase request, due for a retry at `retryAt` should its first run not finish. `named`: the identifier
 * the request named, if it named one, kept in `identifiers` until the graph step writes what it erased.
 */
export async function insertDeletion(
  db: D1Database,
  row: Pick<DeletionRow, "id" | "workspaceId" | "profileId" | "createdAt"> & {
    retryAt: number;
    named: { type: string; value: string } | null;
  },
): Promise<DeletionRow> {
  const [inserted] = await orm(db)
    .insert(deletions)
    .values({
      id: row.id,
      workspaceId: row.workspaceId,
      profileId: row.profileId,
      identifiers: row.named === null ? null : JSON.stringify([row.named]),
      status: "pending",
      nextAttemptAt: row.retryAt,
      createdAt: row.createdAt,
    })
    .returning();
  return inserted;
}

/** Deletion `id` of `workspaceId` (undefined for another workspace's). */
export async function findDeletion(db: D1Database, workspaceId: string, id: string): Promise<DeletionRow | undefined> {
  const [row] = await orm(db)
    .select()
    .from(deletions)
    .where(and(eq(deletions.id, id), eq(deletions.workspaceId, workspaceId)));
  return row;
}

/** The deletion that erased profile `profileId` of `workspaceId` (named, or merged into the one named), if any. */
export async function deletionOfProfile(
  db: D1Database,
  workspaceId: string,
  profileId: string,
): Promise<{ id: string } | undefined> {
  const [row] = await orm(db)
    .select({ id: erasedProfiles.deletionId })
    .from(erasedProfiles)
    .where(and(eq(erasedProfiles.workspaceId, workspaceId), eq(erasedProfiles.profileId, profileId)));
  return row;
}

/** Pending deletions whose retry is due at `now`, oldest due first. */
export function dueDeletions(db: D1Database, now: number, limit: number): Promise<DeletionRow[]> {
  return orm(db)
    .select()
    .from(deletions)
    .where(and(eq(deletions.status, "pending"), lte(deletions.nextAttemptAt, now)))
    .orderBy(asc(deletions.nextAttemptAt))
    .limit(limit);
}

/**
 * The graph step's record, to commit in the same transaction as the graph erase: what was erased (each profile
 * also in `erased_profiles`, by id), and the identifiers destinations need (held only until every destination has
 * deleted the person).
 */
export function recordGraphStep(
  db: D1Database,
  id: string,
  erased: { profileIds: string[]; identifiers: Array<{ type: string; value: string }> },
  at: number,
): D1PreparedStatement[] {
  const query = orm(db)
    .update(deletions)
    .set({
      profileIds: JSON.stringify(erased.profileIds),
      identifiers: JSON.stringify(erased.identifiers),
      suppressedCount: erased.identifiers.length,
      graphAt: at,
    })
    .where(eq(deletions.id, id))
    .toSQL();
  // Plain statements, because they join the graph erase's raw guarded batch (`eraseMergedTree`). The second reads
  // the ids the first wrote; a profile erased twice (two DELETEs at once) keeps the deletion that erased it first.
  return [
    db.prepare(query.sql).bind(...query.params),
    db
      .prepare(
        `INSERT INTO erased_profiles (workspace_id, profile_id, deletion_id)
         SELECT d.workspace_id, j.value, d.id FROM deletions d, json_each(d.profile_ids) j WHERE d.id = ?
         ON CONFLICT DO NOTHING`,
      )
      .bind(id),
  ];
}

/**
 * Marks a step other than `graph` done. The destinations step also closes the job: it forgets the identifiers and
 * the last error (a vendor's words may quote the person), and its destinations' answers go (see
 * {@link forgetDestinationDeletes}, to run in the same batch).
 */
export function recordStep(db: D1Database, id: string, step: Exclude<keyof typeof STEP_COLUMNS, "graph">, at: number) {
  if (step === "destinations") {
    return orm(db)
      .update(deletions)
      .set({ destinationsAt: at, identifiers: null, lastError: null, status: "done", completedAt: at })
      .where(eq(deletions.id, id));
  }
  return orm(db)
    .update(deletions)
    .set({ [STEP_COLUMNS[step]]: at })
    .where(eq(deletions.id, id));
}

/** A run that stopped part-way: counted, its reason kept, and the job due again at `retryAt`. */
export async function recordFailedRun(db: D1Database, id: string, error: string, retryAt: number): Promise<void> {
  await orm(db)
    .update(deletions)
    .set({ attempts: sql`${deletions.attempts} + 1`, lastError: error.slice(0, 1000), nextAttemptAt: retryAt })
    .where(eq(deletions.id, id));
}

/** The `dead_letters` step read up to dead letter `after` and goes on from there at `retryAt`: progress, not a failure. */
export async function recordDeadLettersRead(db: D1Database, id: string, after: number, retryAt: number): Promise<void> {
  await orm(db).update(deletions).set({ deadLettersAfter: after, nextAttemptAt: retryAt }).where(eq(deletions.id, id));
}

/** A run that is waiting on destinations (not a failure): why, if one is slow to answer, and when to look again. */
export async function recordWaiting(db: D1Database, id: string, reason: string | null, retryAt: number): Promise<void> {
  await orm(db)
    .update(deletions)
    .set({ lastError: reason?.slice(0, 1000) ?? null, nextAttemptAt: retryAt })
    .where(eq(deletions.id, id));
}

/**
 * Brings the pending erasures that wait for destination `destinationId`'s delete forward to `now`: it was enabled
 * again (its queued delete goes out) or deleted (counted done), so the cron's next minute looks at them rather than
 * the long wait for a disabled destination. By the pending erasures' index, each checked by its own delete's key.
 */
export function wakeDeletionsWaitingOn(db: D1Database, destinationId: string, now: number) {
  return orm(db)
    .update(deletions)
    .set({ nextAttemptAt: now })
    .where(
      and(
        eq(deletions.status, "pending"),
        gt(deletions.nextAttemptAt, now),
        sql`EXISTS (SELECT 1 FROM ${deletionDestinations} WHERE ${deletionDestinations.deletionId} = ${deletions.id}
              AND ${deletionDestinations.destinationId} = ${destinationId} AND ${deletionDestinations.status} <> 'ok')`,
      ),
    );
}

/**
 * The destinations that are to delete the person: a `pending` answer each, reported by profile `profileId` (the
 * profile the delete names). Written before the deletes are queued; again after a failed send, changing nothing.
 */
export async function expectDestinationDeletes(
  db: D1Database,
  deletionId: string,
  profileId: string,
  destinationIds: readonly string[],
  at: number,
): Promise<void> {
  if (destinationIds.length === 0) return;
  const rows = destinationIds.map((destinationId) => ({
    deletionId,
    destinationId,
    profileId,
    status: "pending" as const,
    updatedAt: at,
  }));
  // Six parameters a row, under D1's 100 a statement.
  const statements = [];
  for (let i = 0; i < rows.length; i += 15) {
    statements.push(
      orm(db)
        .insert(deletionDestinations)
        .values(rows.slice(i, i + 15))
        .onConflictDoNothing(),
    );
  }
  const [first, ...rest] = statements;
  await orm(db).batch([first, ...rest]);
}

/** The deletes are with the destinations' objects: the step waits for their answers, looking again at `retryAt`. */
export async function recordDestinationsQueued(db: D1Database, id: string, at: number, retryAt: number): Promise<void> {
  await orm(db).update(deletions).set({ destinationsQueuedAt: at, nextAttemptAt: retryAt }).where(eq(deletions.id, id));
}

/** A destination's answer to an erase's delete, with the destination as it is now (`type` null: deleted since). */
export interface DestinationDelete {
  destinationId: string;
  status: "pending" | "ok" | "failed";
  error: string | null;
  type: string | null;
  name: string | null;
  enabled: boolean | null;
}

/** Each destination's answer to deletion `deletionId`'s delete. */
export function destinationDeletes(db: D1Database, deletionId: string): Promise<DestinationDelete[]> {
  return orm(db)
    .select({
      destinationId: deletionDestinations.destinationId,
      status: deletionDestinations.status,
      error: deletionDestinations.error,
      type: destinations.type,
      name: destinations.name,
      enabled: destinations.enabled,
    })
    .from(deletionDestinations)
    .leftJoin(destinations, eq(destinations.id, deletionDestinations.destinationId))
    .where(eq(deletionDestinations.deletionId, deletionId))
    .orderBy(asc(deletionDestinations.destinationId));
}

/** Drops the destinations' answers of a finished deletion (to batch with its `destinations` step). */
export function forgetDestinationDeletes(db: D1Database, deletionId: string) {
  return orm(db).delete(deletionDestinations).where(eq(deletionDestinations.deletionId, deletionId));
}
