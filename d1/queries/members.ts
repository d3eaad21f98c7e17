/**
 * Who is in each audience (`audience_members`) and who has a value for each computed trait
 * (`computed_trait_members`): written by each ProfileDO after the commit that changed it, read for `size` and
 * member listings. Both tables have the same shape, so every query takes the definition kind. A leave's seq is kept in
 * `member_exits`, so that no change older than it, delivered late, makes the profile a member again: until the profile
 * is back in (its row's seq guards from then) or a late change can no longer arrive (`MEMBER_EXIT_RETENTION_MS`).
 */
import { and, asc, eq, getTableName, gt } from "drizzle-orm";
import { inJsonList, orm } from "../client";
import { audienceMembers, computedTraitMembers, memberExits } from "../schema";
import type { DefinitionKind } from "./definitions";

const TABLES = {
  audience: { table: audienceMembers, key: audienceMembers.audience },
  computed_trait: { table: computedTraitMembers, key: computedTraitMembers.trait },
} as const;

/** The member table of a definition kind and its definition-key column. */
export function memberTable(kind: DefinitionKind) {
  return TABLES[kind];
}

/** One profile entering (`member`) or leaving an audience, or gaining or losing a computed-trait value. */
export interface MemberChange {
  kind: DefinitionKind;
  key: string;
  member: boolean;
  /** Epoch ms the change took effect. */
  at: number;
  /** The profile's sequence number for this change; a row is only replaced by a newer one. */
  seq: number;
  /**
   * `created_at` of the definition the profile evaluated: a key deleted and defined again names another definition,
   * and a change of the one before (delivered late, or again) must not make the profile a member of the new one.
   * Absent from changes queued before the profile named it; those apply to whichever definition holds the key.
   */
  definitionCreatedAt?: number;
}

/** One profile's changes, oldest first. */
export interface ProfileMemberChanges {
  profileId: string;
  changes: MemberChange[];
}

/**
 * Applies one profile's changes, oldest first, in one D1 batch. Idempotent: re-applying a flush that already
 * landed (the DO retries until it hears success) changes nothing, and an older change never undoes a newer one.
 *
 * @example await applyMemberChanges(env.DB, ws, "prf_…", [{ kind: "audience", key: "vip", member: true, at, seq: 7 }]);
 */
export function applyMemberChanges(
  db: D1Database,
  workspaceId: string,
  profileId: string,
  changes: MemberChange[],
): Promise<void> {
  return applyManyMemberChanges(db, workspaceId, [{ profileId, changes }]);
}

/** Rows per statement of {@link applyManyMemberChanges}: its JSON parameter stays far below D1's 2 MB per value. */
const ROWS_PER_STATEMENT = 500;

/**
 * Many profiles' changes in one D1 batch (one transaction, one round trip), with the same guarantees.
 *
 * Raw SQL, two statements per kind and direction whose rows travel as one `json_each` parameter: this
 * runs for every new profile of a workspace with definitions (a new visitor enters ~17 audiences and computed traits at
 * once), and one drizzle statement per change cost ~3 ms of the Worker's CPU per visitor to build, and D1 one statement
 * each (bench/README.md, "Where a workspace's definitions cost a new visitor"). Set-based needs the changes collapsed
 * first — per profile and key, the newest leave and an enter newer than it — and leaves before enters: the same end
 * state, `since` included, as applying them one by one, oldest first.
 */
export async function applyManyMemberChanges(
  db: D1Database,
  workspaceId: string,
  profiles: ProfileMemberChanges[],
  now = Date.now(),
): Promise<void> {
  const statements = memberChangeStatements(db, workspaceId, profiles, now);
  if (statements.length > 0) await db.batch(statements);
}

