import type { Identifier, MergeRecord } from "@tessera/protocol";
import { isStaleWrite, readGraph, writeStatements } from "./graph-d1";
import { keyOf } from "./graph-snapshot";
import type { DroppedLink, IdentityStore, ResolveInput, ResolveOutcome } from "./identity-store";
import { planResolve } from "./resolve-plan";
import type { IdentityRules } from "./rules";

/** Attempts before a resolve gives up under contention (the collector then retries the batch from its queue). */
const MAX_ATTEMPTS = 8;
/** Merge chains are short (each merge points at the oldest profile); this only stops a corrupt cycle. */
const MAX_CHAIN = 64;

/**
 * The identity graph in D1, the one authority for identifier → profile.
 *
 * `resolve` costs one read round trip (every identifier of every input, plus suppressions and the owning
 * profiles' counts, in one `batch()`), then — only when something changes — one write `batch()`. The write is
 * guarded by what was read (optimistic concurrency): when another request changed the same part of the graph
 * meanwhile, D1 rolls the batch back and the resolve starts over from a fresh read. Concurrent first sightings
 * therefore converge on the first writer's profile, and concurrent merges on the oldest profile.
 *
 * @example const store = new D1IdentityStore(env.DB); const [outcome] = await store.resolve(ws, rules, inputs);
 */
export class D1IdentityStore implements IdentityStore {
  constructor(readonly db: D1Database) {}

  async resolve(workspaceId: string, rules: IdentityRules, inputs: ResolveInput[]): Promise<ResolveOutcome[]> {
    const keys = new Map<string, Identifier>();
    for (const input of inputs) {
      for (const id of input.identifiers) keys.set(keyOf(id), id);
      if (input.previousId !== undefined) {
        const asUser = { type: "user_id", value: input.previousId };
        keys.set(keyOf(asUser), asUser);
      }
    }
    for (let attempt = 1; ; attempt++) {
      const snapshot = await readGraph(this.db, workspaceId, [...keys.values()]);
      const now = Date.now();
      const { outcomes, plan } = planResolve(snapshot, rules, inputs, now);
      const statements = writeStatements(this.db, workspaceId, plan, now);
      const writes = plan.newProfiles.length + plan.claims.length + plan.merges.length + plan.drops.length;
      if (writes === 0) return outcomes;
      try {
        await this.db.batch(statements);
        return outcomes;
      } catch (err) {
        if (!isStaleWrite(err) || attempt >= MAX_ATTEMPTS) throw err;
        // Someone else changed this part of the graph: back off a little so the herd does not collide again.
        await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
      }
    }
  }

  async findProfile(workspaceId: string, identifier: Identifier): Promise<string | null> {
    const row = await this.db
      .prepare("SELECT profile_id FROM identifiers WHERE workspace_id = ? AND type = ? AND value = ?")
      .bind(workspaceId, identifier.type, identifier.value)
      .first<{ profile_id: string }>();
    return row ? this.liveProfile(workspaceId, row.profile_id) : null;
  }

  async liveProfile(workspaceId: string, profileId: string): Promise<string | null> {
    const row = await this.db
      .prepare(
        `WITH RECURSIVE chain(id, merged_into, deleted_at, depth) AS (
           SELECT id, merged_into, deleted_at, 0 FROM profiles WHERE workspace_id = ?1 AND id = ?2
           UNION ALL
           SELECT p.id, p.merged_into, p.deleted_at, c.depth + 1 FROM profiles AS p JOIN chain AS c ON p.id = c.merged_into
           WHERE p.workspace_id = ?1 AND c.depth < ?3)
         SELECT id, deleted_at FROM chain WHERE merged_into IS NULL`,
      )
      .bind(workspaceId, profileId, MAX_CHAIN)
      .first<{ id: string; deleted_at: number | null }>();
    return row && row.deleted_at === null ? row.id : null;
  }

  async mergesInto(workspaceId: string, profileId: string): Promise<MergeRecord[]> {
    const { results } = await this.db
      .prepare(
        `${MERGED_TREE}
         SELECT m.id, m.from_profile, m.into_profile, m.message_id, m.rule, m.created_at
         FROM merges AS m JOIN tree AS t ON m.into_profile = t.id
         WHERE m.workspace_id = ?1 AND m.undone_at IS NULL ORDER BY m.created_at, m.id`,
      )
      .bind(workspaceId, profileId)
      .all<{
        id: string;
        from_profile: string;
        into_profile: string;
        message_id: string | null;
        rule: string;
        created_at: number;
      }>();
    return results.map((m) => ({
      id: m.id,
      from: m.from_profile,
      into: m.into_profile,
      message_id: m.message_id,
      rule: m.rule,
      created_at: new Date(m.created_at).toISOString(),
    }));
  }

