/** API keys (a source's write keys, a workspace's secret keys), stored only as the SHA-256 of the key. */
import { and, desc, eq, isNull, ne } from "drizzle-orm";
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

/** The owner of a live (unrevoked) key, by the key's hash. Runs on every authenticated request the key cache misses. */
export function findLiveKey(db: D1Database, keyHash: string): Promise<KeyOwner | undefined> {
  return orm(db)
    .select({ workspaceId: apiKeys.workspaceId, kind: apiKeys.kind })
    .from(apiKeys)
    .where(and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt)))
    .get();
}

/**
 * Revokes live keys of one kind at `at` (epoch ms) and returns how many: a source's write keys (`sourceId`) or the
 * workspace's secret keys. `keep` names one key's hash to spare: rotation revokes the old keys, never the key just
 * issued (or, for secret keys, the one the caller is using).
 *
 * @example await revokeKeys(env.DB, { workspaceId, kind: "write", sourceId, keep: newestHash }, Date.now());
 */
export async function revokeKeys(
  db: D1Database,
  scope: { workspaceId: string; kind: KeyKind; sourceId?: string; keep?: string },
  at: number,
): Promise<number> {
  const where = [eq(apiKeys.workspaceId, scope.workspaceId), eq(apiKeys.kind, scope.kind), isNull(apiKeys.revokedAt)];
  if (scope.sourceId !== undefined) where.push(eq(apiKeys.sourceId, scope.sourceId));
  if (scope.keep !== undefined) where.push(ne(apiKeys.keyHash, scope.keep));
  const result = await orm(db)
    .update(apiKeys)
    .set({ revokedAt: at })
    .where(and(...where))
    .run();
  return result.meta.changes;
}

/** The hash of the source's newest live write key (the one rotation keeps), or undefined when none is live. */
export async function newestLiveWriteKey(
  db: D1Database,
  workspaceId: string,
  sourceId: string,
): Promise<string | undefined> {
  const row = await orm(db)
    .select({ keyHash: apiKeys.keyHash })
    .from(apiKeys)
    .where(
      and(
        eq(apiKeys.workspaceId, workspaceId),
        eq(apiKeys.sourceId, sourceId),
        eq(apiKeys.kind, "write"),
        isNull(apiKeys.revokedAt),
      ),
    )
    .orderBy(desc(apiKeys.createdAt), desc(apiKeys.keyHash))
    .get();
  return row?.keyHash;
}
