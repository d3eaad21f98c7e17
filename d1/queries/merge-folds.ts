/**
 * Which merges' folds are still owed (DESIGN §4: the merged-away profile folds into the survivor and becomes a
 * redirect). The merged-away object records its fold once it is confirmed; the cron's sweep asks the objects of the
 * merges nobody recorded, in case every other way to ask them failed (see `workers/identity/fold-sweep.ts`).
 */
import { and, asc, desc, eq, isNull, lte, type SQL, sql } from "drizzle-orm";
import { orm } from "../client";
import { merges, profiles } from "../schema";

/** A merge whose fold nobody recorded. */
export interface UnfoldedMerge {
  workspaceId: string;
  fromProfile: string;
  intoProfile: string;
  /** The merged-away profile was erased: no fold is owed (its state went with it). */
  erased: boolean;
  /** When the merge was journaled (how long its fold has been owed sets the wait after a failed ask). */
  createdAt: number;
}

/**
 * Records that the fold of the live merge of `fromProfile` is done, or owed no more. By the merged-away profile, not
 * the survivor: a tombstone keeps its first survivor, and the graph holds one live merge of a profile at a time.
 */
export async function markMergeFolded(db: D1Database, fromProfile: string, at: number): Promise<void> {
  await orm(db)
    .update(merges)
    .set({ foldedAt: at })
    .where(and(eq(merges.fromProfile, fromProfile), isNull(merges.undoneAt), isNull(merges.foldedAt)));
}

/**
 * The merges whose fold is owed and due, at most `limit`: those journaled at or before `before` that no sweep asked yet,
 * newest first (were an object to keep failing, the merges made after it still come first), and those whose retry is
 * due at `now`, longest due first. Each kind may take half of `limit`, and more when the other leaves room. Read
 * through the two partial indexes of unfolded rows, in one round trip.
 */
export async function unfoldedMerges(
  db: D1Database,
  before: number,
  now: number,
  limit: number,
): Promise<UnfoldedMerge[]> {
  const owed = (where: SQL | undefined) =>
    orm(db)
      .select({
        workspaceId: merges.workspaceId,
        fromProfile: merges.fromProfile,
        intoProfile: merges.intoProfile,
        erased: sql<boolean>`${profiles.deletedAt} IS NOT NULL`.mapWith(Boolean),
        createdAt: merges.createdAt,
      })
      .from(merges)
      .leftJoin(profiles, eq(profiles.id, merges.fromProfile))
      .where(and(isNull(merges.foldedAt), isNull(merges.undoneAt), where));
  const [first, again] = await orm(db).batch([
    owed(and(isNull(merges.foldRetryAt), lte(merges.createdAt, before)))
      .orderBy(desc(merges.createdAt))
      .limit(limit),
    owed(lte(merges.foldRetryAt, now)).orderBy(asc(merges.foldRetryAt)).limit(limit),
  ]);
  const retries = Math.min(again.length, Math.max(limit >> 1, limit - first.length));
  return [...first.slice(0, limit - retries), ...again.slice(0, retries)];
}

/** The longest a sweep waits before asking an object whose fold failed again. */
export const FOLD_RETRY_MAX_MS = 60 * 60_000;

/**
 * Records that the sweep's ask of each of `failed` failed at `now`: the next is due when the merge's age has doubled,
 * at most {@link FOLD_RETRY_MAX_MS} later (minutes after an outage, hourly for an object that stays unreachable).
 */
export async function postponeFolds(
  db: D1Database,
  failed: readonly { fromProfile: string; createdAt: number }[],
  now: number,
): Promise<void> {
  if (failed.length === 0) return;
  const d = orm(db);
  const [head, ...tail] = failed.map(({ fromProfile, createdAt }) =>
    d
      .update(merges)
      .set({ foldRetryAt: now + Math.min(Math.max(now - createdAt, 60_000), FOLD_RETRY_MAX_MS) })
      .where(and(eq(merges.fromProfile, fromProfile), isNull(merges.undoneAt), isNull(merges.foldedAt))),
  );
  await d.batch([head, ...tail]);
}
