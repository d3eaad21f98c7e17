/**
 * The identity graph's raw SQL: what drizzle cannot say well. Identifier lists travel as one JSON parameter read
 * with `json_each`, so no statement comes near D1's limit of 100 bound parameters however many identifiers a batch
 * carries (lists are still chunked to keep each statement small); resolve writes land per connected component, each
 * only if what it read still holds, and erase is a guarded batch that aborts on a stale read; merged profiles are
 * followed with recursive CTEs. Columns are aliased to the schema's property names, so every row is typed by
 * `$inferSelect`.
 */
import type { droppedLinks, merges, profiles, suppressionHashes } from "../schema";
import type { IdentifierKey, IdentifierRow } from "./identity-graph";

type ProfileRow = typeof profiles.$inferSelect;
type MergeRow = typeof merges.$inferSelect;
type DroppedLinkRow = typeof droppedLinks.$inferSelect;

export type OwnerRow = Pick<IdentifierRow, "type" | "value" | "profileId">;
export type SuppressedRow = Pick<typeof suppressionHashes.$inferSelect, "hash">;
/** An identifier with its suppression hash (`workers/identity/suppressions.ts`): suppressions are stored hashed. */
export type HashedKey = IdentifierKey & { hash: string };
/** A profile owning some of the read identifiers, with how many identifiers of `type` it holds (`n`). */
export type ProfileCountRow = Pick<ProfileRow, "id" | "createdAt" | "version" | "mergeCount"> &
  Pick<IdentifierRow, "type"> & { n: number };
export type ProfileVersion = Pick<ProfileRow, "id" | "version">;
export type ChainEnd = Pick<ProfileRow, "id" | "deletedAt">;
export type MergeJournalRow = Pick<MergeRow, "id" | "fromProfile" | "intoProfile" | "messageId" | "rule" | "createdAt">;
export type DroppedLinkJournalRow = Pick<
  DroppedLinkRow,
  "id" | "profileId" | "type" | "value" | "ownerProfile" | "messageId" | "rule" | "createdAt"
>;

const CHUNK = 400;

const chunks = <T>(list: readonly T[]): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += CHUNK) out.push(list.slice(i, i + CHUNK));
  return out;
};
const pairs = (keys: readonly IdentifierKey[]) => JSON.stringify(keys.map((k) => [k.type, k.value]));

/**
 * `j` rows of a `[[type, value], …]` parameter joined to `table`'s (workspace, type, value) key. CROSS JOIN keeps
 * `json_each` the outer loop, so each key is one unique-index lookup: with a plain JOIN SQLite walks every row
 * of the workspace instead (it has no statistics that say the parameter is short).
 */
const joinKeys = (table: string, ws: string, json: string) =>
  `json_each(${json}) AS j CROSS JOIN ${table} AS i ON i.workspace_id = ${ws}
     AND i.type = json_extract(j.value, '$[0]') AND i.value = json_extract(j.value, '$[1]')`;

/** What one batch of identifiers finds in the graph. */
export interface GraphRows {
  owners: OwnerRow[];
  suppressed: SuppressedRow[];
  profileCounts: ProfileCountRow[];
}

/**
 * Owners, suppressions, and the owning profiles' states (with identifier counts per type) of `keys`: one round trip.
 * Raw because the key list is a `json_each` join, one parameter however many keys.
 *
 * @example const { owners } = await readGraphRows(env.DB, ws, [{ type: "email", value: "max@acme.test" }]);
 */
export async function readGraphRows(
  db: D1Database,
  workspaceId: string,
  keys: readonly HashedKey[],
): Promise<GraphRows> {
  if (keys.length === 0) return { owners: [], suppressed: [], profileCounts: [] };
  return graphRowsOf(await db.batch(readGraphStatements(db, workspaceId, keys)));
}

