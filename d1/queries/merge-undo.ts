/**
 * Merge undo in the identity graph (DESIGN §12): the journal entry, the profiles it joined, the guarded batch that
 * splits them apart again, and the journal as the profile API lists it (undone entries included). Raw SQL only for
 * the guarded batch (a `json_each` identifier list and the write guard) and the recursive journal read.
 */
import { and, eq, isNotNull, sql } from "drizzle-orm";
import { orm } from "../client";
import { graphRepairLocks, merges, profiles } from "../schema";
import type { IdentifierKey } from "./identity-graph";

export type MergeRow = typeof merges.$inferSelect;
export type ProfileRow = typeof profiles.$inferSelect;

/** A journal entry of the workspace (another workspace's is unknown). */
export function findMerge(db: D1Database, workspaceId: string, mergeId: string): Promise<MergeRow | undefined> {
  return orm(db)
    .select()
    .from(merges)
    .where(and(eq(merges.workspaceId, workspaceId), eq(merges.id, mergeId)))
    .get();
}

/** A profile's row in the graph. */
export function findProfileRow(db: D1Database, profileId: string): Promise<ProfileRow | undefined> {
  return orm(db).select().from(profiles).where(eq(profiles.id, profileId)).get();
}

/**
 * Where the graph merged `profileId` (`mergedInto` null: live; undefined: no such profile), and whether an undo of
 * that merge is running: it holds the workspace's repair lock, taken at or after `startedAfter` (an older holder was
 * abandoned). One statement, so the two are read together: an undo splits the graph and frees the lock in turn.
 */
export function graphMergeOf(
  db: D1Database,
  profileId: string,
  startedAfter: number,
): Promise<{ mergedInto: string | null; undoing: boolean } | undefined> {
  // By primary keys only: the workspace's lock, then the merge it names.
  const undoing = sql<number>`EXISTS (SELECT 1 FROM ${graphRepairLocks} AS l CROSS JOIN ${merges} AS m ON m.id = l.holder
    WHERE l.workspace_id = profiles.workspace_id AND l.started_at >= ${startedAfter}
      AND m.from_profile = profiles.id AND m.undone_at IS NULL)`;
  return orm(db)
    .select({ mergedInto: profiles.mergedInto, undoing })
    .from(profiles)
    .where(eq(profiles.id, profileId))
    .get()
    .then((row) => row && { mergedInto: row.mergedInto, undoing: row.undoing === 1 });
}

/** What one undo changes in the graph. */
export interface MergeSplit {
  mergeId: string;
  /** The merged-away profile, live again. */
  restored: string;
  /** The live end of the chain it was merged into: where its identifiers point now. */
  survivor: string;
  /** The identifiers that go back (only those the survivor still owns move). */
  identifiers: readonly IdentifierKey[];
  /**
   * The restored profile and those merged into it before: every identifier the survivor owns that was first
   * attached to one of these goes back too.
   */
  tree: readonly string[];
  /** The merges the survivor's count loses: this one and those the restored profile had absorbed before. */
  mergeCount: number;
}

/** Opens a statement that fails the `stale_read` CHECK, rolling the whole batch back, unless its condition holds. */
const GUARD_UNLESS = "INSERT INTO identity_write_guard (ok) SELECT 0 WHERE NOT EXISTS";

/**
 * The undo as one D1 batch: unless the entry is still live in the workspace and the survivor still the live end of
 * its chain (undone or merged on meanwhile: a guard rolls everything back with a `stale_read` error), the identifiers
 * listed and those the restored tree first owned go back to the restored profile, which is live again, both profiles'
 * counts are recomputed and their versions bumped (so a concurrent resolve re-reads), and the entry gets `undone_at`.
 */
