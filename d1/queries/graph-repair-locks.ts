/** The lock that lets one repair of a workspace's identity graph run at a time (`workers/identity/graph-repair-lock.ts`). */
import { and, eq, lt } from "drizzle-orm";
import { orm } from "../client";
import { graphRepairLocks } from "../schema";

/**
 * Takes the workspace's lock for `holder` from `now`, in one statement: true when no repair holds it, or when the one
 * holding it started before `abandonedBefore` (its isolate died mid-way; every step of a repair can run again).
 */
export async function claimGraphRepairLock(
  db: D1Database,
  workspaceId: string,
  holder: string,
  now: number,
  abandonedBefore: number,
): Promise<boolean> {
  const taken = await orm(db)
    .insert(graphRepairLocks)
    .values({ workspaceId, holder, startedAt: now })
    .onConflictDoUpdate({
      target: graphRepairLocks.workspaceId,
      set: { holder, startedAt: now },
      setWhere: lt(graphRepairLocks.startedAt, abandonedBefore),
    })
    .returning({ holder: graphRepairLocks.holder });
  return taken.length > 0;
}

/** Frees the lock `holder` took at `startedAt` (a repair that took it over since keeps it). */
export async function releaseGraphRepairLock(
  db: D1Database,
  workspaceId: string,
  holder: string,
  startedAt: number,
): Promise<void> {
  await orm(db)
    .delete(graphRepairLocks)
    .where(
      and(
        eq(graphRepairLocks.workspaceId, workspaceId),
        eq(graphRepairLocks.holder, holder),
        eq(graphRepairLocks.startedAt, startedAt),
      ),
    );
}
