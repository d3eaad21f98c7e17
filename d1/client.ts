import { type SQL, sql } from "drizzle-orm";
import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";

/** A drizzle handle on a D1 binding, typed by `d1/schema.ts` through the tables each query names. */
export type Db = DrizzleD1Database;

const handles = new WeakMap<D1Database, Db>();

/**
 * The drizzle handle of a D1 binding, made once per binding, so queries from different files share one `batch()`.
 *
 * @example await orm(env.DB).batch([insertSource(env.DB, source), insertApiKey(env.DB, key)]);
 */
export function orm(db: D1Database): Db {
  let handle = handles.get(db);
  if (!handle) {
    handle = drizzle(db);
    handles.set(db, handle);
  }
  return handle;
}

/**
 * `column IN (values)` with the list bound as one JSON parameter: D1 binds at most 100 parameters per statement, and
 * a list a caller hands over (a merge tree's profiles, the dead letters to replay) can be longer. SQLite still reads
 * the column's index once per value.
 *
 * @example orm(db).delete(t).where(and(eq(t.workspaceId, ws), inJsonList(t.profileId, profileIds)));
 */
export function inJsonList(column: SQLiteColumn, values: readonly (string | number)[]): SQL {
  return sql`${column} IN (SELECT value FROM json_each(${JSON.stringify(values)}))`;
}