/** The statements of {@link readGraphRows}, to run in a batch of one's own (e.g. after a write, in the same one). */
export function readGraphStatements(
  db: D1Database,
  workspaceId: string,
  keys: readonly HashedKey[],
): D1PreparedStatement[] {
  const statements: D1PreparedStatement[] = [];
  for (const chunk of chunks(keys)) {
    const json = pairs(chunk);
    statements.push(
      db
        .prepare(`SELECT i.type, i.value, i.profile_id AS profileId FROM ${joinKeys("identifiers", "?1", "?2")}`)
        .bind(workspaceId, json),
      suppressedStatement(
        db,
        workspaceId,
        chunk.map((k) => k.hash),
      ),
      db
        .prepare(
          `SELECT p.id, p.created_at AS createdAt, p.version, p.merge_count AS mergeCount, c.type, c.n
           FROM (SELECT profile_id, type, count(*) AS n FROM identifiers
                 WHERE profile_id IN (SELECT i.profile_id FROM ${joinKeys("identifiers", "?1", "?2")})
                 GROUP BY profile_id, type) AS c
           CROSS JOIN profiles AS p ON p.id = c.profile_id
           WHERE p.workspace_id = ?1`,
        )
        .bind(workspaceId, json),
    );
  }
  return statements;
}

/** Which of `hashes` (suppression hashes) are suppressed in `workspaceId`: rows of {@link SuppressedRow}. */
function suppressedStatement(db: D1Database, workspaceId: string, hashes: readonly string[]): D1PreparedStatement {
  return db
    .prepare(
      `SELECT s.hash FROM json_each(?2) AS j CROSS JOIN suppression_hashes AS s
       ON s.workspace_id = ?1 AND s.hash = j.value`,
    )
    .bind(workspaceId, JSON.stringify(hashes));
}

/**
 * The suppressed ones among `hashes` in `workspaceId` (erased people's identifiers, hashed): one round trip.
 *
 * @example const erased = await suppressedAmong(env.DB, ws, await suppressionHashes(ws, identifiers));
 */
export async function suppressedAmong(
  db: D1Database,
  workspaceId: string,
  hashes: readonly string[],
): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const results = await db.batch<SuppressedRow>(chunks(hashes).map((c) => suppressedStatement(db, workspaceId, c)));
  return new Set(results.flatMap((r) => r.results.map((row) => row.hash)));
}

/**
 * Which of `messageIds` caused a merge of `workspaceId` that was undone since: one round trip, on the partial index of
 * undone merges (a handful, whatever the journal's size).
 *
 * @example const undone = await undoneMergeMessages(env.DB, ws, ["msg-1"]); // ["msg-1"] once its merge was undone
 */
export async function undoneMergeMessages(
  db: D1Database,
  workspaceId: string,
  messageIds: readonly string[],
): Promise<string[]> {
  const results = await db.batch<Pick<typeof merges.$inferSelect, "messageId">>(
    chunks(messageIds).map((c) =>
      db
        .prepare(
          `SELECT DISTINCT m.message_id AS messageId FROM json_each(?2) AS j CROSS JOIN merges AS m
           WHERE m.workspace_id = ?1 AND m.message_id = j.value AND m.undone_at IS NOT NULL`,
        )
        .bind(workspaceId, JSON.stringify(c)),
    ),
  );
  return results.flatMap((r) => r.results.map((row) => row.messageId as string));
}

/** A merge the journal holds for a message: which profile folds into which. */
export type MessageMergeRow = Pick<MergeRow, "fromProfile" | "intoProfile" | "messageId">;

/**
 * The live (not undone) merges each message of `asked` caused, found from the profile it resolves to now
 * (`survivor`): a merge a message caused is into that profile or one merged into it since, so the lookup walks each
 * survivor's merge tree by index (capped by the merges per profile), then its journal rows by index, and keeps those
 * of the asked messages. The journal has no index of live merges by message, and a lookup by message alone would walk
 * the workspace's merges. One round trip. Raw: recursive CTE over `json_each` lists.
 *
 * @example const owed = await liveMergesOfMessages(env.DB, ws, [{ messageId: "msg-1", survivor: "prf_a" }]);
 */
