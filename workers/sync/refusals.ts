/**
 * What a destination's vendor refused for good (a `fail` outcome, dead-lettered), per profile and audience, in the
 * destination object's SQLite. Reconciliation sees such a member as "not at the vendor" and would queue it again every
 * minute — a vendor call and a new dead letter each time, forever. A repair that states exactly what was refused is
 * therefore not queued; one that states something else (the profile's email or synced traits changed since) is, and
 * so is every change from the profile itself and every replayed dead letter (a replay forgets the refusal).
 */
import type { MembershipSyncOp } from "./sync-op";

export const REFUSALS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS refused (
    profile_id TEXT NOT NULL,
    audience   TEXT NOT NULL,
    state      TEXT NOT NULL,
    PRIMARY KEY (profile_id, audience)
  ) WITHOUT ROWID;
`;

/**
 * What a membership operation asks of the vendor: in or out, under which email, with which traits (keys sorted: an
 * operation from the queue and a repair select the same traits in different orders).
 */
function stateOf(op: MembershipSyncOp): string {
  const traits = Object.keys(op.traits)
    .sort()
    .map((key) => [key, op.traits[key]]);
  return JSON.stringify([op.member, op.email ?? null, traits]);
}

/** The vendor refused `op` for good: a repair stating the same is not queued again. */
export function recordRefusal(sql: SqlStorage, op: MembershipSyncOp): void {
  sql.exec(
    `INSERT INTO refused (profile_id, audience, state) VALUES (?1, ?2, ?3)
     ON CONFLICT (profile_id, audience) DO UPDATE SET state = ?3`,
    op.profileId,
    op.audience,
    stateOf(op),
  );
}

/** The membership's latest attempt did not fail for good (it went through, or will be tried again). */
export function clearRefusal(sql: SqlStorage, profileId: string, audience: string): void {
  sql.exec("DELETE FROM refused WHERE profile_id = ? AND audience = ?", profileId, audience);
}

/** Every refusal of a profile (a GDPR delete: the state holds its email and traits). */
export function forgetRefusals(sql: SqlStorage, profileId: string): void {
  sql.exec("DELETE FROM refused WHERE profile_id = ?", profileId);
}

/** Whether the vendor refused for good exactly what `op` states. */
export function wasRefused(sql: SqlStorage, op: MembershipSyncOp): boolean {
  return (
    sql
      .exec(
        "SELECT 1 FROM refused WHERE profile_id = ? AND audience = ? AND state = ?",
        op.profileId,
        op.audience,
        stateOf(op),
      )
      .toArray().length > 0
  );
}
