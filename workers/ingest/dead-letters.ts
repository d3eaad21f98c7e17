/**
 * Ingest dead letters (DESIGN §12): work that failed every retry becomes a row in D1 with the reason of its last
 * failure, and an operator replays it through the same pipeline once the cause is fixed. Replays are idempotent:
 * every message keeps its messageId, which its profile stores once, and a merge fold can run any number of times.
 */
import type { AcceptedMessage, Identifier, IngestDeadLettersReplayed } from "@tessera/protocol";
import pLimit, { type LimitFunction } from "p-limit";
import {
  countPendingDeadLetters,
  type DeadLetterScope,
  findPendingDeadLetter,
  type IngestDeadLetterRow,
  ingestDeadLettersAfter,
  markIngestDeadLetterReplayed,
  type NewIngestDeadLetter,
  pendingDeadLetters,
  recordReplayFailure,
  rewriteIngestDeadLetters,
} from "../../d1/queries/dead-letters";
import { extractIdentifiers } from "../identity/extract";
import { erasedAmong } from "../identity/graph-d1";
import { keyOf } from "../identity/graph-snapshot";
import type { IdentityRules } from "../identity/rules";
import type { IngestInput, MergedAway } from "../profile/profile-rpc";
import { type IngestDeps, runJob } from "./pipeline";
import { type IngestJob, isIngestJob } from "./retry-jobs";

/** The reason recorded for a queue body no version of the pipeline can read. */
export const UNREADABLE_JOB = "not an ingest job this version can read";

/** What is left of a job after one attempt, and why (null when nothing is left). */
export interface JobAttempt {
  left: IngestJob[];
  reason: string | null;
}

/**
 * Runs `job` like the retry consumer does, remembering each dependency failure: the pipeline turns failures into
 * retry jobs (and only logs their errors), and a dead letter must say what went wrong.
 *
 * @example const { left, reason } = await attemptJob(ingestDepsFor(env), job);
 */
export async function attemptJob(
  deps: IngestDeps,
  job: IngestJob,
  options: { quiet?: boolean } = {},
): Promise<JobAttempt> {
  const failures: string[] = [];
  let left: IngestJob[];
  try {
    left = await runJob(noting(deps, failures), job, options);
  } catch (err) {
    // A throw is a bug in the pipeline, not an outage; the job is kept all the same.
    console.error("ingest job threw", err);
    failures.push(`the pipeline threw: ${messageOf(err)}`);
    left = [job];
  }
  if (left.length === 0) return { left, reason: null };
  return { left, reason: failures.at(-1) ?? "the job did not complete (no error was reported)" };
}

/**
 * Runs `jobs` with at most `slot`'s number in flight (one at a time without it) and gathers what is left, with the
 * last reason, and how many jobs completed.
 *
 * @example const { left, completed } = await attemptJobs(deps, jobs, { quiet: true, slot: pLimit(16) });
 */
export async function attemptJobs(
  deps: IngestDeps,
  jobs: readonly IngestJob[],
  { quiet, slot }: { quiet?: boolean; slot?: LimitFunction } = {},
): Promise<JobAttempt & { completed: number }> {
  const limit = slot ?? pLimit(1);
  const attempts = await Promise.all(jobs.map((job) => limit(() => attemptJob(deps, job, { quiet }))));
  const reasons = attempts.flatMap((a) => (a.reason === null ? [] : [a.reason]));
  return {
    left: attempts.flatMap((a) => a.left),
    reason: reasons.at(-1) ?? null,
    completed: attempts.filter((a) => a.left.length === 0).length,
  };
}

