/** Listing a workspace's live profiles (not merged away, not erased): what backfills and previews walk. */
import { and, asc, count, eq, gt, isNull } from "drizzle-orm";
import { orm } from "../client";
import { profiles } from "../schema";

function live(workspaceId: string) {
  return and(eq(profiles.workspaceId, workspaceId), isNull(profiles.mergedInto), isNull(profiles.deletedAt));
}

/** How many live profiles a workspace has (a backfill's `total`). */
export async function countLiveProfiles(db: D1Database, workspaceId: string): Promise<number> {
  const row = await orm(db).select({ n: count() }).from(profiles).where(live(workspaceId)).get();
  return row?.n ?? 0;
}

/**
 * Up to `limit` live profile ids after `after`, in id order: a keyset page over the `(workspace_id, id)` index.
 *
 * @example let page = await liveProfileIds(env.DB, ws, null, 500); // then after = page.at(-1)
 */
export async function liveProfileIds(
  db: D1Database,
  workspaceId: string,
  after: string | null,
  limit: number,
): Promise<string[]> {
  const where = after === null ? live(workspaceId) : and(live(workspaceId), gt(profiles.id, after));
  const rows = await orm(db)
    .select({ id: profiles.id })
    .from(profiles)
    .where(where)
    .orderBy(asc(profiles.id))
    .limit(limit);
  return rows.map((r) => r.id);
}