  async droppedLinks(workspaceId: string, profileId: string): Promise<DroppedLink[]> {
    const { results } = await this.db
      .prepare(
        `${MERGED_TREE}
         SELECT d.id, d.profile_id, d.type, d.value, d.owner_profile, d.message_id, d.rule, d.created_at
         FROM dropped_links AS d
         WHERE d.workspace_id = ?1 AND (d.profile_id IN (SELECT id FROM tree) OR d.owner_profile IN (SELECT id FROM tree))
         ORDER BY d.created_at DESC, d.id`,
      )
      .bind(workspaceId, profileId)
      .all<DroppedRow>();
    return results.map((d) => ({
      id: d.id,
      profile_id: d.profile_id,
      identifier: { type: d.type, value: d.value },
      owner_profile: d.owner_profile,
      message_id: d.message_id,
      rule: d.rule,
      created_at: new Date(d.created_at).toISOString(),
    }));
  }

  async erase(workspaceId: string, profileId: string): Promise<{ profileIds: string[]; identifiers: Identifier[] }> {
    for (let attempt = 1; ; attempt++) {
      const live = await this.liveProfile(workspaceId, profileId);
      if (!live) return { profileIds: [], identifiers: [] };
      const [tree, owned] = await this.db.batch([
        this.db
          .prepare(`${MERGED_TREE} SELECT p.id, p.version FROM tree JOIN profiles AS p ON p.id = tree.id`)
          .bind(workspaceId, live),
        this.db
          .prepare(
            `${MERGED_TREE} SELECT i.type, i.value FROM identifiers AS i
             WHERE i.workspace_id = ?1 AND i.profile_id IN (SELECT id FROM tree)`,
          )
          .bind(workspaceId, live),
      ]);
      const profiles = tree.results as Array<{ id: string; version: number }>;
      const identifiers = (owned.results as Array<{ type: string; value: string }>).map(({ type, value }) => ({
        type,
        value,
      }));
      const ids = JSON.stringify(profiles.map((p) => p.id));
      const now = Date.now();
      const inTree = "(SELECT value FROM json_each(?2))";
      try {
        await this.db.batch([
          this.db
            .prepare(
              `INSERT INTO identity_write_guard (ok) SELECT 0 WHERE EXISTS (SELECT 1 FROM json_each(?1) AS j
               LEFT JOIN profiles AS p ON p.id = json_extract(j.value, '$[0]')
               WHERE p.version IS NOT json_extract(j.value, '$[1]'))`,
            )
            .bind(JSON.stringify(profiles.map((p) => [p.id, p.version]))),
          this.db
            .prepare(
              `INSERT INTO suppressions (workspace_id, type, value, created_at)
               SELECT ?1, type, value, ?3 FROM identifiers WHERE workspace_id = ?1 AND profile_id IN ${inTree}
               ON CONFLICT DO NOTHING`,
            )
            .bind(workspaceId, ids, now),
          this.db
            .prepare(`DELETE FROM identifiers WHERE workspace_id = ?1 AND profile_id IN ${inTree}`)
            .bind(workspaceId, ids),
          this.db
            .prepare(
              `DELETE FROM dropped_links WHERE workspace_id = ?1 AND (profile_id IN ${inTree} OR owner_profile IN ${inTree})`,
            )
            .bind(workspaceId, ids),
          // The journal keeps that a merge happened, not which identifiers (personal data) caused it.
          this.db
            .prepare(`UPDATE merges SET detail = NULL WHERE workspace_id = ?1 AND into_profile IN ${inTree}`)
            .bind(workspaceId, ids),
          this.db
            .prepare(
              `UPDATE profiles SET deleted_at = ?3, identifier_count = 0, version = version + 1
               WHERE workspace_id = ?1 AND id IN ${inTree}`,
            )
            .bind(workspaceId, ids, now),
        ]);
        return { profileIds: profiles.map((p) => p.id), identifiers };
      } catch (err) {
        if (!isStaleWrite(err) || attempt >= MAX_ATTEMPTS) throw err;
      }
    }
  }
}

/** `tree(id)`: profile ?2 and every profile merged into it, transitively (UNION stops cycles). Binds ?1 = workspace. */
const MERGED_TREE = `WITH RECURSIVE tree(id) AS (
  SELECT ?2 UNION SELECT m.from_profile FROM merges AS m JOIN tree AS t ON m.into_profile = t.id
  WHERE m.workspace_id = ?1 AND m.undone_at IS NULL)`;

interface DroppedRow {
  id: string;
  profile_id: string;
  type: string;
  value: string;
  owner_profile: string | null;
  message_id: string | null;
  rule: string;
  created_at: number;
}
