/**
 * Items a vendor only accepted into an asynchronous job (an `ok` outcome naming its `job`: Klaviyo's bulk import),
 * kept in the destination object's SQLite until the job is done: its `202` is not the item's outcome, and a profile
 * that fails while the job runs must reach the sync log and the dead letters, not stay counted as delivered. The drain
 * asks the plugin how each due job ended (`DestinationPlugin.jobOutcome`) and settles what it names.
 */
import type { MembershipSyncOp } from "./sync-op";

export const VENDOR_JOBS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS awaiting_jobs (
    job        TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    audience   TEXT NOT NULL,
    seq        INTEGER NOT NULL,
    email      TEXT NOT NULL,
    action     TEXT NOT NULL,
    attempts   INTEGER NOT NULL,
    op         TEXT NOT NULL,
    check_at   INTEGER NOT NULL,
    give_up_at INTEGER NOT NULL,
    PRIMARY KEY (job, profile_id, audience)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS awaiting_jobs_due ON awaiting_jobs (check_at);
  CREATE INDEX IF NOT EXISTS awaiting_jobs_by_item ON awaiting_jobs (profile_id, audience);
  CREATE INDEX IF NOT EXISTS awaiting_jobs_by_email ON awaiting_jobs (email);
  CREATE TABLE IF NOT EXISTS job_waits (
    job        TEXT NOT NULL,
    profile_id TEXT NOT NULL,
    audience   TEXT NOT NULL,
    PRIMARY KEY (job, profile_id, audience)
  ) WITHOUT ROWID;
  CREATE INDEX IF NOT EXISTS job_waits_by_profile ON job_waits (profile_id);
`;

/** The first look at a job: small jobs are done within seconds. */
const FIRST_CHECK_MS = 2_000;
/** Then every this long while it runs (a job of 10,000 takes minutes; reading one is a request of 150 a minute). */
const RECHECK_MS = 15_000;
/**
 * How long a job is asked after at most: one that still runs, or cannot be read, after this (a vendor that stays
 * unreachable, a job it lost) ends with its outcome unknown rather than being asked forever.
 */
const GIVE_UP_MS = 24 * 3_600_000;
/** Jobs looked at per drain. */
export const JOBS_PER_DRAIN = 10;
/** An item waiting for a job is tried again no sooner than this (the job's next look is usually later). */
const JOB_WAIT_MIN_MS = 1_000;

export interface AwaitedItem extends Record<string, SqlStorageValue> {
  job: string;
  profile_id: string;
  audience: string;
  seq: number;
  email: string;
  action: "add" | "remove" | "upsert";
  attempts: number;
  op: string;
}

/** Remembers an item the vendor took into `jobs`, to settle it once they are done. */
export function awaitJobs(
  sql: SqlStorage,
  jobs: readonly string[],
  item: { op: MembershipSyncOp; email: string; action: AwaitedItem["action"]; attempts: number },
): void {
  for (const job of jobs) {
    sql.exec(
      `INSERT INTO awaiting_jobs (job, profile_id, audience, seq, email, action, attempts, op, check_at, give_up_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
       ON CONFLICT (job, profile_id, audience) DO UPDATE SET seq = ?4, email = ?5, action = ?6, attempts = ?7, op = ?8`,
      job,
      item.op.profileId,
      item.op.audience,
      item.op.seq,
      item.email,
      item.action,
      item.attempts,
      JSON.stringify(item.op),
      Date.now() + FIRST_CHECK_MS,
      Date.now() + GIVE_UP_MS,
    );
  }
}

/** The jobs due for a look, oldest check first. */
export function dueJobs(sql: SqlStorage, now: number): string[] {
  return sql
    .exec<{ job: string }>(
      "SELECT job FROM awaiting_jobs WHERE check_at <= ? GROUP BY job ORDER BY min(check_at) LIMIT ?",
      now,
      JOBS_PER_DRAIN,
    )
    .toArray()
    .map((r) => r.job);
}

/** The job still runs (or could not be read): look again later. False once it is time to give up on it. */
export function postponeJob(sql: SqlStorage, job: string): boolean {
  const now = Date.now();
  const waited = sql
    .exec(
      "UPDATE awaiting_jobs SET check_at = ?1 WHERE job = ?2 AND give_up_at > ?1 RETURNING 1",
      now + RECHECK_MS,
      job,
    )
    .toArray();
  return waited.length > 0;
}

/** The items still awaiting `job`. */
export function itemsOfJob(sql: SqlStorage, job: string): AwaitedItem[] {
  return sql.exec<AwaitedItem>("SELECT * FROM awaiting_jobs WHERE job = ?", job).toArray();
}

/** The job is settled: nothing more awaits it. */
export function forgetJob(sql: SqlStorage, job: string): void {
  sql.exec("DELETE FROM awaiting_jobs WHERE job = ?", job);
  sql.exec("DELETE FROM job_waits WHERE job = ?", job);
}

/**
 * Whether this is the item's first wait for `job`: the sync log says it waits once, not at every look at the job
 * (every 15 s while a job of thousands runs, for each of the thousands a mass exit may hold).
 */
export function firstWaitFor(sql: SqlStorage, job: string, profileId: string, audience: string): boolean {
  return (
    sql
      .exec(
        "INSERT INTO job_waits (job, profile_id, audience) VALUES (?, ?, ?) ON CONFLICT DO NOTHING RETURNING 1",
        job,
        profileId,
        audience,
      )
      .toArray().length > 0
  );
}

/** What this object remembers of a profile's waits and jobs, forgotten when the person is erased. */
export function forgetJobsOf(sql: SqlStorage, profileId: string): void {
  sql.exec("DELETE FROM awaiting_jobs WHERE profile_id = ?", profileId);
  sql.exec("DELETE FROM job_waits WHERE profile_id = ?", profileId);
}

/**
 * An item is settled (failed in one job): it no longer awaits any other. An entry may ride in two jobs (its upsert's
 * and its list's), and both report the same refusal: one sync log row and one dead letter, not two.
 */
export function forgetItem(sql: SqlStorage, item: Pick<AwaitedItem, "profile_id" | "audience" | "seq">): void {
  sql.exec(
    "DELETE FROM awaiting_jobs WHERE profile_id = ? AND audience = ? AND seq = ?",
    item.profile_id,
    item.audience,
    item.seq,
  );
}

/** When the next job is due for a look, if any awaits. */
export function nextJobCheck(sql: SqlStorage): number | null {
  return sql.exec<{ at: number | null }>("SELECT min(check_at) AS at FROM awaiting_jobs").one().at;
}

/**
 * A job still awaited that holds an older state of the contact with this email, if any. The vendor writes a job's
 * contacts when it runs, so a newer state sent at once (Klaviyo's `profile-import`) would be overwritten by it: such
 * an upsert waits for the job instead ({@link waitForJob}).
 */
export function jobHolding(sql: SqlStorage, email: string): string | undefined {
  return sql
    .exec<{ job: string }>(
      "SELECT job FROM awaiting_jobs WHERE email = ? AND give_up_at > ? ORDER BY check_at LIMIT 1",
      email,
      Date.now(),
    )
    .toArray()[0]?.job;
}

/**
 * A job still awaited that adds the contact with this email to `audience`'s list (or upserts it on the way there), if
 * any. The vendor lists a job's contacts when it runs, so a removal sent meanwhile would be undone by it: the removal
 * waits for the job instead ({@link waitForJob}). Only this contact's jobs hold it, not every job adding to the list.
 */
export function jobListing(sql: SqlStorage, audience: string, email: string): string | undefined {
  return sql
    .exec<{ job: string }>(
      `SELECT job FROM awaiting_jobs WHERE email = ? AND audience = ? AND action = 'add' AND give_up_at > ?
       ORDER BY check_at LIMIT 1`,
      email,
      audience,
      Date.now(),
    )
    .toArray()[0]?.job;
}

/**
 * When an item that waits for `job` (an outcome's `waitsFor`: a removal from a list the job still adds to, an upsert
 * the job would overwrite) is tried again: once the engine has looked at the job again, and without spending an
 * attempt, as a job that runs for long is normal. Undefined once the job is no longer awaited (settled, or past its
 * give-up window): the item's retry is then an ordinary one.
 */
export function waitForJob(sql: SqlStorage, job: string): number | undefined {
  const now = Date.now();
  const at = sql
    .exec<{ at: number | null }>(
      "SELECT min(check_at) AS at FROM awaiting_jobs WHERE job = ? AND give_up_at > ?",
      job,
      now,
    )
    .one().at;
  return at === null ? undefined : Math.max(at, now + JOB_WAIT_MIN_MS);
}
