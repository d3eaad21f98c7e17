/** Destinations (DESIGN §7): where a workspace's audiences are synced. */
import { and, asc, eq, sql } from "drizzle-orm";
import { orm } from "../client";
import { destinations, syncDeadLetters, syncLog, vendorIds } from "../schema";

export type DestinationRow = typeof destinations.$inferSelect;
export type NewDestinationRow = typeof destinations.$inferInsert;
/** What the admin API may change of a destination (its type, secret and counters are not). */
export type DestinationChanges = Partial<
  Pick<DestinationRow, "name" | "config" | "audiences" | "traits" | "enabled" | "updatedAt">
>;

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

/** Enabled destinations of every workspace that sync at least one audience, by id: what the cron's reconciliation visits. */
export function syncedDestinations(db: D1Database): Promise<Array<{ id: string }>> {
  return orm(db)
    .select({ id: destinations.id })
    .from(destinations)
    .where(and(eq(destinations.enabled, true), sql`${destinations.audiences} <> '[]'`))
    .orderBy(destinations.id);
}

const inWorkspace = (workspaceId: string, id: string) =>
  and(eq(destinations.id, id), eq(destinations.workspaceId, workspaceId));

/**
 * One destination of a workspace, or undefined: another workspace's destination is indistinguishable from none.
 *
 * @example const d = await findDestination(env.DB, "ws_…", "dst_…");
 */
export function findDestination(db: D1Database, workspaceId: string, id: string): Promise<DestinationRow | undefined> {
  return orm(db).select().from(destinations).where(inWorkspace(workspaceId, id)).get();
}

/** Every destination of a workspace, oldest first. */
export function listDestinations(db: D1Database, workspaceId: string): Promise<DestinationRow[]> {
  return orm(db)
    .select()
    .from(destinations)
    .where(eq(destinations.workspaceId, workspaceId))
    .orderBy(asc(destinations.createdAt), asc(destinations.id));
}

/** Saves a new destination and answers it as stored (counters at their defaults). */
export function insertDestination(db: D1Database, row: NewDestinationRow): Promise<DestinationRow> {
  return orm(db).insert(destinations).values(row).returning().get();
}

/** Changes a destination of the workspace; undefined when it has none with this id (any more). */
export function updateDestination(
  db: D1Database,
  workspaceId: string,
  id: string,
  changes: DestinationChanges,
): Promise<DestinationRow | undefined> {
  return orm(db).update(destinations).set(changes).where(inWorkspace(workspaceId, id)).returning().get();
}

/**
 * Takes the audience `key` off every destination of the workspace that lists it (after that audience was deleted
 * and another was made under its key: the destinations chose the old one, not this one). Answers how many changed.
 */
export async function unlistAudience(db: D1Database, workspaceId: string, key: string, now: number): Promise<number> {
  const listed = sql`EXISTS (SELECT 1 FROM json_each(${destinations.audiences}) WHERE value = ${key})`;
  const changed = await orm(db)
    .update(destinations)
    .set({
      // json_each reads the list in order, so the other audiences keep theirs.
      audiences: sql`(SELECT json_group_array(value) FROM json_each(${destinations.audiences}) WHERE value != ${key})`,
      updatedAt: now,
    })
    .where(and(eq(destinations.workspaceId, workspaceId), listed))
    .returning({ id: destinations.id });
  return changed.length;
}

/**
 * Deletes a destination of the workspace with everything the engine recorded for it (sync log, dead letters, vendor
 * ids), in one batch; false when the workspace has no destination with this id. Its Durable Object empties its
 * queue when it next wakes and finds the row gone.
 */
export async function deleteDestination(db: D1Database, workspaceId: string, id: string): Promise<boolean> {
  const d = orm(db);
  // The records go only once the row is gone, so an id of another workspace's destination deletes nothing of it.
  const gone = sql`NOT EXISTS (SELECT 1 FROM "destinations" WHERE "destinations"."id" = ${id})`;
  const [deleted] = await d.batch([
    d.delete(destinations).where(inWorkspace(workspaceId, id)).returning({ id: destinations.id }),
    d.delete(syncLog).where(and(eq(syncLog.destinationId, id), gone)),
    d.delete(syncDeadLetters).where(and(eq(syncDeadLetters.destinationId, id), gone)),
    d.delete(vendorIds).where(and(eq(vendorIds.destinationId, id), gone)),
  ]);
  return deleted.length > 0;
}
