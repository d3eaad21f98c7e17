/** API keys (a source's write keys, a workspace's secret keys), stored only as the SHA-256 of the key. */
import { and, eq, isNull } from "drizzle-orm";
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

/** Revoke every live write key of a source at `at` (epoch ms); returns how many were revoked. */
export async function revokeWriteKeys(
  db: D1Database,
  workspaceId: string,
  sourceId: string,
  at: number,
): Promise<number> {
  const result = await orm(db)
    .update(apiKeys)
    .set({ revokedAt: at })
    .where(
      and(
        eq(apiKeys.workspaceId, workspaceId),
        eq(apiKeys.sourceId, sourceId),
        eq(apiKeys.kind, "write"),
        isNull(apiKeys.revokedAt),
      ),
    )
    .run();
  return result.meta.changes;
}