/** `deps` with every call that can fail wrapped to note its error in `failures` (and rethrow it unchanged). */
function noting(deps: IngestDeps, failures: string[]): IngestDeps {
  const note =
    <A extends unknown[], R>(call: (...args: A) => Promise<R>, what: (...args: A) => string) =>
    async (...args: A): Promise<R> => {
      try {
        return await call(...args);
      } catch (err) {
        failures.push(`${what(...args)}: ${messageOf(err)}`);
        throw err;
      }
    };
  const { identity } = deps;
  return {
    loadRules: note(
      (ws: string) => deps.loadRules(ws),
      () => "loading identity rules",
    ),
    definitionsVersion: note(
      (ws: string) => deps.definitionsVersion(ws),
      () => "reading the definitions version",
    ),
    identity: {
      resolve: note(
        (...args: Parameters<IngestDeps["identity"]["resolve"]>) => identity.resolve(...args),
        () => "identity resolution",
      ),
      redirect: (ws, from, to) => identity.redirect(ws, from, to),
      forgetProfile: (ws, profileId) => identity.forgetProfile(ws, profileId),
      forgetIdentifiers: (ws, ids) => identity.forgetIdentifiers(ws, ids),
    },
    profile: (profileId) => {
      const stub = deps.profile(profileId);
      return {
        ingest: note(
          (input: IngestInput) => stub.ingest(input),
          () => `storing into profile ${profileId}`,
        ),
        mergeInto: note(
          (into: string, self?: MergedAway) => stub.mergeInto(into, self),
          (into) => `folding profile ${profileId} into ${into}`,
        ),
        foldIfMerged: async (self: MergedAway) => {
          await stub.foldIfMerged?.(self);
        },
      };
    },
    changes: deps.changes,
  };
}

const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** The messages jobs carry (a merge job carries none). */
export function messageIdsOf(jobs: readonly unknown[]): string[] {
  return jobs.flatMap((job) => (isIngestJob(job) && job.kind !== "merge" ? job.messages.map((m) => m.messageId) : []));
}

/** A dead letter's row for `jobs` left by a failed attempt, or for a body that is no job at all. */
export function deadLetterRow(
  body: unknown,
  attempt: JobAttempt | null,
): Pick<NewIngestDeadLetter, "workspaceId" | "jobs" | "messageCount" | "error"> {
  const jobs: unknown[] = attempt ? attempt.left : [body];
  const workspace = (body as { workspaceId?: unknown } | null)?.workspaceId;
  return {
    workspaceId: typeof workspace === "string" ? workspace : null,
    jobs: JSON.stringify(jobs),
    messageCount: messageIdsOf(jobs).length,
    error: attempt?.reason ?? UNREADABLE_JOB,
  };
}

/**
 * Replays pending dead letters in `scope` (the ones named by `ids`, else the `limit` tried the fewest times) through
 * the pipeline. Each that completes is marked replayed; each that fails again stays pending with what is still left
 * and the new reason.
 *
 * @example const outcome = await replayDeadLetters(env.DB, ingestDepsFor(env), { workspaceId }, { limit: 100 });
 */
export async function replayDeadLetters(
  db: D1Database,
  deps: IngestDeps,
  scope: DeadLetterScope,
  pick: { ids?: readonly number[]; limit: number },
): Promise<IngestDeadLettersReplayed> {
  const rows = await pendingDeadLetters(db, scope, pick);
  const found = new Set(rows.map((r) => r.id));
  const outcome: IngestDeadLettersReplayed = {
    replayed: [],
    failed: [],
    skipped: (pick.ids ?? []).filter((id) => !found.has(id)),
    remaining: 0,
  };
  // One at a time, oldest first: a replay is an operator's repair, not a race, and it keeps arrival order.
  for (const row of rows) {
    const settled = await settleReplay(db, deps, row, await replayRow(deps, row));
    if (settled === "replayed") outcome.replayed.push(row.id);
    else if (settled === "gone") outcome.skipped.push(row.id);
    else outcome.failed.push({ id: row.id, error: settled.error });
  }
  outcome.remaining = await countPendingDeadLetters(db, scope);
  return outcome;
}

/** A row that changed under a replay this many times in a row is left for the next replay. */
const SETTLE_TRIES = 3;

/**
 * Records what a replay of `row` left. A GDPR erase may have run while the replay did: it took its people's work out
 * of the row, and the jobs the replay read (and what it left of them) still hold it. So what is left goes through
 * the suppressions first, and is written only over the jobs the replay read; when the row changed meanwhile, only
 * what it still holds is kept. `gone` when the row was deleted (all of its work was erased people's) or replayed.
 */
