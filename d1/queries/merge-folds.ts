/**
 * Which merges' folds are still owed (DESIGN §4: the merged-away profile folds into the survivor and becomes a
 * redirect). The merged-away object records its fold once it is confirmed; the cron's sweep asks the objects of the
 * merges nobody recorded, in case every other way to ask them failed (see `workers/identity/fold-sweep.ts`).
 */
import { and, desc, eq, isNull, lte, sql } from "drizzle-orm";
import { orm } from "../client";
import { merges, profiles } from "../schema";

/** A merge whose fold nobody recorded. */
export interface UnfoldedMerge {
  workspaceId: string;
  fromProfile: string;
  intoProfile: string;
  /** The merged-away profile was erased: no fold is owed (its state went with it). */
  erased: boolean;
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
 * Live merges journaled at or before `before` whose fold nobody recorded, newest first (objects that keep failing do
 * not hold back the merges made after them), at most `limit`. Read through the partial index of unfolded rows.
 */
export function unfoldedMerges(db: D1Database, before: number, limit: number): Promise<UnfoldedMerge[]> {
  return orm(db)
    .select({
      workspaceId: merges.workspaceId,
      fromProfile: merges.fromProfile,
      intoProfile: merges.intoProfile,
      erased: sql<boolean>`${profiles.deletedAt} IS NOT NULL`.mapWith(Boolean),
    })
    .from(merges)
    .leftJoin(profiles, eq(profiles.id, merges.fromProfile))
    .where(and(isNull(merges.foldedAt), isNull(merges.undoneAt), lte(merges.createdAt, before)))
    .orderBy(desc(merges.createdAt))
    .limit(limit);
}