export async function liveMergesOfMessages(
  db: D1Database,
  workspaceId: string,
  asked: ReadonlyArray<{ messageId: string; survivor: string }>,
): Promise<MessageMergeRow[]> {
  if (asked.length === 0) return [];
  const results = await db.batch<MessageMergeRow>(
    chunks(asked).map((c) =>
      db
        .prepare(
          `WITH RECURSIVE tree(id) AS (
             SELECT value FROM json_each(?2)
             UNION SELECT m.from_profile FROM tree AS t CROSS JOIN merges AS m ON m.into_profile = t.id
             WHERE m.workspace_id = ?1 AND m.undone_at IS NULL)
           SELECT m.from_profile AS fromProfile, m.into_profile AS intoProfile, m.message_id AS messageId
           FROM tree AS t CROSS JOIN merges AS m ON m.into_profile = t.id
           WHERE m.workspace_id = ?1 AND m.undone_at IS NULL AND m.message_id IN (SELECT value FROM json_each(?3))
           ORDER BY m.created_at, m.id`,
        )
        .bind(
          workspaceId,
          JSON.stringify([...new Set(c.map((a) => a.survivor))]),
          JSON.stringify([...new Set(c.map((a) => a.messageId))]),
        ),
    ),
  );
  return results.flatMap((r) => r.results);
}

/** The rows of {@link readGraphStatements}' results. */
export function graphRowsOf(results: readonly D1Result[]): GraphRows {
  const rows: GraphRows = { owners: [], suppressed: [], profileCounts: [] };
  for (let i = 0; i + 2 < results.length; i += 3) {
    rows.owners.push(...(results[i].results as OwnerRow[]));
    rows.suppressed.push(...(results[i + 1].results as SuppressedRow[]));
    rows.profileCounts.push(...(results[i + 2].results as ProfileCountRow[]));
  }
  return rows;
}

/** What one connected component of a resolve was computed from: its ticket opens only if all of it still holds. */
export interface ComponentGuard {
  ticket: string;
  /** Keys read as unowned: the component is stale when any is owned now. */
  absentKeys: readonly IdentifierKey[];
  /** Suppression hashes of the component's keys: it is stale when any is suppressed now (an erase since the read). */
  unsuppressedHashes: readonly string[];
  /** Profile versions read: the component is stale when any moved, or the profile is gone. */
  readVersions: readonly ProfileVersion[];
}

/** Each write row names the ticket of the component it belongs to; it lands only if that ticket opened. */
type Ticketed<T> = T & { ticket: string };

/** One resolve's changes to the graph, per connected component, and what each component was computed from. */
export interface GraphWrite {
  components: readonly ComponentGuard[];
  newProfiles: readonly Ticketed<Pick<ProfileRow, "id" | "createdAt">>[];
  /** Identifiers to claim (each read as absent, which the ticket re-checked). */
  claims: readonly Ticketed<Pick<IdentifierRow, "type" | "value" | "profileId" | "firstSeen">>[];
  /** Merged-away profile → where its identifiers end up (the final survivor, so no ordering is needed). */
  repoints: readonly Ticketed<{ from: string; to: string }>[];
  merges: readonly Ticketed<Pick<MergeRow, "id" | "fromProfile" | "intoProfile" | "messageId" | "rule" | "detail">>[];
  /** New states of touched profiles (each also bumps the profile's version); merged-away profiles stay as they are. */
  profileStates: readonly Ticketed<Pick<ProfileRow, "id" | "mergedInto" | "identifierCount" | "mergeCount">>[];
  droppedLinks: readonly Ticketed<
    Pick<DroppedLinkRow, "profileId" | "type" | "value" | "ownerProfile" | "messageId" | "rule">
  >[];
}

/** Opens a statement that fails the `stale_read` CHECK, rolling the whole batch back, when its condition holds. */
const GUARD = "INSERT INTO identity_write_guard (ok) SELECT 0 WHERE EXISTS";

