/** D1 records behind sources and their write keys, shared by workspace bootstrap and the sources API. */
import { storeKey } from "../shared/api-keys";
import { newId, newSecret } from "../shared/ids";

/** A source as the admin API shows it. */
export interface SourceView {
  id: string;
  name: string;
  created_at: string;
}

/** A new source with a fresh write key, as statements to run in the caller's `batch()` (so nothing half-exists). */
export interface NewSource {
  source: SourceView;
  /** Shown once to the caller; only its hash is stored. */
  writeKey: string;
  statements: D1PreparedStatement[];
}

/**
 * Prepares a source named `name` in `workspaceId` with one write key.
 *
 * @example const { statements, writeKey } = await prepareSource(env.DB, ws, "website"); await env.DB.batch(statements);
 */
export async function prepareSource(
  db: D1Database,
  workspaceId: string,
  name: string,
  now = Date.now(),
): Promise<NewSource> {
  const id = newId("src");
  const prepared = await prepareWriteKey(db, workspaceId, id);
  return {
    source: { id, name, created_at: new Date(now).toISOString() },
    writeKey: prepared.writeKey,
    statements: [
      db
        .prepare("INSERT INTO sources (id, workspace_id, name, created_at) VALUES (?, ?, ?, ?)")
        .bind(id, workspaceId, name, now),
      prepared.statement,
    ],
  };
}

/** A fresh write key for an existing source (rotation), as one statement. */
export async function prepareWriteKey(
  db: D1Database,
  workspaceId: string,
  sourceId: string,
): Promise<{ writeKey: string; statement: D1PreparedStatement }> {
  const writeKey = newSecret("wk");
  return { writeKey, statement: await storeKey(db, writeKey, { workspaceId, kind: "write", sourceId }) };
}
