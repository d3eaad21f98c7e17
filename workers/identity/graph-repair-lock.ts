/**
 * One repair of a workspace's identity graph at a time: a merge undo or a GDPR erase. Each reads a profile's merge
 * tree, then moves (undo) or wipes (erase) the objects of that tree around the graph's batch; run at once, each worked
 * from what the other was changing. Two undos of one chain (C into B, B into A) pulled C's events back twice and left
 * B listing C as merged after C's undo; an undo racing an erase answered 500, or 200 for a profile the erase then
 * wiped. Both are rare operator calls, so they queue behind each other (`graph_repair_locks` in D1) rather than
 * guard every step against the other.
 */
import { claimGraphRepairLock, releaseGraphRepairLock } from "../../d1/queries/graph-repair-locks";
import { ABANDONED_AFTER_MS } from "../shared/abandoned-claims";
import { HttpError } from "../shared/errors";

/** How long a repair waits for the one running in its workspace before giving up (then: 409, or the cron's retry). */
const REPAIR_LOCK_WAIT_MS = 5_000;

/** The answer when the running repair outlasted the wait. */
const repairRunning = () =>
  new HttpError(409, "conflict", "Another merge undo or erase is running in this workspace; try again in a moment.", {
    headers: { "Retry-After": "1" },
  });

/**
 * Runs `repair` once no other repair runs in `workspaceId`, holding the lock as `holder` (`mrg_…`, `del_…`) until it
 * settles. Waits for the running one (backing off from 50 ms to 500 ms), at most {@link REPAIR_LOCK_WAIT_MS}, then
 * throws {@link repairRunning}.
 *
 * @example return oneRepairAtATime(env.DB, workspaceId, mergeId, () => undoMergeAlone(env, workspaceId, mergeId));
 */
export async function oneRepairAtATime<T>(
  db: D1Database,
  workspaceId: string,
  holder: string,
  repair: () => Promise<T>,
): Promise<T> {
  const deadline = Date.now() + REPAIR_LOCK_WAIT_MS;
  for (let wait = 50; ; wait = Math.min(wait * 2, 500)) {
    const startedAt = Date.now();
    if (await claimGraphRepairLock(db, workspaceId, holder, startedAt, startedAt - ABANDONED_AFTER_MS)) {
      try {
        return await repair();
      } finally {
        await releaseGraphRepairLock(db, workspaceId, holder, startedAt);
      }
    }
    if (Date.now() + wait > deadline) throw repairRunning();
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
}