async function settleReplay(
  db: D1Database,
  deps: IngestDeps,
  row: IngestDeadLetterRow,
  attempt: JobAttempt,
): Promise<"replayed" | "gone" | { error: string }> {
  const ran = runnableJobs(row);
  if (ran === null) {
    // Nothing ran, and an erase leaves a row it cannot read alone: only the attempt is counted.
    const failed = deadLetterRow(attempt.left[0] ?? null, attempt);
    await recordReplayFailure(db, row.id, row.jobs, failed);
    return { error: failed.error };
  }
  let left = attempt.left;
  if (left.length > 0) {
    try {
      left = await withoutErasedPeople(db, ran.workspaceId, left, await deps.loadRules(ran.workspaceId));
    } catch (err) {
      // Unchecked, what is left cannot be written back: the row keeps its jobs for the next replay, and counts the
      // attempt, or a replay without ids would pick it first every time (it takes the rows tried least first).
      const error = `checking the dead letter for erased people: ${messageOf(err)}`;
      await recordReplayFailure(db, row.id, row.jobs, { jobs: row.jobs, messageCount: row.messageCount, error });
      return { error };
    }
  }
  let read = row.jobs;
  for (let tries = 0; tries < SETTLE_TRIES; tries++) {
    if (left.length === 0) {
      await markIngestDeadLetterReplayed(db, row.id, Date.now());
      return "replayed";
    }
    const failed = deadLetterRow(left[0], { left, reason: attempt.reason });
    if (await recordReplayFailure(db, row.id, read, failed)) return { error: failed.error };
    const now = await findPendingDeadLetter(db, row.id);
    if (now === undefined) return "gone";
    left = stillHeld(left, jobsOfRow(read) ?? [], jobsOfRow(now.jobs) ?? []);
    read = now.jobs;
  }
  return { error: "the dead letter kept changing during the replay; replay it again" };
}

/**
 * What of `left` (what a replay left of the jobs `read`) the row still holds `now`: the messages still in it, and
 * the merges still in it or made by the replay itself (the row never held those, so nothing took them out).
 */
function stillHeld(left: readonly IngestJob[], read: readonly IngestJob[], now: readonly IngestJob[]): IngestJob[] {
  const messages = new Set(messageIdsOf(now));
  const merges = (jobs: readonly IngestJob[]) =>
    new Set(jobs.flatMap((job) => (job.kind === "merge" ? [`${job.from} ${job.into}`] : [])));
  const [mergesRead, mergesNow] = [merges(read), merges(now)];
  return left.flatMap((job): IngestJob[] => {
    if (job.kind === "merge") {
      const merge = `${job.from} ${job.into}`;
      return mergesNow.has(merge) || !mergesRead.has(merge) ? [job] : [];
    }
    const kept = job.messages.filter((m) => messages.has(m.messageId));
    if (kept.length === 0) return [];
    return [kept.length === job.messages.length ? job : { ...job, messages: kept }];
  });
}

/** Runs every job of a row; what fails again is kept. A row that cannot run stays as it is. */
async function replayRow(deps: IngestDeps, row: IngestDeadLetterRow): Promise<JobAttempt> {
  const runnable = runnableJobs(row);
  if (runnable === null) {
    const jobs = JSON.parse(row.jobs) as IngestJob[];
    const readable = jobsOfRow(row.jobs) !== null;
    return { left: jobs, reason: readable ? "a job names another workspace than its dead letter" : UNREADABLE_JOB };
  }
  // One at a time, in order: a replay is an operator's repair, not a race.
  return attemptJobs(deps, runnable.jobs);
}

/**
 * A row's jobs, if the pipeline runs them: each one readable, and of the row's workspace (a job claiming another one
 * is not replayed under this row's authority).
 */
function runnableJobs(row: IngestDeadLetterRow): { workspaceId: string; jobs: IngestJob[] } | null {
  const jobs = jobsOfRow(row.jobs);
  const { workspaceId } = row;
  if (jobs === null || workspaceId === null || jobs.some((job) => job.workspaceId !== workspaceId)) return null;
  return { workspaceId, jobs };
}

/**
 * What one run of a GDPR erase reads of the dead letters: pages of at most 200 rows or ~512 KB of jobs, at most 10
 * pages (~5 MB, 30 D1 queries). The cron runs up to 25 erasures side by side in one isolate and invocation, so a
 * workspace with tens of thousands of dead letters (an hour's outage) is read over several runs, from where the last
 * one stopped, instead of all at once by every erasure.
 */
const ERASE_READ = { rows: 200, bytes: 512 * 1024, pages: 10 } as const;

/** Who a GDPR erase took out, as work left behind is checked against it. */
interface ErasedPeople {
  profile(id: string): boolean;
  identifier(id: Identifier): boolean;
}

/**
 * What is left of `jobs` without `erased`'s work: a job delivering to one of their profiles (or carrying one of their
 * identifiers) or merging one goes, and so does each message still to resolve that carries one of their identifiers
 * (read under the workspace's `rules`, as the pipeline reads it). `null` when nothing was theirs.
 */
