/**
 * The SQL behind the identity graph: one batched read of a set of identifiers, and one guarded write batch.
 * Identifier lists travel as one JSON parameter read with `json_each`, so no statement comes near D1's limit
 * of 100 bound parameters however many identifiers a batch carries; lists are still chunked to keep each
 * statement small.
 */
import type { Identifier } from "@tessera/protocol";
import { type GraphSnapshot, keyOf, type ProfileState } from "./graph-snapshot";
import type { WritePlan } from "./resolve-plan";

const CHUNK = 400;

const chunks = <T>(list: readonly T[]): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += CHUNK) out.push(list.slice(i, i + CHUNK));
  return out;
};
const pairs = (ids: readonly Identifier[]) => JSON.stringify(ids.map((id) => [id.type, id.value]));

/** `j` rows of a `[[type, value], …]` parameter joined to `table`'s (workspace, type, value) key. */
const joinKeys = (table: string, ws: string, json: string) =>
  `json_each(${json}) AS j JOIN ${table} AS i ON i.workspace_id = ${ws}
     AND i.type = json_extract(j.value, '$[0]') AND i.value = json_extract(j.value, '$[1]')`;

/** Owners, suppressions, and the owning profiles' states (with identifier counts per type): one round trip. */
export async function readGraph(
  db: D1Database,
  workspaceId: string,
  ids: readonly Identifier[],
): Promise<GraphSnapshot> {
  const snapshot: GraphSnapshot = { owners: new Map(), suppressed: new Set(), profiles: new Map() };
  if (ids.length === 0) return snapshot;
  const statements: D1PreparedStatement[] = [];
  for (const chunk of chunks(ids)) {
    const json = pairs(chunk);
    statements.push(
      db
        .prepare(`SELECT i.type, i.value, i.profile_id FROM ${joinKeys("identifiers", "?1", "?2")}`)
        .bind(workspaceId, json),
      db.prepare(`SELECT i.type, i.value FROM ${joinKeys("suppressions", "?1", "?2")}`).bind(workspaceId, json),
      db
        .prepare(
          `SELECT p.id, p.created_at, p.version, p.merge_count, c.type, c.n FROM profiles AS p
           JOIN (SELECT profile_id, type, count(*) AS n FROM identifiers
                 WHERE profile_id IN (SELECT i.profile_id FROM ${joinKeys("identifiers", "?1", "?2")})
                 GROUP BY profile_id, type) AS c ON c.profile_id = p.id
           WHERE p.workspace_id = ?1`,
        )
        .bind(workspaceId, json),
    );
  }
  const results = await db.batch(statements);
  for (let i = 0; i < results.length; i += 3) {
    for (const r of results[i].results as Array<{ type: string; value: string; profile_id: string }>)
      snapshot.owners.set(keyOf(r), r.profile_id);
    for (const r of results[i + 1].results as Array<{ type: string; value: string }>) snapshot.suppressed.add(keyOf(r));
    for (const r of results[i + 2].results as ProfileCountRow[]) {
      let p: ProfileState | undefined = snapshot.profiles.get(r.id);
      if (!p) {
        p = { id: r.id, createdAt: r.created_at, version: r.version, mergeCount: r.merge_count, counts: new Map() };
        snapshot.profiles.set(r.id, p);
      }
      p.counts.set(r.type, r.n);
    }
  }
  return snapshot;
}

interface ProfileCountRow {
  id: string;
  created_at: number;
  version: number;
  merge_count: number;
  type: string;
  n: number;
}

/**
 * The plan as one D1 batch (a transaction). It opens with guards that abort the whole batch when what the plan was
 * computed from changed meanwhile: a key read as absent now exists, or a profile's version moved. So either the
 * whole plan lands on the graph it was made for, or nothing does (no half-claimed identifiers, no orphan profiles).
 */