/** The row `alias` (a `json_each` row whose first element is a ticket) belongs to a component whose ticket opened. */
const ticketOpen = (alias: string) =>
  `EXISTS (SELECT 1 FROM identity_write_tickets AS t WHERE t.ticket = json_extract(${alias}.value, '$[0]'))`;

/**
 * A graph write as one D1 batch (a transaction) that never aborts because of another writer. It opens one ticket per
 * connected component whose reads still hold (no key read as absent is owned now, none of its keys is suppressed, no
 * profile version moved); every
 * write row is conditioned on its component's ticket, so a stale component writes nothing while the others land
 * whole (no half-claimed identifiers, no orphan profiles). The last statement deletes the tickets and returns the
 * ones that opened: read them with {@link committedTickets}. Raw because every statement is a `json_each` bulk write.
 */
export function graphWriteStatements(
  db: D1Database,
  workspaceId: string,
  write: GraphWrite,
  now: number,
): D1PreparedStatement[] {
  const out: D1PreparedStatement[] = [];
  for (const chunk of chunks(write.components))
    out.push(
      db
        .prepare(
          `INSERT INTO identity_write_tickets (ticket) SELECT json_extract(c.value, '$[0]') FROM json_each(?2) AS c
           WHERE NOT EXISTS (SELECT 1 FROM ${joinKeys("identifiers", "?1", "json_extract(c.value, '$[1]')")})
             AND NOT EXISTS (SELECT 1 FROM json_each(json_extract(c.value, '$[3]')) AS h
                             CROSS JOIN suppression_hashes AS s ON s.workspace_id = ?1 AND s.hash = h.value)
             AND NOT EXISTS (SELECT 1 FROM json_each(json_extract(c.value, '$[2]')) AS v
                             LEFT JOIN profiles AS p ON p.id = json_extract(v.value, '$[0]')
                             WHERE p.id IS NULL OR p.version <> json_extract(v.value, '$[1]'))`,
        )
        .bind(
          workspaceId,
          JSON.stringify(
            chunk.map((c) => [
              c.ticket,
              c.absentKeys.map((k) => [k.type, k.value]),
              c.readVersions.map((p) => [p.id, p.version]),
              c.unsuppressedHashes,
            ]),
          ),
        ),
    );
  for (const chunk of chunks(write.newProfiles))
    out.push(
      db
        .prepare(
          `INSERT INTO profiles (id, workspace_id, created_at)
           SELECT json_extract(j.value, '$[1]'), ?1, json_extract(j.value, '$[2]') FROM json_each(?2) AS j
           WHERE ${ticketOpen("j")}`,
        )
        .bind(workspaceId, JSON.stringify(chunk.map((p) => [p.ticket, p.id, p.createdAt]))),
    );
  for (const chunk of chunks(write.claims))
    out.push(
      db
        .prepare(
          `INSERT INTO identifiers (workspace_id, type, value, profile_id, first_seen, first_profile_id)
           SELECT ?1, json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]'), json_extract(j.value, '$[3]'),
                  json_extract(j.value, '$[4]'), json_extract(j.value, '$[3]') FROM json_each(?2) AS j
           WHERE ${ticketOpen("j")}
           ON CONFLICT DO NOTHING`,
        )
        .bind(workspaceId, JSON.stringify(chunk.map((c) => [c.ticket, c.type, c.value, c.profileId, c.firstSeen]))),
    );
  for (const chunk of chunks(write.repoints))
    out.push(
      db
        .prepare(
          `UPDATE identifiers SET profile_id = json_extract(m.value, '$[2]') FROM json_each(?1) AS m
           WHERE identifiers.profile_id = json_extract(m.value, '$[1]') AND ${ticketOpen("m")}`,
        )
        .bind(JSON.stringify(chunk.map((r) => [r.ticket, r.from, r.to]))),
    );
  for (const chunk of chunks(write.merges))
    out.push(
      db
        .prepare(
          `INSERT INTO merges (id, workspace_id, from_profile, into_profile, message_id, rule, detail, created_at)
           SELECT json_extract(m.value, '$[1]'), ?1, json_extract(m.value, '$[2]'), json_extract(m.value, '$[3]'),
                  json_extract(m.value, '$[4]'), json_extract(m.value, '$[5]'), json_extract(m.value, '$[6]'), ?2
           FROM json_each(?3) AS m WHERE ${ticketOpen("m")}`,
        )
        .bind(
          workspaceId,
          now,
          JSON.stringify(
            chunk.map((m) => [m.ticket, m.id, m.fromProfile, m.intoProfile, m.messageId, m.rule, m.detail]),
          ),
        ),
    );
  for (const chunk of chunks(write.profileStates))
    out.push(
      db
        .prepare(
          `UPDATE profiles SET merged_into = json_extract(s.value, '$[2]'), identifier_count = json_extract(s.value, '$[3]'),
             merge_count = json_extract(s.value, '$[4]'), version = version + 1
           FROM json_each(?1) AS s
           WHERE profiles.id = json_extract(s.value, '$[1]') AND profiles.merged_into IS NULL AND ${ticketOpen("s")}`,
        )
        .bind(JSON.stringify(chunk.map((s) => [s.ticket, s.id, s.mergedInto, s.identifierCount, s.mergeCount]))),
    );
  for (const chunk of chunks(write.droppedLinks))
    out.push(
      db
        .prepare(
          `INSERT INTO dropped_links (id, workspace_id, profile_id, type, value, owner_profile, message_id, rule, created_at)
           SELECT lower(hex(randomblob(16))), ?1, json_extract(d.value, '$[1]'), json_extract(d.value, '$[2]'),
                  json_extract(d.value, '$[3]'), json_extract(d.value, '$[4]'), json_extract(d.value, '$[5]'),
                  json_extract(d.value, '$[6]'), ?2
           FROM json_each(?3) AS d WHERE ${ticketOpen("d")} ON CONFLICT DO NOTHING`,
        )
        .bind(
          workspaceId,
          now,
          JSON.stringify(
            chunk.map((d) => [d.ticket, d.profileId, d.type, d.value, d.ownerProfile, d.messageId, d.rule]),
          ),
        ),
    );
  out.push(
    db
      .prepare("DELETE FROM identity_write_tickets WHERE ticket IN (SELECT value FROM json_each(?1)) RETURNING ticket")
      .bind(JSON.stringify(write.components.map((c) => c.ticket))),
  );
  return out;
}

