/** Audience and computed-trait definitions (DESIGN §6) and the workspace's definitions version. */
import {
  type AnyColumn,
  and,
  asc,
  eq,
  getTableColumns,
  getTableName,
  isNotNull,
  isNull,
  lt,
  lte,
  sql,
} from "drizzle-orm";
import { type Db, orm } from "../client";
import { definitions, workspaces } from "../schema";
import { deleteMembersOf, memberTable } from "./members";

export type DefinitionRow = typeof definitions.$inferSelect;
export type DefinitionKind = DefinitionRow["kind"];

/** Every definition of a workspace as evaluation needs it, at one `definitions_version`. */
export interface StoredDefinitionSet {
  version: number;
  definitions: Array<Pick<DefinitionRow, "kind" | "key" | "definition" | "createdAt">>;
}

/**
 * The workspace's definitions and the version they are at, read in one D1 batch (one transaction), so the two
 * always agree. Undefined for an unknown workspace.
 *
 * @example const set = await readDefinitionSet(env.DB, "ws_…"); // { version: 3, definitions: [...] }
 */
export async function readDefinitionSet(db: D1Database, workspaceId: string): Promise<StoredDefinitionSet | undefined> {
  const d = orm(db);
  const [ws, rows] = await d.batch([
    d.select({ version: workspaces.definitionsVersion }).from(workspaces).where(eq(workspaces.id, workspaceId)),
    d
      .select({
        kind: definitions.kind,
        key: definitions.key,
        definition: definitions.definition,
        createdAt: definitions.createdAt,
      })
      .from(definitions)
      .where(eq(definitions.workspaceId, workspaceId))
      .orderBy(asc(definitions.kind), asc(definitions.key)),
  ]);
  if (ws.length === 0) return undefined;
  return { version: ws[0].version, definitions: rows };
}

/** The workspace's `definitions_version` (0 for an unknown workspace): read by ingestion, cached briefly. */
export async function readDefinitionsVersion(db: D1Database, workspaceId: string): Promise<number> {
  const row = await orm(db)
    .select({ version: workspaces.definitionsVersion })
    .from(workspaces)
    .where(eq(workspaces.id, workspaceId))
    .get();
  return row?.version ?? 0;
}

/**
 * The build a backfill reports on: one definition at one `build_version` (an older backfill never touches a newer
 * build), in one run of it (the pages of a stalled run, should they turn up after all, count for nothing).
 */
export interface BuildTarget {
  workspaceId: string;
  kind: DefinitionKind;
  key: string;
  buildVersion: number;
  run: number;
}

/** The columns that name a {@link BuildTarget}, for the sweeps' selects. */
const buildTargetColumns = {
  workspaceId: definitions.workspaceId,
  kind: definitions.kind,
  key: definitions.key,
  buildVersion: definitions.buildVersion,
  run: definitions.buildRun,
};

/** A build's last sign of life: its last page or settled total, else when it was queued. */
const lastSign = sql`coalesce(${definitions.buildActiveAt}, ${definitions.buildQueuedAt})`;

const ofBuild = (t: BuildTarget) =>
  and(
    eq(definitions.workspaceId, t.workspaceId),
    eq(definitions.kind, t.kind),
    eq(definitions.key, t.key),
    eq(definitions.buildVersion, t.buildVersion),
    eq(definitions.buildRun, t.run),
  );

/**
 * Counts one backfilled page towards the status of the definition whose change started that backfill, and records
 * the build as alive (also with `processed` 0: a page whose profiles all failed and were sent again).
 */
export async function addBuildProgress(
  db: D1Database,
  target: BuildTarget,
  processed: number,
  now: number,
): Promise<void> {
  await orm(db)
    .update(definitions)
    // A page delivered twice must not push progress past the total.
    .set({
      buildProcessed: sql`min(${definitions.buildTotal}, ${definitions.buildProcessed} + ${processed})`,
      buildActiveAt: now,
    })
    .where(ofBuild(target))
    .run();
}

/** Records that the backfill of the build was queued, so the sweep of {@link unqueuedBuilds} leaves it alone. */
export async function markBuildQueued(db: D1Database, target: BuildTarget, now: number): Promise<void> {
  await orm(db).update(definitions).set({ buildQueuedAt: now, buildActiveAt: now }).where(ofBuild(target)).run();
}

/** Records that the build's backfill could not be sent after all: the sweep of {@link unqueuedBuilds} sends it. */
export async function markBuildUnqueued(db: D1Database, target: BuildTarget): Promise<void> {
  await orm(db).update(definitions).set({ buildQueuedAt: null }).where(ofBuild(target)).run();
}

