/**
 * Who is in each audience (`audience_members`) and who has a value for each computed trait
 * (`computed_trait_members`): written by each ProfileDO after the commit that changed it, read for `size` and
 * member listings. Both tables have the same shape, so every query takes the definition kind.
 */
import { and, asc, eq, gt, inArray, sql } from "drizzle-orm";
import { orm } from "../client";
import { audienceMembers, computedTraitMembers } from "../schema";
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

/** Many profiles' changes in one D1 batch (one transaction, one round trip), with the same guarantees. */
export async function applyManyMemberChanges(
  db: D1Database,
  workspaceId: string,
  profiles: ProfileMemberChanges[],
): Promise<void> {
  const d = orm(db);
  const statements = profiles.flatMap(({ profileId, changes }) =>
    changes.map((c) => {
      const { table, key } = TABLES[c.kind];
      if (c.member) {
        return d
          .insert(table)
          .values({
            workspaceId,
            profileId,
            since: c.at,
            seq: c.seq,
            [c.kind === "audience" ? "audience" : "trait"]: c.key,
          } as typeof table.$inferInsert)
          .onConflictDoUpdate({
            target: [table.workspaceId, key, table.profileId],
            // Re-entering keeps the original `since` only if the row was never left; a newer seq always wins.
            set: { seq: sql`excluded.seq` },
            setWhere: sql`excluded.seq > ${table.seq}`,
          });
      }
      return d
        .delete(table)
        .where(
          and(
            eq(table.workspaceId, workspaceId),
            eq(key, c.key),
            eq(table.profileId, profileId),
            sql`${table.seq} < ${c.seq}`,
          ),
        );
    }),
  );
  if (statements.length === 0) return;
  await d.batch(statements as [(typeof statements)[number], ...typeof statements]);
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

/** The delete of every member row of a definition, to batch with the definition's own delete. */
export function deleteMembersOf(db: D1Database, workspaceId: string, kind: DefinitionKind, definitionKey: string) {
  const { table, key } = TABLES[kind];
  return orm(db)
    .delete(table)
    .where(and(eq(table.workspaceId, workspaceId), eq(key, definitionKey)));
}

/** The deletes of every membership of the given profiles (GDPR erase), to batch with the rest of the erase. */
export function deleteMembershipsOfProfiles(db: D1Database, workspaceId: string, profileIds: string[]) {
  return Object.values(TABLES).map(({ table }) =>
    orm(db)
      .delete(table)
      .where(and(eq(table.workspaceId, workspaceId), inArray(table.profileId, profileIds))),
  );
}