/** The tickets that opened, from the results of a batch of {@link graphWriteStatements} (its last statement). */
export function committedTickets(results: readonly D1Result[]): Set<string> {
  const last = results[results.length - 1]?.results as Array<{ ticket: string }> | undefined;
  return new Set((last ?? []).map((r) => r.ticket));
}

/** D1 rolled the batch back because a guard (or a uniqueness race the guards could not see) fired: read again. */
export function isStaleWrite(err: unknown): boolean {
  const message = String((err as { message?: unknown })?.message ?? err);
  return /CHECK constraint failed: stale_read|UNIQUE constraint failed/i.test(message);
}

/**
 * The end of `profileId`'s merge chain (itself when never merged), or null when unknown or the chain is longer than
 * `maxChain`. Raw because it is a recursive CTE.
 */
export function findChainEnd(
  db: D1Database,
  workspaceId: string,
  profileId: string,
  maxChain: number,
): Promise<ChainEnd | null> {
  return db
    .prepare(
      `WITH RECURSIVE chain(id, merged_into, deleted_at, depth) AS (
         SELECT id, merged_into, deleted_at, 0 FROM profiles WHERE workspace_id = ?1 AND id = ?2
         UNION ALL
         SELECT p.id, p.merged_into, p.deleted_at, c.depth + 1
         FROM chain AS c CROSS JOIN profiles AS p ON p.id = c.merged_into
         WHERE p.workspace_id = ?1 AND c.depth < ?3)
       SELECT id, deleted_at AS deletedAt FROM chain WHERE merged_into IS NULL`,
    )
    .bind(workspaceId, profileId, maxChain)
    .first<ChainEnd>();
}

