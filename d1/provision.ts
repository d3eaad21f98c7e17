/**
 * Creating workspaces, sources and their keys: the one implementation behind `POST /v1/workspaces`,
 * `POST /v1/sources`, the tests' `seedWorkspace()` and `npm run dev`'s dev workspace.
 */
import { orm } from "./client";
import { newId, newSecret } from "./ids";
import { apiKeyRow, type Issuer, insertApiKey, insertVouchedBy } from "./queries/api-keys";
import { insertSource, type SourceSummary } from "./queries/sources";
import { insertWorkspace, type Workspace } from "./queries/workspaces";
import { apiKeys, sources } from "./schema";

/** The name of the source every new workspace starts with, so its write key has a home. */
export const FIRST_SOURCE_NAME = "default";

export interface CreateWorkspaceOptions {
  name: string;
  /** Default: a fresh `ws_…` id. */
  id?: string;
  /** Default: a fresh `wk_…` key. */
  writeKey?: string;
  /** Default: a fresh `sk_…` key. */
  secretKey?: string;
  /** The first source's id; default: a fresh `src_…` id. */
  sourceId?: string;
  /** The first source's name; default {@link FIRST_SOURCE_NAME}. */
  sourceName?: string;
  /** Default: now. */
  createdAt?: number;
}

export interface CreatedWorkspace {
  workspace: Pick<Workspace, "id" | "name" | "createdAt">;
  source: SourceSummary;
  /** The keys themselves, known only to this answer: D1 keeps their SHA-256. */
  writeKey: string;
  secretKey: string;
}

/**
 * Creates a workspace with a first source, its write key and the workspace's secret key, in one D1 batch.
 * Rows that already exist are left as they are, so running it again with the same ids and keys (the local dev
 * workspace, on every `npm run dev`) changes nothing.
 *
 * @example const { workspace, writeKey, secretKey } = await createWorkspace(env.DB, { name: "Acme" });
 */
export async function createWorkspace(db: D1Database, options: CreateWorkspaceOptions): Promise<CreatedWorkspace> {
  const createdAt = options.createdAt ?? Date.now();
  const workspace = { id: options.id ?? newId("ws"), name: options.name, createdAt };
  const source = {
    id: options.sourceId ?? newId("src"),
    name: options.sourceName ?? FIRST_SOURCE_NAME,
    createdAt,
  };
  const writeKey = options.writeKey ?? newSecret("wk");
  const secretKey = options.secretKey ?? newSecret("sk");
  const owner = { workspaceId: workspace.id };
  await orm(db).batch([
    insertWorkspace(db, workspace).onConflictDoNothing(),
    insertSource(db, { ...source, workspaceId: workspace.id }).onConflictDoNothing(),
    insertApiKey(
      db,
      await apiKeyRow(writeKey, { ...owner, kind: "write", sourceId: source.id }, createdAt),
    ).onConflictDoNothing(),
    insertApiKey(db, await apiKeyRow(secretKey, { ...owner, kind: "secret" }, createdAt)).onConflictDoNothing(),
  ]);
  return { workspace, source, writeKey, secretKey };
}

/**
 * Adds a source named `name` to the issuer's workspace with one fresh write key, in one batch (so neither exists
 * without the other) — or nothing, answering null, when the issuer's key was revoked (see {@link insertVouchedBy}).
 *
 * @example const created = await createSource(env.DB, { workspaceId, keyHash }, "website");
 */
export async function createSource(
  db: D1Database,
  issuer: Issuer,
  name: string,
): Promise<{ source: SourceSummary; writeKey: string } | null> {
  const { workspaceId } = issuer;
  const createdAt = Date.now();
  const source = { id: newId("src"), name, createdAt };
  const writeKey = newSecret("wk");
  const [added] = await orm(db).batch([
    insertVouchedBy(db, sources, { ...source, workspaceId }, issuer),
    insertVouchedBy(
      db,
      apiKeys,
      await apiKeyRow(writeKey, { workspaceId, kind: "write", sourceId: source.id }, createdAt),
      issuer,
    ),
  ]);
  return added.meta.changes > 0 ? { source, writeKey } : null;
}

/**
 * Issues another write key for an existing source (rotation: add, deploy, revoke the old one); null when the issuer's
 * key was revoked.
 *
 * @example const writeKey = await createWriteKey(env.DB, { workspaceId, keyHash }, "src_…");
 */
export async function createWriteKey(db: D1Database, issuer: Issuer, sourceId: string): Promise<string | null> {
  const writeKey = newSecret("wk");
  const row = await apiKeyRow(writeKey, { workspaceId: issuer.workspaceId, kind: "write", sourceId }, Date.now());
  return (await insertVouchedBy(db, apiKeys, row, issuer).run()).meta.changes > 0 ? writeKey : null;
}

/**
 * Issues another secret key for the issuer's workspace (rotation: add, move callers to it, revoke the others); null
 * when the issuer's key was revoked.
 *
 * @example const secretKey = await createSecretKey(env.DB, { workspaceId, keyHash });
 */
export async function createSecretKey(db: D1Database, issuer: Issuer): Promise<string | null> {
  const secretKey = newSecret("sk");
  const row = await apiKeyRow(secretKey, { workspaceId: issuer.workspaceId, kind: "secret" }, Date.now());
  return (await insertVouchedBy(db, apiKeys, row, issuer).run()).meta.changes > 0 ? secretKey : null;
}
