/** The workspace registry: one row per customer, with its identity rules. */
import { eq } from "drizzle-orm";
import { orm } from "../client";
import { workspaces } from "../schema";

export type Workspace = typeof workspaces.$inferSelect;
export type NewWorkspace = typeof workspaces.$inferInsert;

/**
 * The insert of one workspace, to run alone or in a `batch()` with its sources and keys.
 *
 * @example await insertWorkspace(env.DB, { id: "ws_…", name: "Acme", createdAt: Date.now() });
 */
export function insertWorkspace(db: D1Database, row: NewWorkspace) {
  return orm(db).insert(workspaces).values(row);
}

/**
 * A workspace's stored identity rules (JSON, null for Segment's defaults), or undefined for an unknown workspace.
 * Read on every ingestion batch the rules cache misses: a primary-key lookup.
 */
export function findIdentityRules(
  db: D1Database,
  workspaceId: string,
): Promise<Pick<Workspace, "identityRules"> | undefined> {
  return orm(db)
    .select({ identityRules: workspaces.identityRules })
    .from(workspaces)
    .where(eq(workspaces.id, workspaceId))
    .get();
}

/** Replace a workspace's identity rules with `rulesJson` (already validated by the caller). */
export async function updateIdentityRules(db: D1Database, workspaceId: string, rulesJson: string): Promise<void> {
  await orm(db).update(workspaces).set({ identityRules: rulesJson }).where(eq(workspaces.id, workspaceId)).run();
}