/**
 * `tree(id)`: profile ?2 and every profile merged into it, transitively (UNION stops cycles). Binds ?1 = workspace.
 * Here and below, CROSS JOIN puts the tree in the outer loop, so merges and links are found by index, not by
 * walking the workspace's rows.
 */
const MERGED_TREE = `WITH RECURSIVE tree(id) AS (
  SELECT ?2 UNION SELECT m.from_profile FROM tree AS t CROSS JOIN merges AS m ON m.into_profile = t.id
  WHERE m.workspace_id = ?1 AND m.undone_at IS NULL)`;

/** Live journal entries of merges into `profileId` or any profile merged into it, oldest first. Raw: recursive CTE. */
export async function listMergesIntoTree(
  db: D1Database,
  workspaceId: string,
  profileId: string,
): Promise<MergeJournalRow[]> {
  const { results } = await db
    .prepare(
      `${MERGED_TREE}
       SELECT m.id, m.from_profile AS fromProfile, m.into_profile AS intoProfile, m.message_id AS messageId, m.rule,
              m.created_at AS createdAt
       FROM tree AS t CROSS JOIN merges AS m ON m.into_profile = t.id
       WHERE m.workspace_id = ?1 AND m.undone_at IS NULL ORDER BY m.created_at, m.id`,
    )
    .bind(workspaceId, profileId)
    .all<MergeJournalRow>();
  return results;
}

/**
 * The `detail` of every live merge into a profile of `profileId`'s merge tree (`profileId` itself included): what
 * the merging messages brought from the merged-away side. Raw: recursive CTE.
 */
export async function listMergeDetailsOfTree(
  db: D1Database,
  workspaceId: string,
  profileId: string,
): Promise<Array<string | null>> {
  const { results } = await db
    .prepare(
      `${MERGED_TREE}
       SELECT m.detail FROM tree AS t CROSS JOIN merges AS m ON m.into_profile = t.id
       WHERE m.workspace_id = ?1 AND m.undone_at IS NULL`,
    )
    .bind(workspaceId, profileId)
    .all<{ detail: string | null }>();
  return results.map((r) => r.detail);
}

/**
 * Dropped links on either side of `profileId`'s merge tree, newest first. Raw: recursive CTE; one UNION arm per side so
 * each is an index lookup.
 */
export async function listDroppedLinksOfTree(
  db: D1Database,
  workspaceId: string,
  profileId: string,
): Promise<DroppedLinkJournalRow[]> {
  const { results } = await db
    .prepare(
      `${MERGED_TREE}
       SELECT d.id AS id, d.profile_id AS profileId, d.type, d.value, d.owner_profile AS ownerProfile,
              d.message_id AS messageId, d.rule, d.created_at AS createdAt
       FROM tree AS t CROSS JOIN dropped_links AS d ON d.profile_id = t.id
       WHERE d.workspace_id = ?1
       UNION
       SELECT d.id, d.profile_id, d.type, d.value, d.owner_profile, d.message_id, d.rule, d.created_at
       FROM tree AS t CROSS JOIN dropped_links AS d ON d.owner_profile = t.id
       WHERE d.workspace_id = ?1
       ORDER BY createdAt DESC, id`,
    )
    .bind(workspaceId, profileId)
    .all<DroppedLinkJournalRow>();
  return results;
}

/**
 * The profiles of `profileId`'s merge tree (with the versions {@link eraseMergedTree} guards on) and the
 * identifiers they own (with when the graph first saw each), in one round trip. Raw: recursive CTE.
 */
