/**
 * The identity graph's plain lookups, as drizzle queries. The bulk reads and the guarded write batches that
 * resolution needs are raw SQL, in `identity-graph-sql.ts`.
 */
import { and, eq } from "drizzle-orm";
import { orm } from "../client";
import { identifiers } from "../schema";

export type IdentifierRow = typeof identifiers.$inferSelect;
/** An identifier as the graph keys it: `(workspace, type, value)` is unique. */
export type IdentifierKey = Pick<IdentifierRow, "type" | "value">;

/**
 * The profile that owns one identifier as stored (possibly merged away since: follow it with `findChainEnd`).
 *
 * @example const row = await findIdentifierOwner(env.DB, ws, { type: "email", value: "max@acme.test" });
 */
export function findIdentifierOwner(
  db: D1Database,
  workspaceId: string,
  key: IdentifierKey,
): Promise<Pick<IdentifierRow, "profileId"> | undefined> {
  return orm(db)
    .select({ profileId: identifiers.profileId })
    .from(identifiers)
    .where(
      and(eq(identifiers.workspaceId, workspaceId), eq(identifiers.type, key.type), eq(identifiers.value, key.value)),
    )
    .get();
}
