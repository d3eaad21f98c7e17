/** API keys (a source's write keys, a workspace's secret keys), stored only as the SHA-256 of the key. */
import { and, desc, eq, exists, getTableColumns, isNull, ne, type SQL, sql } from "drizzle-orm";
import { alias, type SQLiteColumn, type SQLiteTable } from "drizzle-orm/sqlite-core";
import { orm } from "../client";
import { sha256Hex } from "../hash";
import { apiKeys } from "../schema";

export type ApiKey = typeof apiKeys.$inferSelect;
export type NewApiKey = typeof apiKeys.$inferInsert;
export type KeyKind = ApiKey["kind"];
/** Who a key belongs to. */
export type KeyOwner = Pick<ApiKey, "workspaceId" | "kind">;

/** How many leading characters of a key listings show (`wk_8x2k`), so a user can tell keys apart. */
const PREFIX_LENGTH = 7;

/**
 * The row that stores `key`: its hash and prefix, never the key itself.
 *
 * @example await insertApiKey(env.DB, await apiKeyRow("wk_…", { workspaceId, kind: "write", sourceId }, Date.now()));
 */
export async function apiKeyRow(
  key: string,
  owner: KeyOwner & { sourceId?: string | null },
  createdAt: number,
): Promise<NewApiKey> {
  return {
    keyHash: await sha256Hex(key),
    workspaceId: owner.workspaceId,
    kind: owner.kind,
    sourceId: owner.sourceId ?? null,
    prefix: key.slice(0, PREFIX_LENGTH),
    createdAt,
  };
}

/** The insert of one key row (see {@link apiKeyRow}), to run alone or in a `batch()`. */
export function insertApiKey(db: D1Database, row: NewApiKey) {
  return orm(db).insert(apiKeys).values(row);
}

/** The secret key a call authenticated with (its hash), and its workspace: what the call creates, it vouches for. */
export type Issuer = { workspaceId: string; keyHash: string };

/**
 * The insert of `row` into `table` (a key, or a source), made only while `issuer`'s key is unrevoked — read in the same
 * statement (`INSERT … SELECT … WHERE` the issuer is live). Isolates trust a key for up to `KEY_CACHE_MS` after its
 * revocation: a leaked key calling in that second must not mint a key that outlives the revocation.
 *
 * @example await orm(db).batch([insertVouchedBy(db, sources, row, issuer), …]);
 */
export function insertVouchedBy<T extends SQLiteTable>(
  db: D1Database,
  table: T,
  row: T["$inferInsert"],
  issuer: Issuer,
) {
  const d = orm(db);
  const vouching = alias(apiKeys, "issuer");
  const values: Record<string, SQL.Aliased> = {};
  for (const [field, column] of Object.entries(getTableColumns(table))) {
    values[field] = sql`${(row as Record<string, unknown>)[field] ?? null}`.as(column.name);
  }
  const live = and(
    eq(vouching.keyHash, issuer.keyHash),
    eq(vouching.workspaceId, issuer.workspaceId),
    isNull(vouching.revokedAt),
  );
  // The selected fields are the table's own columns, one literal each; drizzle cannot type that for any table.
  return d.insert(table).select(d.select(values).from(vouching).where(live) as never);
}

/** The owner of a live (unrevoked) key, by the key's hash. Runs on every authenticated request the key cache misses. */
export function findLiveKey(db: D1Database, keyHash: string): Promise<KeyOwner | undefined> {
  return orm(db)
    .select({ workspaceId: apiKeys.workspaceId, kind: apiKeys.kind })
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt)))
    .get();
}

/** Which keys {@link revokeKeys} revokes: one source's write keys, or the workspace's secret keys. */
type KeyScope = { workspaceId: string; kind: KeyKind; sourceId?: string };

/**
 * Revokes live keys of one kind at `at` (epoch ms) and returns how many, or null when `keep` names a key that is not
 * live (any more): then nothing is revoked. The keys are a source's write keys (`sourceId`) or the workspace's secret
 * keys. `keep` spares one: `"newest"` the source's newest live key (rotation revokes the old keys, never the key just
 * issued — read in the same statement, so a key issued meanwhile is the one kept), or a key's hash (for secret keys,
 * the caller's: two keys revoking each other at once must not leave the workspace with none).
 *
 * @example await revokeKeys(env.DB, { workspaceId, kind: "write", sourceId, keep: "newest" }, Date.now());
 */
export async function revokeKeys(db: D1Database, scope: KeyScope & { keep?: "newest" }, at: number): Promise<number>;
export async function revokeKeys(
  db: D1Database,
  scope: KeyScope & { keep: { hash: string } },
  at: number,
): Promise<number | null>;
export async function revokeKeys(
  db: D1Database,
  scope: KeyScope & { keep?: "newest" | { hash: string } },
  at: number,
): Promise<number | null> {
  const d = orm(db);
  const other = alias(apiKeys, "other");
  type KeyColumns = Record<"workspaceId" | "kind" | "revokedAt" | "sourceId", SQLiteColumn>;
  const liveOfScope = (t: KeyColumns) => {
    const where = [eq(t.workspaceId, scope.workspaceId), eq(t.kind, scope.kind), isNull(t.revokedAt)];
    if (scope.sourceId !== undefined) where.push(eq(t.sourceId, scope.sourceId));
    return where;
  };
  const where = liveOfScope(apiKeys);
  if (scope.keep === "newest") {
    const newest = d
      .select({ keyHash: other.keyHash })
      .from(other)
      .where(and(...liveOfScope(other)))
      .orderBy(desc(other.createdAt), desc(other.keyHash))
      .limit(1);
    where.push(sql`${apiKeys.keyHash} IS NOT (${newest})`);
  } else if (scope.keep !== undefined) {
    const kept = d
      .select({ one: sql`1` })
      .from(other)
      .where(and(eq(other.keyHash, scope.keep.hash), isNull(other.revokedAt)));
    where.push(ne(apiKeys.keyHash, scope.keep.hash), exists(kept));
  }
  const result = await d
    .update(apiKeys)
    .set({ revokedAt: at })
    .where(and(...where))
    .run();
  if (result.meta.changes > 0 || typeof scope.keep !== "object") return result.meta.changes;
  return (await findLiveKey(db, scope.keep.hash)) ? 0 : null;
}
