/**
 * Backfill (DESIGN §6): after a definition is created, changed or deleted, every live profile of the workspace is
 * evaluated again from its stored history, by queue fan-out on `tessera-backfill`. A *plan* message lists the next
 * {@link PLAN_SIZE} live profiles and enqueues them as *pages* of {@link PAGE_SIZE}, then the next plan; a page
 * re-evaluates its profiles and counts them towards the definition's build progress. The consumer is in
 * `backfill-consumer.ts`.
 */
import type { BackfillPage, BackfillPlan } from "@tessera/protocol";
import {
  clearRebuildUnqueued,
  type DefinitionKind,
  markBuildQueued,
  markBuildUnqueued,
  markRebuildUnqueued,
  restartBuild,
  stalledBuilds,
  unqueuedBuilds,
  unqueuedRebuilds,
} from "../../d1/queries/definitions";

/** Profiles one plan message lists: one keyset read of D1, fifty pages. */
export const PLAN_SIZE = 5_000;
/** Profiles one page message re-evaluates: one Durable Object call each. */
export const PAGE_SIZE = 100;

/** The definition whose `status` a backfill reports on; null when nothing reports (a deleted definition). */
export interface BackfillTarget {
  kind: DefinitionKind;
  key: string;
}

/** A backfill to start: the workspace, the definitions version it covers, and the build it reports on (run 0 unless said). */
export interface BackfillJob {
  workspaceId: string;
  buildVersion: number;
  target: BackfillTarget | null;
  run?: number;
}

/**
 * Starts evaluating every live profile of `workspaceId` with the definitions at `buildVersion`. The caller has
 * already written the definition with `build_version = buildVersion` and `build_total` = the live profile count.
 *
 * @example await startBackfill(env, { workspaceId, buildVersion: 4, target: { kind: "audience", key: "vip" } });
 */
export async function startBackfill(env: Env, job: BackfillJob): Promise<void> {
  const plan: BackfillPlan = {
    kind: "backfill-plan",
    workspaceId: job.workspaceId,
    buildVersion: job.buildVersion,
    target: job.target && { ...job.target, run: job.run ?? 0 },
    after: null,
    listed: 0,
  };
  await env.BACKFILL_QUEUE.send(plan);
}

/**
 * {@link startBackfill}, then records on the target that its build was queued. Never throws: the definition is saved
 * whatever happens here, so a failed send is logged and left to {@link queueUnqueuedBackfills} (the scheduled
 * sweep) rather than answered as a failed change that the client would retry into a 409. A deletion (no target) whose
 * send fails is recorded on the workspace instead (`rebuild_unqueued_version`), for the same sweep: until its rebuild
 * runs, a profile without events keeps the deleted audience in its stored state (a profile read evaluates first, so
 * the API never shows it).
 */
export async function queueBackfill(env: Env, job: BackfillJob): Promise<boolean> {
  const what = `the backfill of ${job.workspaceId} at definitions version ${job.buildVersion}`;
  try {
    await startBackfill(env, job);
  } catch (err) {
    console.error(`${what} could not be queued; the scheduled sweep queues it: ${err}`);
    if (!job.target) await markRebuildUnqueued(env.DB, job.workspaceId, job.buildVersion).catch(logUnrecorded(what));
    return false;
  }
  if (!job.target) return true;
  try {
    await markBuildQueued(
      env.DB,
      { ...job.target, workspaceId: job.workspaceId, buildVersion: job.buildVersion, run: job.run ?? 0 },
      Date.now(),
    );
  } catch (err) {
    // The sweep will queue it a second time: pages are idempotent, progress is clamped at the total.
    console.error(`${what} was queued but not recorded as such: ${err}`);
  }
  return true;
}

/** A build this long unqueued is taken to have lost its send (a request takes well under this to send it). */
export const UNQUEUED_AFTER_MS = 30_000;

/**
 * The scheduled sweep: queues every build and every deletion's rebuild whose send failed (see {@link queueBackfill});
 * returns how many.
 */
export async function queueUnqueuedBackfills(env: Env, now = Date.now()): Promise<number> {
  let queued = 0;
  for (const { workspaceId, buildVersion, kind, key, run } of await unqueuedBuilds(env.DB, now - UNQUEUED_AFTER_MS)) {
    if (await queueBackfill(env, { workspaceId, buildVersion, target: { kind, key }, run })) queued++;
  }
  // Marked only once a send failed, so no request can still be about to send these: no wait needed.
  for (const { workspaceId, version } of await unqueuedRebuilds(env.DB)) {
    if (!(await queueBackfill(env, { workspaceId, buildVersion: version, target: null }))) continue;
    await clearRebuildUnqueued(env.DB, workspaceId, version);
    queued++;
  }
  return queued;
}

/**
 * A queued build without a sign of life for this long has lost its pages. Its longest quiet while alive is a page of
 * failed profiles waiting out its backoff (five minutes at most, see `backfill-consumer.ts`), and each page, counted
 * or sent again, is a sign of life.
 */
export const STALLED_AFTER_MS = 15 * 60_000;
/**
 * Runs of one build at most: the first and two restarts. A build short of its total for good (a profile given up
 * after every attempt) is not re-run over the whole workspace forever.
 */
export const MAX_BUILD_RUNS = 3;

/**
 * The scheduled sweep's other half: restarts every build queued but stalled (its queued pages lost, so `building`
 * for good) as its next run, from the first profile, and returns how many. Restarting rather than finding the lost
 * pages: progress is a counter, and only a run's own pages count, so the pages of a stalled run that turn up late
 * count for nothing and nothing is counted twice.
 */
export async function restartStalledBuilds(env: Env, now = Date.now()): Promise<number> {
  const before = now - STALLED_AFTER_MS;
  let restarted = 0;
  for (const build of await stalledBuilds(env.DB, before, MAX_BUILD_RUNS - 1)) {
    const next = await restartBuild(env.DB, build, before, now);
    if (!next) continue;
    const { workspaceId, buildVersion, kind, key, run } = next;
    console.error(
      `the build of ${kind} ${key} in ${workspaceId} made no progress for 15 minutes; running it again (run ${run + 1})`,
    );
    try {
      await startBackfill(env, { workspaceId, buildVersion, target: { kind, key }, run });
      restarted++;
    } catch (err) {
      console.error(`the new run could not be queued; the scheduled sweep queues it: ${err}`);
      await markBuildUnqueued(env.DB, next);
    }
  }
  return restarted;
}

const logUnrecorded = (what: string) => (err: unknown) =>
  console.error(
    `${what} could not be recorded for the sweep either; profiles drop it at their next evaluation: ${err}`,
  );

/** The page messages for `profileIds` (in their order), {@link PAGE_SIZE} ids each. */
export function pagesOf(plan: BackfillPlan, profileIds: string[]): BackfillPage[] {
  const pages: BackfillPage[] = [];
  for (let i = 0; i < profileIds.length; i += PAGE_SIZE) {
    pages.push({
      kind: "backfill-page",
      workspaceId: plan.workspaceId,
      buildVersion: plan.buildVersion,
      target: plan.target,
      profileIds: profileIds.slice(i, i + PAGE_SIZE),
      attempt: 0,
    });
  }
  return pages;
}