export async function commitMergeSplit(
  db: D1Database,
  workspaceId: string,
  split: MergeSplit,
  now: number,
): Promise<void> {
  const keys = JSON.stringify(split.identifiers.map((k) => [k.type, k.value]));
  const count = "(SELECT count(*) FROM identifiers WHERE profile_id = ?1)";
  await db.batch([
    db
      .prepare(`${GUARD_UNLESS} (SELECT 1 FROM merges WHERE id = ?1 AND workspace_id = ?2 AND undone_at IS NULL)`)
      .bind(split.mergeId, workspaceId),
    // A survivor merged on meanwhile took the identifiers with it: moving none would leave the restored profile live
    // with nothing that finds it.
    db
      .prepare(
        `${GUARD_UNLESS} (SELECT 1 FROM profiles WHERE id = ?1 AND workspace_id = ?2 AND merged_into IS NULL
           AND deleted_at IS NULL)`,
      )
      .bind(split.survivor, workspaceId),
    // CROSS JOIN keeps the list the outer loop: one unique-index lookup per identifier, whatever the profile holds.
    db
      .prepare(
        `UPDATE identifiers SET profile_id = ?1 WHERE rowid IN (
           SELECT i.rowid FROM json_each(?4) AS j CROSS JOIN identifiers AS i ON i.workspace_id = ?2
             AND i.type = json_extract(j.value, '$[0]') AND i.value = json_extract(j.value, '$[1]')
           WHERE i.profile_id = ?3)`,
      )
      .bind(split.restored, workspaceId, split.survivor, keys),
    // What the tree first owned, though no object recorded it as arriving there: a request that made and merged
    // profiles delivers its messages to its last survivor, which records them as arriving on whichever profile it
    // knew. The survivor's rows by their index, each checked for its first profile.
    db
      .prepare(
        `UPDATE identifiers SET profile_id = ?1 WHERE profile_id = ?3 AND workspace_id = ?2
           AND first_profile_id IN (SELECT value FROM json_each(?4))`,
      )
      .bind(split.restored, workspaceId, split.survivor, JSON.stringify(split.tree)),
    db
      .prepare(
        `UPDATE profiles SET merged_into = NULL, identifier_count = ${count}, version = version + 1
         WHERE id = ?1 AND workspace_id = ?2`,
      )
      .bind(split.restored, workspaceId),
    db
      .prepare(
        `UPDATE profiles SET identifier_count = ${count}, merge_count = max(0, merge_count - ?3),
           version = version + 1
         WHERE id = ?1 AND workspace_id = ?2`,
      )
      .bind(split.survivor, workspaceId, split.mergeCount),
    db.prepare("UPDATE merges SET undone_at = ?2 WHERE id = ?1").bind(split.mergeId, now),
  ]);
}

export type MergeJournalEntry = Pick<
  MergeRow,
  "id" | "fromProfile" | "intoProfile" | "messageId" | "rule" | "createdAt" | "undoneAt"
>;

/**
 * The journal entries into `profileId` or any profile merged into it (followed through live merges only), oldest
 * first, undone entries included with their `undone_at`. Raw: recursive CTE; CROSS JOIN keeps the tree the outer
 * loop, so entries are found by the `into_profile` index.
 */
export async function listMergeJournal(
  db: D1Database,
  workspaceId: string,
  profileId: string,
): Promise<MergeJournalEntry[]> {
  const { results } = await db
    .prepare(
      `WITH RECURSIVE tree(id) AS (
         SELECT ?2 UNION SELECT m.from_profile FROM tree AS t CROSS JOIN merges AS m ON m.into_profile = t.id
         WHERE m.workspace_id = ?1 AND m.undone_at IS NULL)
       SELECT m.id, m.from_profile AS fromProfile, m.into_profile AS intoProfile, m.message_id AS messageId, m.rule,
              m.created_at AS createdAt, m.undone_at AS undoneAt
       FROM tree AS t CROSS JOIN merges AS m ON m.into_profile = t.id
       WHERE m.workspace_id = ?1 ORDER BY m.created_at, m.id`,
    )
    .bind(workspaceId, profileId)
    .all<MergeJournalEntry>();
  return results;
}

/**
 * The profiles that undone merges out of `profileIds` had been merged into (each once): the survivors whose objects
 * list the identifiers those undos gave back as departed. By the workspace's undone merges (the partial index of
 * undone merges): an undo is a rare operator call, so they are few.
 */
export async function survivorsOfUndoneMerges(
  db: D1Database,
  workspaceId: string,
  profileIds: readonly string[],
): Promise<string[]> {
  const rows = await orm(db)
    .selectDistinct({ into: merges.intoProfile })
    .from(merges)
    .where(
      and(
        eq(merges.workspaceId, workspaceId),
        isNotNull(merges.undoneAt),
        sql`${merges.fromProfile} IN (SELECT value FROM json_each(${JSON.stringify(profileIds)}))`,
      ),
    );
  return rows.map((r) => r.into);
}
