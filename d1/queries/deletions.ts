/** GDPR erase jobs (`deletions`): recorded before anything is erased, then advanced step by step until done. */
import { and, asc, eq, lte, sql } from "drizzle-orm";
import { orm } from "../client";
import { deletions } from "../schema";

export type DeletionRow = typeof deletions.$inferSelect;

/** The step columns, in the order the job runs them. */
export const STEP_COLUMNS = {
  graph: "graphAt",
  profiles: "profilesAt",
  memberships: "membershipsAt",
  dead_letters: "deadLettersAt",
  destinations: "destinationsAt",
} as const satisfies Record<string, keyof DeletionRow>;

/** Records a new erase request, due for a retry at `retryAt` should its first run not finish. */
export async function insertDeletion(
  db: D1Database,
  row: Pick<DeletionRow, "id" | "workspaceId" | "profileId" | "createdAt"> & { retryAt: number },
): Promise<DeletionRow> {
  const [inserted] = await orm(db)
    .insert(deletions)
    .values({
      id: row.id,
      workspaceId: row.workspaceId,
      profileId: row.profileId,
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
 * The graph step's record, to commit in the same transaction as the graph erase: what was erased, and the
 * identifiers destinations need (held only until the destinations step has queued the deletes).
 */
export function recordGraphStep(
  db: D1Database,
  id: string,
  erased: { profileIds: string[]; identifiers: Array<{ type: string; value: string }> },
  at: number,
): D1PreparedStatement {
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
  // A plain statement, because it joins the graph erase's raw guarded batch (`eraseMergedTree`).
  return db.prepare(query.sql).bind(...query.params);
}

/** Marks a step other than `graph` done (the destinations step also forgets the identifiers and closes the job). */
export function recordStep(db: D1Database, id: string, step: Exclude<keyof typeof STEP_COLUMNS, "graph">, at: number) {
  if (step === "destinations") {
    return orm(db)
      .update(deletions)
      .set({ destinationsAt: at, identifiers: null, status: "done", completedAt: at })
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
