/**
 * Consumer of `tessera-backfill` (DESIGN §6). Queues deliver at least once, so every step is safe to run twice:
 * a plan sends its pages before the next plan (a plan run again only sends duplicate pages), a page re-evaluates
 * from the event log (idempotent) and counts the profiles that succeeded, clamped at the total; the ones that failed
 * go out again as a page of their own, so one broken profile neither repeats nor holds back the other 99.
 */
import { BackfillMessage, type BackfillPage, type BackfillPlan } from "@tessera/protocol";
import pLimit, { type LimitFunction } from "p-limit";
import { addBuildProgress, settleBuildTotal } from "../../d1/queries/definitions";
import { liveProfileIds } from "../../d1/queries/profiles";
import type { DefinitionsAt, ReevaluateOutcome } from "../profile/profile-rpc";
import { profileStub } from "../profile/profile-stub";
import { sendInBatches } from "../shared/send-in-batches";
import { PLAN_SIZE, pagesOf } from "./backfill";

/** Durable Object calls in flight per invocation, over all pages of a batch (one page, as configured). */
const CONCURRENCY = 25;

/** What the consumer touches; tests hand in fakes for the queue or one failing profile. */
export interface BackfillDeps {
  db: D1Database;
  queue: Pick<Queue, "sendBatch">;
  reevaluate(profileId: string, at: DefinitionsAt): Promise<ReevaluateOutcome>;
}

/** The production dependencies: D1, the backfill queue, each profile's Durable Object. */
export function backfillDepsFor(env: Env): BackfillDeps {
  return {
    db: env.DB,
    queue: env.BACKFILL_QUEUE,
    reevaluate: (profileId, at) => profileStub(env.PROFILE, profileId).reevaluate(at),
  };
}

/**
 * A profile that failed this many pages in a row (about an hour and a half of backoff) is given up on and logged:
 * its definition stays `building` with `processed` short of `total`, which is the truth.
 */
export const MAX_PAGE_ATTEMPTS = 20;

/** Backoff per attempt (10 s, 20 s, … capped at five minutes): a failing page blocks only its own progress. */
export function backfillBackoffSeconds(attempts: number): number {
  return Math.min(300, 5 * 2 ** Math.max(1, attempts));
}

/**
 * `tessera-backfill`: runs each plan or page; acks it when done, otherwise retries that message alone with backoff
 * (a throw would retry the whole batch).
 */
export async function handleBackfill(
  batch: MessageBatch<unknown>,
  env: Env,
  deps: BackfillDeps = backfillDepsFor(env),
): Promise<void> {
  const limit = pLimit(CONCURRENCY);
  await Promise.all(
    batch.messages.map(async (msg) => {
      const parsed = BackfillMessage.safeParse(msg.body);
      let done = false;
      if (!parsed.success) {
        // Perhaps from a newer deploy that was rolled back; retried rather than dropped on the spot.
        console.error("backfill: unreadable message", msg.id, JSON.stringify(msg.body).slice(0, 500));
      } else {
        try {
          done =
            parsed.data.kind === "backfill-plan"
              ? await runPlan(deps, parsed.data)
              : await runPage(deps, parsed.data, limit);
        } catch (err) {
          console.error(`backfill: ${parsed.data.kind} of ${parsed.data.workspaceId} failed; retrying`, err);
        }
      }
      if (done) msg.ack();
      else msg.retry({ delaySeconds: backfillBackoffSeconds(msg.attempts) });
    }),
  );
}

/**
 * Lists the next live profiles and enqueues their pages, then (if the listing was full) the next plan. The last plan
 * first settles the target's total to what the backfill listed, before its pages can count towards it.
 */
async function runPlan(deps: BackfillDeps, plan: BackfillPlan): Promise<boolean> {
  const ids = await liveProfileIds(deps.db, plan.workspaceId, plan.after, PLAN_SIZE);
  const listed = plan.listed + ids.length;
  const last = ids.at(-1);
  const more = ids.length === PLAN_SIZE && last !== undefined;
  if (!more && plan.target) {
    const { kind, key, run } = plan.target;
    await settleBuildTotal(
      deps.db,
      { workspaceId: plan.workspaceId, kind, key, buildVersion: plan.buildVersion, run },
      listed,
      Date.now(),
    );
  }
  await sendInBatches(deps.queue, pagesOf(plan, ids));
  // Last, so a plan that failed before this point is retried whole without having started a second chain.
  if (more) await sendInBatches(deps.queue, [{ ...plan, after: last, listed }]);
  return true;
}

/**
 * Re-evaluates every profile of the page and counts those that succeeded (their membership changes in D1); the
 * others are sent again as a page of their own, delayed by backoff. Merged-away, erased and unknown profiles count as
 * processed: none of them needs anything. Throws (the page is retried whole: evaluation is idempotent) only when D1 or
 * the queue fails.
 */
async function runPage(deps: BackfillDeps, page: BackfillPage, limit: LimitFunction): Promise<boolean> {
  const at = { workspaceId: page.workspaceId, definitionsVersion: page.buildVersion };
  const results = await Promise.allSettled(
    // Awaited inside, so a call that rejects at once is handled in the same turn, never reported as unhandled.
    page.profileIds.map((id) => limit(async () => await deps.reevaluate(id, at))),
  );
  // Not done, so sent again: a profile whose call failed, or whose membership changes are not in D1 yet (its alarm
  // delivers them; counted now, the build would be `ready` while its members list lacks them).
  const done = results.map((r) => r.status === "fulfilled" && r.value.status !== "undelivered");
  const failed = page.profileIds.filter((_, i) => !done[i]);
  if (failed.length > 0) {
    const first = results.find((_, i) => !done[i]);
    const attempt = page.attempt + 1;
    const giveUp = attempt >= MAX_PAGE_ATTEMPTS;
    console.error(
      `backfill: ${failed.length} of ${page.profileIds.length} profiles failed (first: ${failed[0]}); ` +
        (giveUp ? `giving up on them after ${attempt} attempts` : `retrying them (attempt ${attempt})`),
      first?.status === "rejected" ? first.reason : "its membership changes are not in D1 yet",
    );
    // Sent before the progress is counted: if counting fails, the page is retried whole and only repeats work.
    if (!giveUp)
      await sendInBatches(deps.queue, [{ ...page, profileIds: failed, attempt }], {
        delaySeconds: backfillBackoffSeconds(attempt),
      });
  }
  const succeeded = page.profileIds.length - failed.length;
  // Also with nothing to count (all failed and sent again): the build is alive, not stalled.
  if (page.target) {
    const { kind, key, run } = page.target;
    await addBuildProgress(
      deps.db,
      { workspaceId: page.workspaceId, kind, key, buildVersion: page.buildVersion, run },
      succeeded,
      Date.now(),
    );
  }
  return true;
}