function withoutErased(jobs: readonly IngestJob[], erased: ErasedPeople, rules: IdentityRules): IngestJob[] | null {
  const theirs = (m: AcceptedMessage) => extractIdentifiers(m, rules).identifiers.some(erased.identifier);
  const left: IngestJob[] = [];
  let changed = false;
  for (const job of jobs) {
    if (job.kind === "merge") {
      if (!erased.profile(job.from) && !erased.profile(job.into)) left.push(job);
      else changed = true;
    } else if (job.kind === "deliver" && (erased.profile(job.profileId) || job.identifiers.some(erased.identifier))) {
      changed = true;
    } else if (job.kind === "resolve") {
      const kept = job.messages.filter((m) => !theirs(m));
      if (kept.length < job.messages.length) changed = true;
      if (kept.length > 0) left.push(kept.length < job.messages.length ? { ...job, messages: kept } : job);
    } else left.push(job);
  }
  return changed ? left : null;
}

/**
 * `jobs` of `workspaceId` about to become a dead letter, without the work of people erased meanwhile. An erase takes
 * its people out of the dead letters there are when it runs; a retry of their message that fails after that (the
 * queue kept it through the outage) would otherwise keep their events in a row no erase reads again. Their
 * identifiers are suppressed by then, so the row is checked against the suppressions: one D1 round trip.
 *
 * @example const kept = await withoutErasedPeople(env.DB, ws, attempt.left, await deps.loadRules(ws));
 */
export async function withoutErasedPeople(
  db: D1Database,
  workspaceId: string,
  jobs: IngestJob[],
  rules: IdentityRules,
): Promise<IngestJob[]> {
  const carried = jobs.flatMap((job) => {
    if (job.kind === "deliver") return job.identifiers;
    if (job.kind === "resolve") return job.messages.flatMap((m) => extractIdentifiers(m, rules).identifiers);
    return [];
  });
  const distinct = [...new Map(carried.map((id) => [keyOf(id), id])).values()];
  const suppressed = await erasedAmong(db, workspaceId, distinct);
  if (suppressed.size === 0) return jobs;
  const erased = { profile: () => false, identifier: (id: Identifier) => suppressed.has(keyOf(id)) };
  return withoutErased(jobs, erased, rules) ?? jobs;
}

/**
 * Takes GDPR-erased people out of the workspace's ingest dead letters, pending and replayed, after id `from`, for
 * at most one run's pages ({@link ERASE_READ}), as {@link withoutErased} reads jobs. A row left with no job is
 * deleted; a row that no version can read is left as it is. Returns the id to go on after, or `null` once every
 * dead letter was read.
 *
 * @example const next = await eraseFromIngestDeadLetters(env.DB, ws, { profileIds, identifiers }, rules, 0);
 */
export async function eraseFromIngestDeadLetters(
  db: D1Database,
  workspaceId: string,
  erased: { profileIds: readonly string[]; identifiers: readonly Identifier[] },
  rules: IdentityRules,
  from: number,
): Promise<number | null> {
  const profiles = new Set(erased.profileIds);
  const keys = new Set(erased.identifiers.map(keyOf));
  const people: ErasedPeople = { profile: (id) => profiles.has(id), identifier: (id) => keys.has(keyOf(id)) };
  let after = from;
  for (let pages = 0; pages < ERASE_READ.pages; pages++) {
    const page = await ingestDeadLettersAfter(db, workspaceId, after, ERASE_READ);
    if (page.length === 0) return null;
    const rewritten: Array<{ id: number; jobs: string | null; messageCount: number }> = [];
    for (const row of page) {
      const jobs = jobsOfRow(row.jobs);
      const left = jobs === null ? null : withoutErased(jobs, people, rules);
      if (left === null) continue;
      rewritten.push({
        id: row.id,
        jobs: left.length === 0 ? null : JSON.stringify(left),
        messageCount: messageIdsOf(left).length,
      });
    }
    await rewriteIngestDeadLetters(db, rewritten);
    after = page[page.length - 1].id;
  }
  return after;
}

/** A dead letter's jobs, or null when it holds a body no version of the pipeline can read (see `replayRow`). */
function jobsOfRow(text: string): IngestJob[] | null {
  const jobs = JSON.parse(text) as unknown[];
  return jobs.every(isIngestJob) ? jobs : null;
}
