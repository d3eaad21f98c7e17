/** Destinations (DESIGN §7): where a workspace's audiences are synced. */
import { and, eq } from "drizzle-orm";
import { orm } from "../client";
import { destinations } from "../schema";

export type DestinationRow = typeof destinations.$inferSelect;
export type NewDestinationRow = typeof destinations.$inferInsert;

/** One destination by id, whatever its workspace (the engine and inbound webhooks know only the id). */
export function findDestinationById(db: D1Database, id: string): Promise<DestinationRow | undefined> {
  return orm(db).select().from(destinations).where(eq(destinations.id, id)).get();
}

/** The enabled destinations of a workspace: what the sync consumer routes membership changes to. */
export function enabledDestinations(db: D1Database, workspaceId: string): Promise<DestinationRow[]> {
  return orm(db)
    .select()
    .from(destinations)
    .where(and(eq(destinations.workspaceId, workspaceId), eq(destinations.enabled, true)));
}