/** The statements of {@link applyManyMemberChanges}; `now` is when D1 takes the leaves (`member_exits.exited_at`). */
export function memberChangeStatements(
  db: D1Database,
  workspaceId: string,
  profiles: ProfileMemberChanges[],
  now: number,
): D1PreparedStatement[] {
  const statements: D1PreparedStatement[] = [];
  /** `text` bound to the workspace (?1), `rows` as JSON (?2) and `more` (?3…), {@link ROWS_PER_STATEMENT} rows each. */
  const inChunks = (text: string, rows: unknown[], ...more: Array<string | number>) => {
    for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT)
      statements.push(
        db.prepare(text).bind(workspaceId, JSON.stringify(rows.slice(i, i + ROWS_PER_STATEMENT)), ...more),
      );
  };
  // A GDPR erase deletes the profile's rows once its object is wiped; a change still on its way (a request holds what
  // its profiles handed back until the others answer) must not write them again.
  const notErased = `NOT EXISTS (SELECT 1 FROM erased_profiles AS e
    WHERE e.workspace_id = ?1 AND e.profile_id = j.value ->> 1)`;
  // Only the definition the change names (kind ?3, key and created_at at these JSON paths) is written to: not one
  // deleted since (deleting it deleted its rows, and nothing would delete these), nor the one that took its key since.
  const ofItsDefinition = (createdAt: string) => `EXISTS (SELECT 1 FROM definitions AS d
    WHERE d.workspace_id = ?1 AND d.kind = ?3 AND d.key = j.value ->> 0
      AND d.created_at = coalesce(j.value ->> ${createdAt}, d.created_at))`;
  for (const [kind, { leaves, enters }] of collapse(profiles)) {
    const name = getTableName(TABLES[kind].table);
    const keyColumn = TABLES[kind].key.name;
    // A row is only removed by a newer leave ([key, profile, seq, definition's created_at]), whatever definition it
    // names: the profile's changes of a key's earlier definition all have lower seqs than its first of the current one.
    // CROSS JOIN keeps `json_each` the outer loop: one primary-key lookup per leave (see `joinKeys` in
    // identity-graph-sql.ts).
    inChunks(
      `DELETE FROM ${name} WHERE rowid IN (
         SELECT m.rowid FROM json_each(?2) AS j CROSS JOIN ${name} AS m
         ON m.workspace_id = ?1 AND m.${keyColumn} = j.value ->> 0 AND m.profile_id = j.value ->> 1
         WHERE m.seq < j.value ->> 2)`,
      leaves,
    );
    // The leave's seq outlives the row it deleted (see `member_exits`). Only for the definition it names, when that
    // exists: deleting one deletes its exits, and every member then leaves it, which would leave rows behind for ever.
    // Nor while the member row is still there: the leave did not delete it, so the row is newer and its seq guards.
    inChunks(
      `INSERT INTO member_exits (workspace_id, kind, key, profile_id, seq, exited_at)
       SELECT ?1, ?3, j.value ->> 0, j.value ->> 1, j.value ->> 2, ?4 FROM json_each(?2) AS j
       WHERE ${ofItsDefinition("3")} AND ${notErased}
         AND NOT EXISTS (SELECT 1 FROM ${name} AS m
           WHERE m.workspace_id = ?1 AND m.${keyColumn} = j.value ->> 0 AND m.profile_id = j.value ->> 1)
       ON CONFLICT (workspace_id, kind, key, profile_id) DO UPDATE SET seq = excluded.seq, exited_at = excluded.exited_at
       WHERE excluded.seq > member_exits.seq`,
      leaves,
      kind,
      now,
    );
    // [key, profile, since, seq, definition's created_at]. An entry older than the profile's newest leave is already
    // undone. Re-entering keeps the original `since` only if the row was never left (a leave deleted it); a newer seq
    // always wins.
    inChunks(
      `INSERT INTO ${name} (workspace_id, ${keyColumn}, profile_id, since, seq)
       SELECT ?1, j.value ->> 0, j.value ->> 1, j.value ->> 2, j.value ->> 3 FROM json_each(?2) AS j
       WHERE ${ofItsDefinition("4")} AND NOT EXISTS (SELECT 1 FROM member_exits AS x WHERE x.workspace_id = ?1 AND x.kind = ?3
           AND x.key = j.value ->> 0 AND x.profile_id = j.value ->> 1 AND x.seq > j.value ->> 3)
         AND ${notErased}
       ON CONFLICT (workspace_id, ${keyColumn}, profile_id) DO UPDATE SET seq = excluded.seq
       WHERE excluded.seq > ${name}.seq`,
      enters,
      kind,
    );
    // A profile back in: its row's newer seq now refuses whatever its exit refused (an older entry finds the row and
    // is not newer; an older leave does not delete it), so the exit has nothing left to guard.
    inChunks(
      `DELETE FROM member_exits WHERE rowid IN (
         SELECT x.rowid FROM json_each(?2) AS j CROSS JOIN member_exits AS x
         ON x.workspace_id = ?1 AND x.kind = ?3 AND x.key = j.value ->> 0 AND x.profile_id = j.value ->> 1
         WHERE EXISTS (SELECT 1 FROM ${name} AS m
           WHERE m.workspace_id = ?1 AND m.${keyColumn} = x.key AND m.profile_id = x.profile_id AND m.seq > x.seq))`,
      enters,
      kind,
    );
  }
  return statements;
}

