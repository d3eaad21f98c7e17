/**
 * The last way a merge's fold gets done (DESIGN §4). The merged-away profile's object folds when the merge asks it,
 * retries from its alarm once it holds the redirect, and a failed call goes to the ingest retry queue; but an object
 * unreachable at that moment, whose job the queue refused too, was never asked again and kept its events as a
 * live-looking profile the graph calls merged. The journal is durable: each cron minute asks the objects of the merges
 * whose fold nobody recorded (the object records it once the fold is confirmed, `ProfileDO.mergeInto`).
 */
import pLimit from "p-limit";
import { markMergeFolded, postponeFolds, type UnfoldedMerge, unfoldedMerges } from "../../d1/queries/merge-folds";
import { profileStub } from "../profile/profile-stub";

/** A fold normally finishes within seconds of its merge: only those older than this are asked again. */
export const FOLD_GRACE_MS = 5 * 60_000;
/**
 * Merges asked per cron minute, so a backlog (after an outage) is worked off without crowding the minute. Half of them
 * may be retries of asks that failed (each due again when its merge's age has doubled), so objects that keep failing
 * neither hold back the merges made after them nor are forgotten.
 */
export const FOLDS_PER_SWEEP = 100;
/** Objects asked at once: a fold ships the profile's history in chunks, and a few at a time keep the minute short. */
const FOLDS_AT_ONCE = 10;

/**
 * Asks the merged-away object of every merge older than the grace period whose fold is not recorded to fold (for one
 * already a redirect it changes nothing but the record), and returns the merges it settled. A failure is logged and
 * left for a later sweep. Idempotent: a merge recorded folded is not read again.
 * @example ctx.waitUntil(sweepUnfoldedMerges(env));
 */
export async function sweepUnfoldedMerges(
  env: Pick<Env, "DB" | "PROFILE">,
  now = Date.now(),
): Promise<UnfoldedMerge[]> {
  let owed: UnfoldedMerge[];
  try {
    owed = await unfoldedMerges(env.DB, now - FOLD_GRACE_MS, now, FOLDS_PER_SWEEP);
  } catch (err) {
    console.error("the merges whose fold is owed could not be read; the next minute tries again", err);
    return [];
  }
  const limit = pLimit(FOLDS_AT_ONCE);
  const results = await Promise.allSettled(owed.map((merge) => limit(() => settle(env, merge, now))));
  const settled: UnfoldedMerge[] = [];
  const failed: UnfoldedMerge[] = [];
  for (const [i, r] of results.entries()) {
    if (r.status === "fulfilled") settled.push(owed[i]);
    else {
      failed.push(owed[i]);
      const { fromProfile, intoProfile } = owed[i];
      console.error(`the fold of ${fromProfile} into ${intoProfile} failed again; a later sweep tries again`, r.reason);
    }
  }
  try {
    await postponeFolds(env.DB, failed, now);
  } catch (err) {
    // Not postponed: they are asked again next minute, as before any failed.
    console.error("the failed folds' next asks could not be recorded", err);
  }
  return settled;
}

async function settle(env: Pick<Env, "DB" | "PROFILE">, merge: UnfoldedMerge, now: number): Promise<void> {
  const { workspaceId, fromProfile, intoProfile } = merge;
  // An erase took the profile's state with it: nothing is left to fold, and its object would never record it.
  if (merge.erased) return markMergeFolded(env.DB, fromProfile, now);
  await profileStub(env.PROFILE, fromProfile).mergeInto(intoProfile, { profileId: fromProfile, workspaceId });
}
