/** Sources: where a workspace's events come from (a website, an app), each with its own write keys. */
import { and, asc, eq } from "drizzle-orm";
import { orm } from "../client";
import { apiKeys, sources } from "../schema";
import type { ApiKey } from "./api-keys";

export type Source = typeof sources.$inferSelect;
export type NewSource = typeof sources.$inferInsert;
/** A source as listings show it. */
export type SourceSummary = Pick<Source, "id" | "name" | "createdAt">;
/** A write key as listings show it: never the key or its hash, only enough to tell keys apart. */
export type WriteKeySummary = Pick<ApiKey, "sourceId" | "prefix" | "createdAt" | "revokedAt">;

const summary = { id: sources.id, name: sources.name, createdAt: sources.createdAt };

/** The insert of one source, to run in a `batch()` with its first write key (so neither exists without the other). */
export function insertSource(db: D1Database, row: NewSource) {
  return orm(db).insert(sources).values(row);
}

/**
 * The workspace's source `id`, or undefined: another workspace's source is indistinguishable from an unknown one.
 *
 * @example const source = await findSource(env.DB, ws, "src_…");
 */
export function findSource(db: D1Database, workspaceId: string, id: string): Promise<SourceSummary | undefined> {
  return orm(db)
    .select(summary)
    .from(sources)
    .where(and(eq(sources.id, id), eq(sources.workspaceId, workspaceId)))
    .get();
}

/** Every source of a workspace (oldest first) and every write key of them (oldest first), in one round trip. */
export async function listSourcesWithWriteKeys(
  db: D1Database,
  workspaceId: string,
): Promise<{ sources: SourceSummary[]; writeKeys: WriteKeySummary[] }> {
  const d = orm(db);
  const [list, keys] = await d.batch([
    d
      .select(summary)
      .from(sources)
      .where(eq(sources.workspaceId, workspaceId))
      .orderBy(asc(sources.createdAt), asc(sources.id)),
    d
      .select({
        sourceId: apiKeys.sourceId,
        prefix: apiKeys.prefix,
        createdAt: apiKeys.createdAt,
        revokedAt: apiKeys.revokedAt,
      })
      .from(apiKeys)
      .where(and(eq(apiKeys.workspaceId, workspaceId), eq(apiKeys.kind, "write")))
      .orderBy(asc(apiKeys.createdAt)),
  ]);
  return { sources: list, writeKeys: keys };
}
