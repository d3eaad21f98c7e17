/** Suppressions of erased identifiers: keyed hashes in `suppression_hashes`, and the legacy plaintext table's drain. */
import { and, eq } from "drizzle-orm";
import { orm } from "../client";
import { suppressionHashes, suppressions } from "../schema";
import type { IdentifierKey } from "./identity-graph";

/** Legacy rows moved per batch: each delete binds three parameters per row, under D1's 100. */
const LEGACY_PAGE = 20;

/**
 * Moves one page of the legacy plaintext `suppressions` into `suppression_hashes` (hashed by `hash`) and deletes
 * them, in one transaction. Returns whether a page was moved (false: the legacy table is empty).
 */
export async function hashLegacySuppressionPage(
  db: D1Database,
  hash: (workspaceId: string, id: IdentifierKey) => Promise<string>,
  now: number,
): Promise<boolean> {
  const page = await orm(db).select().from(suppressions).limit(LEGACY_PAGE);
  if (page.length === 0) return false;
  const rows = await Promise.all(
    page.map(async (r) => ({
      workspaceId: r.workspaceId,
      type: r.type,
      hash: await hash(r.workspaceId, r),
      createdAt: now,
    })),
  );
  await orm(db).batch([
    orm(db).insert(suppressionHashes).values(rows).onConflictDoNothing(),
    ...page.map((r) =>
      orm(db)
        .delete(suppressions)
        .where(
          and(
            eq(suppressions.workspaceId, r.workspaceId),
            eq(suppressions.type, r.type),
            eq(suppressions.value, r.value),
          ),
        ),
    ),
  ]);
  return true;
}