/**
 * Builds queued, still short of their total, and without a sign of life since `before` (their queued pages lost:
 * a local queue that restarted, messages dropped after their last retry), before their run `lastRun`, oldest first,
 * any workspace. Like {@link unqueuedBuilds} this reads every definition: they are few (tens per workspace).
 */
export async function stalledBuilds(
  db: D1Database,
  before: number,
  lastRun: number,
  limit = 100,
): Promise<BuildTarget[]> {
  return orm(db)
    .select(buildTargetColumns)
    .from(definitions)
    .where(
      and(
        isNotNull(definitions.buildQueuedAt),
        lt(definitions.buildProcessed, definitions.buildTotal),
        lte(lastSign, before),
        lt(definitions.buildRun, lastRun),
      ),
    )
    .orderBy(asc(lastSign))
    .limit(limit);
}

/**
 * Starts the next run of a stalled build from nothing: progress back to 0, recorded as queued now (the caller sends
 * it next, and records a failed send with {@link markBuildUnqueued}; meanwhile the sweep of {@link unqueuedBuilds},
 * which may run at the same time, must not send it too). Lands only while
 * the build is still the one {@link stalledBuilds} returned (same version and run, still without progress since
 * `before`), so two sweeps never both restart it; returns the new run's target, or null when it did not land.
 */
export async function restartBuild(
  db: D1Database,
  target: BuildTarget,
  before: number,
  now: number,
): Promise<BuildTarget | null> {
  const changed = await orm(db)
    .update(definitions)
    .set({ buildRun: target.run + 1, buildProcessed: 0, buildQueuedAt: now, buildActiveAt: now })
    .where(and(ofBuild(target), lte(lastSign, before)))
    .returning({ run: definitions.buildRun });
  return changed.length === 1 ? { ...target, run: target.run + 1 } : null;
}

/**
 * Builds whose backfill was never queued (the send after the definition's write failed), changed before `before`
 * (a request that is still between its write and its send is left to finish), oldest first, any workspace.
 */
export async function unqueuedBuilds(db: D1Database, before: number, limit = 100): Promise<BuildTarget[]> {
  return orm(db)
    .select(buildTargetColumns)
    .from(definitions)
    .where(and(isNull(definitions.buildQueuedAt), lte(definitions.updatedAt, before)))
    .orderBy(asc(definitions.updatedAt))
    .limit(limit);
}

/**
 * Records that the rebuild after a deletion at definitions version `version` could not be queued (the newest such
 * version is kept: one rebuild at it covers the older ones).
 */
export async function markRebuildUnqueued(db: D1Database, workspaceId: string, version: number): Promise<void> {
  await orm(db)
    .update(workspaces)
    .set({ rebuildUnqueuedVersion: sql`max(coalesce(${workspaces.rebuildUnqueuedVersion}, 0), ${version})` })
    .where(eq(workspaces.id, workspaceId))
    .run();
}

/** Workspaces with a deletion's rebuild still to be queued, and the version it is at. */
export async function unqueuedRebuilds(
  db: D1Database,
  limit = 100,
): Promise<Array<{ workspaceId: string; version: number }>> {
  const rows = await orm(db)
    .select({ workspaceId: workspaces.id, version: workspaces.rebuildUnqueuedVersion })
    .from(workspaces)
    .where(isNotNull(workspaces.rebuildUnqueuedVersion))
    .limit(limit);
  return rows.map((r) => ({ workspaceId: r.workspaceId, version: r.version as number }));
}

/** Clears the mark of {@link markRebuildUnqueued} once its rebuild is queued, unless a newer one was marked since. */
export async function clearRebuildUnqueued(db: D1Database, workspaceId: string, version: number): Promise<void> {
  await orm(db)
    .update(workspaces)
    .set({ rebuildUnqueuedVersion: null })
    .where(and(eq(workspaces.id, workspaceId), eq(workspaces.rebuildUnqueuedVersion, version)))
    .run();
}

/**
 * Sets the total of a build to the number of profiles its backfill actually listed. The API counted live profiles
 * when the definition changed; merges, erasures and new profiles since would otherwise leave the status `building`
 * for good, or `ready` too soon.
 */
export async function settleBuildTotal(db: D1Database, target: BuildTarget, total: number, now: number): Promise<void> {
  await orm(db)
    .update(definitions)
    .set({ buildTotal: total, buildProcessed: sql`min(${total}, ${definitions.buildProcessed})`, buildActiveAt: now })
    .where(ofBuild(target))
    .run();
}

/** A definition as the admin API shows it: the stored row and its current member count. */
export type DefinitionWithSize = DefinitionRow & { size: number };

/** One definition of a workspace, named by kind and key. */
export interface DefinitionRef {
  workspaceId: string;
  kind: DefinitionKind;
  key: string;
}

