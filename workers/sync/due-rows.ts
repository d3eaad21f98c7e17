/**
 * Which queued operations one drain of a destination takes (DESIGN §7 "chunking to each vendor's limits"). A vendor
 * takes a list change per audience, up to its batch: a drain that took its rows across all audiences at once would
 * split each audience's share into partial chunks while more of it waits (Marketo once spent 211 requests on 7,500
 * memberships that fit in 25 full ones). So each audience with due work gets a whole number of the vendor's batches,
 * and only the last chunk of an audience can be partial: when that is all it has waiting. A lone change is one
 * partial chunk and goes out at once.
 *
 * Every statement is a seek on the object's `pending_by_audience (audience, not_before)` index: a backlog of millions
 * costs a drain only the rows it takes, plus two seeks per audience.
 */

/** A queued operation as a drain reads it. */
export interface PendingRow extends Record<string, SqlStorageValue> {
  profile_id: string;
  audience: string;
  seq: number;
  op: string;
  attempts: number;
}

/**
 * The due rows (`not_before <= now`) of a drain: about `budget` in all, split between the audiences with due work in
 * whole batches of `batch`, at least one batch each; oldest first within an audience. Deletes are the audience "".
 *
 * @example
 * const rows = dueRows(ctx.storage.sql, Date.now(), { batch: 300, budget: 1000 }); // five audiences: 300 each
 */
export function dueRows(sql: SqlStorage, now: number, sizes: { batch: number; budget: number }): PendingRow[] {
  const batch = Math.max(1, sizes.batch);
  const due = audiencesWithDueRows(sql, now);
  if (due.length === 0) return [];
  const perAudience = batch * Math.max(1, Math.floor(sizes.budget / batch / due.length));
  return due.flatMap((audience) =>
    sql
      .exec<PendingRow>(
        `SELECT profile_id, audience, seq, op, attempts FROM pending
         WHERE audience = ? AND not_before <= ? ORDER BY not_before LIMIT ?`,
        audience,
        now,
        perAudience,
      )
      .toArray(),
  );
}

/** The audiences holding at least one due row, found by skipping from audience to audience along the index. */
function audiencesWithDueRows(sql: SqlStorage, now: number): string[] {
  const due: string[] = [];
  let after: string | null = null;
  for (;;) {
    const next: string | null = (
      after === null
        ? sql.exec<{ audience: string | null }>("SELECT min(audience) AS audience FROM pending")
        : sql.exec<{ audience: string | null }>(
            "SELECT min(audience) AS audience FROM pending WHERE audience > ?",
            after,
          )
    ).one().audience;
    if (next === null) return due;
    const hasDue = sql
      .exec("SELECT 1 FROM pending WHERE audience = ? AND not_before <= ? LIMIT 1", next, now)
      .toArray().length;
    if (hasDue > 0) due.push(next);
    after = next;
  }
}
