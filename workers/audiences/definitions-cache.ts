/**
 * The workspace's audience and computed-trait definitions as evaluation needs them, cached per isolate.
 * Ingestion reads only the version (briefly cached: a new definition reaches live events within
 * {@link DEFINITIONS_VERSION_TTL_MS}); each ProfileDO loads the set itself when its own copy is older.
 */
import type { AudienceDefinition, ComputedTraitDefinition } from "@tessera/protocol";
import { LRUCache } from "lru-cache";
import { readDefinitionSet, readDefinitionsVersion } from "../../d1/queries/definitions";
import { isolateCache } from "../shared/isolate-cache";
import type { DefinitionSet } from "./evaluate";

/** How long an isolate trusts a workspace's definitions version before asking D1 again. */
export const DEFINITIONS_VERSION_TTL_MS = 2_000;

const versions = isolateCache((workspaceId, db: D1Database) => readDefinitionsVersion(db, workspaceId), {
  ttlMs: DEFINITIONS_VERSION_TTL_MS,
});

/** The workspace's current `definitions_version`, at most {@link DEFINITIONS_VERSION_TTL_MS} old. */
export async function currentDefinitionsVersion(db: D1Database, workspaceId: string): Promise<number> {
  return (await versions.fetch(workspaceId, { context: db })) ?? 0;
}

/** A workspace's definitions at one version. */
export interface VersionedDefinitions {
  version: number;
  set: DefinitionSet;
  /**
   * When each definition was created, by {@link definitionId}: a key deleted and defined again is another definition
   * (its member rows went with the first), which its key alone does not tell. Absent in copies cached before it was.
   */
  created?: Readonly<Record<string, number>>;
}

/** A definition's name across kinds, for {@link VersionedDefinitions.created}. */
export function definitionId(kind: "audience" | "computed_trait", key: string): string {
  return `${kind}:${key}`;
}

/** Many profiles of one workspace share an isolate (a backfill wakes them by the thousand): one D1 read per version. */
const sets = new LRUCache<string, VersionedDefinitions>({ max: 1_000 });

/**
 * The workspace's definitions at `minVersion` or newer: from this isolate's cache when it is new enough,
 * otherwise from D1.
 *
 * @example const { version, set } = await loadDefinitions(env.DB, "ws_…", 3);
 */
export async function loadDefinitions(
  db: D1Database,
  workspaceId: string,
  minVersion: number,
): Promise<VersionedDefinitions> {
  const cached = sets.get(workspaceId);
  if (cached && cached.version >= minVersion) return cached;
  const stored = await readDefinitionSet(db, workspaceId);
  const loaded = stored ? fromStored(stored.version, stored.definitions) : { version: 0, set: emptySet() };
  const newest = cached && cached.version > loaded.version ? cached : loaded;
  sets.set(workspaceId, newest);
  return newest;
}

/** Forget this isolate's copies after a definition changed here, so this isolate's next batch sees it at once. */
export function forgetDefinitions(workspaceId: string): void {
  versions.delete(workspaceId);
  sets.delete(workspaceId);
}

export function emptySet(): DefinitionSet {
  return { computed: {}, audiences: {} };
}

/** Builds the evaluation's set from stored rows (validated when saved, so parsed without checking again). */
export function fromStored(
  version: number,
  rows: Array<{ kind: "audience" | "computed_trait"; key: string; definition: string; createdAt: number }>,
): VersionedDefinitions {
  const computed: Record<string, ComputedTraitDefinition> = {};
  const audiences: Record<string, AudienceDefinition> = {};
  const created: Record<string, number> = {};
  for (const row of rows) {
    if (row.kind === "audience") audiences[row.key] = JSON.parse(row.definition) as AudienceDefinition;
    else computed[row.key] = JSON.parse(row.definition) as ComputedTraitDefinition;
    created[definitionId(row.kind, row.key)] = row.createdAt;
  }
  return { version, set: { computed, audiences }, created };
}