const byRef = (ref: DefinitionRef) =>
  and(eq(definitions.workspaceId, ref.workspaceId), eq(definitions.kind, ref.kind), eq(definitions.key, ref.key));

/**
 * `"table"."column"`: drizzle writes the columns of a select list unqualified, which inside a correlated subquery
 * would name the subquery's own table.
 */
const qualified = (column: AnyColumn) =>
  sql`${sql.identifier(getTableName(column.table))}.${sql.identifier(column.name)}`;

/** The number of member rows of each selected definition, over the member table's primary key (no table scan). */
function memberCount(kind: DefinitionKind) {
  const { table, key } = memberTable(kind);
  const sameWorkspace = sql`${qualified(table.workspaceId)} = ${qualified(definitions.workspaceId)}`;
  const sameKey = sql`${qualified(key)} = ${qualified(definitions.key)}`;
  return sql<number>`(SELECT count(*) FROM ${table} WHERE ${sameWorkspace} AND ${sameKey})`.mapWith(Number);
}

const withSize = (kind: DefinitionKind) => ({ ...getTableColumns(definitions), size: memberCount(kind) });

/**
 * One definition with its live size, or undefined: another workspace's definition is indistinguishable from none.
 *
 * @example const vip = await findDefinition(env.DB, { workspaceId: "ws_…", kind: "audience", key: "vip" });
 */
export function findDefinition(db: D1Database, ref: DefinitionRef): Promise<DefinitionWithSize | undefined> {
  return orm(db).select(withSize(ref.kind)).from(definitions).where(byRef(ref)).get();
}

/** Whether the workspace has this definition (without counting its members). */
export async function definitionExists(db: D1Database, ref: DefinitionRef): Promise<boolean> {
  const row = await orm(db).select({ key: definitions.key }).from(definitions).where(byRef(ref)).get();
  return row !== undefined;
}

/** Every definition of one kind in a workspace, in key order, each with its live size. */
export function listDefinitions(
  db: D1Database,
  workspaceId: string,
  kind: DefinitionKind,
): Promise<DefinitionWithSize[]> {
  return orm(db)
    .select(withSize(kind))
    .from(definitions)
    .where(and(eq(definitions.workspaceId, workspaceId), eq(definitions.kind, kind)))
    .orderBy(asc(definitions.key));
}

/**
 * A write that changes what profiles evaluate (create, a new definition, delete), computed from the workspace's
 * definitions as read at `readVersion`. It lands in one batch with the bump of `definitions_version` to
 * `readVersion + 1`, or not at all.
 */
export interface DefinitionChange extends DefinitionRef {
  readVersion: number;
  /** Epoch ms. */
  now: number;
}

/** The backfill a create or a definition change starts: the live profiles it covers (`build_total`). */
export interface Rebuild {
  buildTotal: number;
}

/**
 * `stale`: the workspace's definitions changed since `readVersion` (another change landed first), so nothing was
 * written; read them again and decide again. Otherwise the new `definitions_version`, which the backfill covers.
 */
export type DefinitionWriteResult = { ok: true; buildVersion: number } | StaleWrite;
export type StaleWrite = { ok: false; reason: "stale" };

/**
 * A create or a definition change that landed, with the definition as that write stored it (read by the write
 * itself: a read after it could already show another request's change of the same key).
 */
export type DefinitionSaveResult = { ok: true; buildVersion: number; saved: DefinitionWithSize } | StaleWrite;

/** The label fields a change may set; left out (undefined) keeps the stored value, null clears it. */
export interface DefinitionLabels {
  name?: string | null;
  description?: string | null;
}

/**
 * Adds a definition (version 1) whose backfill covers `buildTotal` live profiles.
 *
 * @example await insertDefinition(env.DB, { workspaceId, kind: "audience", key: "vip", readVersion: 3, now, buildTotal, definition: "{…}" });
 */
export function insertDefinition(
  db: D1Database,
  change: DefinitionChange & Rebuild & DefinitionLabels & { definition: string },
): Promise<DefinitionSaveResult> {
  const d = orm(db);
  const buildVersion = change.readVersion + 1;
  return savedBy(
    db,
    change,
    d
      .insert(definitions)
      .values({
        workspaceId: change.workspaceId,
        kind: change.kind,
        key: change.key,
        name: change.name ?? null,
        description: change.description ?? null,
        definition: change.definition,
        version: 1,
        createdAt: change.now,
        updatedAt: change.now,
        buildVersion,
        buildTotal: change.buildTotal,
        buildProcessed: 0,
        buildQueuedAt: null,
      })
      .returning(withSize(change.kind)),
  );
}