export async function readMergedTree(
  db: D1Database,
  workspaceId: string,
  profileId: string,
): Promise<{ profiles: ProfileVersion[]; identifiers: Array<IdentifierKey & { firstSeen: number }> }> {
  const [tree, owned] = await db.batch([
    db
      .prepare(`${MERGED_TREE} SELECT p.id, p.version FROM tree CROSS JOIN profiles AS p ON p.id = tree.id`)
      .bind(workspaceId, profileId),
    db
      .prepare(
        `${MERGED_TREE} SELECT i.type, i.value, i.first_seen AS firstSeen FROM tree
         CROSS JOIN identifiers AS i ON i.profile_id = tree.id
         WHERE i.workspace_id = ?1`,
      )
      .bind(workspaceId, profileId),
  ]);
  return {
    profiles: tree.results as ProfileVersion[],
    identifiers: owned.results as Array<IdentifierKey & { firstSeen: number }>,
  };
}

/**
 * GDPR erase of the profiles read by {@link readMergedTree}, as one guarded batch: their identifiers (`erased`)
 * become suppressions (their keyed hashes, never the values); their identifiers go, and so does every dropped link
 * on or owned by the tree or naming one of those identifiers on anyone (a link refused while nobody owned the
 * identifier keeps its value on another profile); the merge journal forgets which identifiers linked them (merges
 * into the tree, and undone ones out of it), and the profiles are marked deleted; `alongside` statements commit or
 * roll back with it. Throws a stale write ({@link isStaleWrite}) when any version moved since. Raw because it is a
 * guarded batch over `json_each` lists.
 */
export async function eraseMergedTree(
  db: D1Database,
  workspaceId: string,
  profiles: readonly ProfileVersion[],
  erased: readonly HashedKey[],
  now: number,
  alongside: readonly D1PreparedStatement[] = [],
): Promise<void> {
  const ids = JSON.stringify(profiles.map((p) => p.id));
  const inTree = "(SELECT value FROM json_each(?2))";
  // `+workspace_id` keeps SQLite from walking the workspace's identifiers: they are found by profile_id.
  await db.batch([
    db
      .prepare(
        `${GUARD} (SELECT 1 FROM json_each(?1) AS j
         LEFT JOIN profiles AS p ON p.id = json_extract(j.value, '$[0]')
         WHERE p.version IS NOT json_extract(j.value, '$[1]'))`,
      )
      .bind(JSON.stringify(profiles.map((p) => [p.id, p.version]))),
    db
      .prepare(
        `INSERT INTO suppression_hashes (workspace_id, hash, type, created_at)
         SELECT ?1, json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), ?2 FROM json_each(?3) AS j
         WHERE true ON CONFLICT DO NOTHING`,
      )
      .bind(workspaceId, now, JSON.stringify(erased.map((k) => [k.hash, k.type]))),
    db.prepare(`DELETE FROM identifiers WHERE +workspace_id = ?1 AND profile_id IN ${inTree}`).bind(workspaceId, ids),
    db
      .prepare(
        `DELETE FROM dropped_links WHERE workspace_id = ?1 AND (profile_id IN ${inTree} OR owner_profile IN ${inTree}
           OR (type, value) IN (SELECT json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]') FROM json_each(?3) AS j))`,
      )
      .bind(workspaceId, ids, JSON.stringify(erased.map((k) => [k.type, k.value]))),
    // The journal keeps that a merge happened, not which identifiers (personal data) caused it: merges into the tree,
    // and undone merges out of it (the person was merged into someone else, then given back).
    db
      .prepare(`UPDATE merges SET detail = NULL WHERE workspace_id = ?1 AND into_profile IN ${inTree}`)
      .bind(workspaceId, ids),
    db
      .prepare(
        `UPDATE merges SET detail = NULL WHERE workspace_id = ?1 AND undone_at IS NOT NULL AND from_profile IN ${inTree}`,
      )
      .bind(workspaceId, ids),
    db
      .prepare(
        `UPDATE profiles SET deleted_at = ?3, identifier_count = 0, version = version + 1
         WHERE workspace_id = ?1 AND id IN ${inTree}`,
      )
      .bind(workspaceId, ids, now),
    ...alongside,
  ]);
}
