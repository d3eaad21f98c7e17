import { type DrizzleD1Database, drizzle } from "drizzle-orm/d1";

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