/** Replaces a definition's `definition` (its `version` + 1, and labels when given) and restarts its build status. */
export function replaceDefinition(
  db: D1Database,
  change: DefinitionChange & Rebuild & DefinitionLabels & { definition: string },
): Promise<DefinitionSaveResult> {
  const d = orm(db);
  return savedBy(
    db,
    change,
    d
      .update(definitions)
      .set({
        definition: change.definition,
        version: sql`${definitions.version} + 1`,
        ...labelsOf(change),
        updatedAt: change.now,
        buildVersion: change.readVersion + 1,
        buildTotal: change.buildTotal,
        buildProcessed: 0,
        buildQueuedAt: null,
        buildRun: 0,
        buildActiveAt: null,
      })
      .where(byRef(change))
      .returning(withSize(change.kind)),
  );
}

/** Deletes a definition and every member row (and exit) of it. */
export async function deleteDefinition(db: D1Database, change: DefinitionChange): Promise<DefinitionWriteResult> {
  const landed = await guardedWrite(
    db,
    change,
    orm(db).delete(definitions).where(byRef(change)),
    ...deleteMembersOf(db, change.workspaceId, change.kind, change.key),
  );
  return landed.ok ? { ok: true, buildVersion: landed.buildVersion } : landed;
}

/**
 * Sets a definition's name or description, which profiles never evaluate: its `version` counts the change (DESIGN §6:
 * every PUT is version + 1), the workspace's `definitions_version` does not move, so nothing is rebuilt. Returns the
 * definition as this write left it; undefined when there is no such definition, or (given `stillDefinedAs`) when its
 * `definition` is no longer that JSON (another change landed since the caller compared them).
 */
export async function updateDefinitionLabels(
  db: D1Database,
  ref: DefinitionRef,
  labels: DefinitionLabels,
  now: number,
  stillDefinedAs?: string,
): Promise<DefinitionWithSize | undefined> {
  const unchanged = stillDefinedAs === undefined ? undefined : eq(definitions.definition, stillDefinedAs);
  const [updated] = await orm(db)
    .update(definitions)
    .set({ ...labelsOf(labels), version: sql`${definitions.version} + 1`, updatedAt: now })
    .where(and(byRef(ref), unchanged))
    .returning(withSize(ref.kind));
  return updated;
}

function labelsOf(labels: DefinitionLabels): DefinitionLabels {
  return {
    ...(labels.name === undefined ? {} : { name: labels.name }),
    ...(labels.description === undefined ? {} : { description: labels.description }),
  };
}

type BatchItem = Parameters<Db["batch"]>[0][number];

/** {@link guardedWrite} of one write that returns the definition as it stored it. */
async function savedBy(
  db: D1Database,
  change: DefinitionChange,
  write: BatchItem & { _: { result: DefinitionWithSize[] } },
): Promise<DefinitionSaveResult> {
  const landed = await guardedWrite(db, change, write);
  if (!landed.ok) return landed;
  const [saved] = landed.written;
  // The write was checked against definitions that hold this one (or not, for a create) at `readVersion`: it lands
  // on a row or the whole batch does not.
  if (!saved) throw new Error(`the ${change.kind} ${change.key} was not written, yet its batch landed`);
  return { ok: true, buildVersion: landed.buildVersion, saved };
}

/**
 * Runs `write` and `more` in one batch behind the bump of `definitions_version` from `readVersion`, and returns what
 * `write` returned. When the version moved meanwhile, the bump sets NULL, the column's NOT NULL fails, and D1 rolls
 * the whole batch back: so no change lands on definitions other than the ones it was checked against (two requests
 * cannot together form a cycle, or delete an audience another one just started to use).
 */
async function guardedWrite<W extends BatchItem>(
  db: D1Database,
  change: DefinitionChange,
  write: W,
  ...more: BatchItem[]
): Promise<{ ok: true; buildVersion: number; written: W["_"]["result"] } | StaleWrite> {
  const d = orm(db);
  const bump = d
    .update(workspaces)
    .set({
      definitionsVersion: sql`CASE WHEN ${workspaces.definitionsVersion} = ${change.readVersion} THEN ${workspaces.definitionsVersion} + 1 END`,
    })
    .where(eq(workspaces.id, change.workspaceId));
  let written: W["_"]["result"];
  try {
    [, written] = await d.batch([bump, write, ...more]);
  } catch (err) {
    if (isStaleBump(err)) return { ok: false, reason: "stale" };
    throw err;
  }
  return { ok: true, buildVersion: change.readVersion + 1, written };
}

function isStaleBump(err: unknown): boolean {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (/NOT NULL constraint failed: workspaces\.definitions_version/i.test(e.message)) return true;
  }
  return false;
}