export function writeStatements(
  db: D1Database,
  workspaceId: string,
  plan: WritePlan,
  now: number,
): D1PreparedStatement[] {
  const out: D1PreparedStatement[] = [];
  const guard = "INSERT INTO identity_write_guard (ok) SELECT 0 WHERE EXISTS";
  for (const chunk of chunks(plan.absentKeys))
    out.push(
      db.prepare(`${guard} (SELECT 1 FROM ${joinKeys("identifiers", "?1", "?2")})`).bind(workspaceId, pairs(chunk)),
    );
  for (const chunk of chunks([...plan.readVersions]))
    out.push(
      db
        .prepare(
          `${guard} (SELECT 1 FROM json_each(?1) AS j LEFT JOIN profiles AS p ON p.id = json_extract(j.value, '$[0]')
           WHERE p.id IS NULL OR p.version <> json_extract(j.value, '$[1]'))`,
        )
        .bind(JSON.stringify(chunk)),
    );
  for (const chunk of chunks(plan.newProfiles))
    out.push(
      db
        .prepare(
          `INSERT INTO profiles (id, workspace_id, created_at)
           SELECT json_extract(j.value, '$[0]'), ?1, json_extract(j.value, '$[1]') FROM json_each(?2) AS j`,
        )
        .bind(workspaceId, JSON.stringify(chunk.map((p) => [p.id, p.createdAt]))),
    );
  for (const chunk of chunks(plan.claims))
    out.push(
      db
        .prepare(
          `INSERT INTO identifiers (workspace_id, type, value, profile_id, first_seen)
           SELECT ?1, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]'),
                  json_extract(j.value, '$[3]') FROM json_each(?2) AS j WHERE true
           ON CONFLICT DO NOTHING`,
        )
        .bind(workspaceId, JSON.stringify(chunk.map((c) => [c.type, c.value, c.profileId, c.firstSeen]))),
    );
  // Losers' identifiers go straight to their final survivor, so merge chains inside one batch need no ordering.
  const repoint = [...plan.finalStates]
    .filter(([, st]) => st.mergedInto !== null)
    .map(([from]) => [from, finalSurvivor(plan, from)]);
  for (const chunk of chunks(repoint))
    out.push(
      db
        .prepare(
          `UPDATE identifiers SET profile_id = json_extract(m.value, '$[1]') FROM json_each(?1) AS m
           WHERE identifiers.profile_id = json_extract(m.value, '$[0]')`,
        )
        .bind(JSON.stringify(chunk)),
    );
  for (const chunk of chunks(plan.merges))
    out.push(
      db
        .prepare(
          `INSERT INTO merges (id, workspace_id, from_profile, into_profile, message_id, rule, detail, created_at)
           SELECT json_extract(m.value, '$[0]'), ?1, json_extract(m.value, '$[1]'), json_extract(m.value, '$[2]'),
                  json_extract(m.value, '$[3]'), json_extract(m.value, '$[4]'), json_extract(m.value, '$[5]'), ?2
           FROM json_each(?3) AS m`,
        )
        .bind(
          workspaceId,
          now,
          JSON.stringify(chunk.map((m) => [m.id, m.from, m.into, m.messageId, m.rule, m.detail])),
        ),
    );
  for (const chunk of chunks([...plan.finalStates]))
    out.push(
      db
        .prepare(
          `UPDATE profiles SET merged_into = json_extract(s.value, '$[1]'), identifier_count = json_extract(s.value, '$[2]'),
             merge_count = json_extract(s.value, '$[3]'), version = version + 1
           FROM json_each(?1) AS s WHERE profiles.id = json_extract(s.value, '$[0]') AND profiles.merged_into IS NULL`,
        )
        .bind(JSON.stringify(chunk.map(([id, st]) => [id, st.mergedInto, st.identifierCount, st.mergeCount]))),
    );
  const drops = new Map(
    plan.drops.map((d) => [`${d.profileId}|${d.rule}|${d.identifier.type}|${d.identifier.value}`, d]),
  );
  for (const chunk of chunks([...drops.values()]))
    out.push(
      db
        .prepare(
          `INSERT INTO dropped_links (id, workspace_id, profile_id, type, value, owner_profile, message_id, rule, created_at)
           SELECT lower(hex(randomblob(16))), ?1, json_extract(d.value, '$[0]'), json_extract(d.value, '$[1]'),
                  json_extract(d.value, '$[2]'), json_extract(d.value, '$[3]'), json_extract(d.value, '$[4]'),
                  json_extract(d.value, '$[5]'), ?2
           FROM json_each(?3) AS d WHERE true ON CONFLICT DO NOTHING`,
        )
        .bind(
          workspaceId,
          now,
          JSON.stringify(
            chunk.map((d) => [d.profileId, d.identifier.type, d.identifier.value, d.owner, d.messageId, d.rule]),
          ),
        ),
    );
  return out;
}

/** Where a merged-away profile's identifiers end up after every merge of the plan. */
function finalSurvivor(plan: WritePlan, id: string): string {
  let cur = id;
  for (let next = plan.finalStates.get(cur)?.mergedInto; next; next = plan.finalStates.get(cur)?.mergedInto) cur = next;
  return cur;
}

/** D1 rolled the batch back because a guard (or a uniqueness race the guards could not see) fired: read again. */
export function isStaleWrite(err: unknown): boolean {
  const message = String((err as { message?: unknown })?.message ?? err);
  return /CHECK constraint failed: stale_read|UNIQUE constraint failed/i.test(message);
}