type Leave = [key: string, profileId: string, seq: number, definitionCreatedAt: number | null];
type Enter = [key: string, profileId: string, since: number, seq: number, definitionCreatedAt: number | null];

/**
 * Per kind: for each profile and key, its newest leave, and its newest enter when that is newer than the leave — with
 * the `since` of the first enter after that leave: the later ones are restatements (a member's traits changed), which
 * applied one by one only move the row's seq.
 */
function collapse(profiles: ProfileMemberChanges[]): Map<DefinitionKind, { leaves: Leave[]; enters: Enter[] }> {
  type Changes = { kind: DefinitionKind; key: string; profileId: string; leave?: MemberChange; enters: MemberChange[] };
  const byProfileKey = new Map<string, Changes>();
  for (const { profileId, changes } of profiles) {
    for (const c of changes) {
      const id = `${c.kind}\u0000${c.key}\u0000${profileId}`;
      const entry = byProfileKey.get(id) ?? { kind: c.kind, key: c.key, profileId, enters: [] };
      byProfileKey.set(id, entry);
      if (c.member) entry.enters.push(c);
      else if ((entry.leave?.seq ?? -Infinity) < c.seq) entry.leave = c;
    }
  }
  const byKind = new Map<DefinitionKind, { leaves: Leave[]; enters: Enter[] }>();
  for (const { kind, key, profileId, leave, enters } of byProfileKey.values()) {
    const rows = byKind.get(kind) ?? { leaves: [], enters: [] };
    byKind.set(kind, rows);
    if (leave) rows.leaves.push([key, profileId, leave.seq, leave.definitionCreatedAt ?? null]);
    const since = enters.filter((c) => c.seq > (leave?.seq ?? -Infinity)).sort((a, b) => a.seq - b.seq);
    const [first, last] = [since[0], since.at(-1)];
    if (first && last) rows.enters.push([key, profileId, first.at, last.seq, last.definitionCreatedAt ?? null]);
  }
  return byKind;
}

/** Members of one definition in profile-id order, after `after` (a keyset cursor), `limit` + 1 to tell if more. */
export function listMembers(
  db: D1Database,
  workspaceId: string,
  kind: DefinitionKind,
  definitionKey: string,
  page: { after?: string; limit: number },
): Promise<Array<{ profileId: string; since: number }>> {
  const { table, key } = TABLES[kind];
  const where = [eq(table.workspaceId, workspaceId), eq(key, definitionKey)];
  if (page.after !== undefined) where.push(gt(table.profileId, page.after));
  return orm(db)
    .select({ profileId: table.profileId, since: table.since })
    .from(table)
    .where(and(...where))
    .orderBy(asc(table.profileId))
    .limit(page.limit + 1);
}

/** The deletes of every member row of a definition and of its exits, to batch with the definition's own delete. */
export function deleteMembersOf(db: D1Database, workspaceId: string, kind: DefinitionKind, definitionKey: string) {
  const { table, key } = TABLES[kind];
  const d = orm(db);
  return [
    d.delete(table).where(and(eq(table.workspaceId, workspaceId), eq(key, definitionKey))),
    d
      .delete(memberExits)
      .where(
        and(eq(memberExits.workspaceId, workspaceId), eq(memberExits.kind, kind), eq(memberExits.key, definitionKey)),
      ),
  ] as const;
}

/**
 * The deletes of every membership and exit of the given profiles (GDPR erase), to batch with the rest of the erase.
 * Changes delivered later are refused by the profile's `erased_profiles` row (see {@link memberChangeStatements}).
 */
export function deleteMembershipsOfProfiles(db: D1Database, workspaceId: string, profileIds: string[]) {
  const d = orm(db);
  return [...Object.values(TABLES).map(({ table }) => table), memberExits].map((table) =>
    d.delete(table).where(and(eq(table.workspaceId, workspaceId), inJsonList(table.profileId, profileIds))),
  );
}
