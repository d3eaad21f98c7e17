/**
 * How the admin API changes a workspace's definitions (DESIGN §6): check the change against the definitions at one
 * `definitions_version`, write it only if that version still holds (`d1/queries/definitions.ts` guards the batch),
 * and read, check and try again when another change landed first. Then this isolate forgets its cached definitions
 * and a backfill evaluates every live profile again.
 */
import { type AudienceNode, MAX_WORKSPACE_DEFINITION_BYTES, MAX_WORKSPACE_DEFINITIONS } from "@tessera/protocol";
import pRetry from "p-retry";
import {
  type DefinitionChange,
  type DefinitionKind,
  type DefinitionRef,
  readDefinitionSet,
  type StaleWrite,
} from "../../d1/queries/definitions";
import { referencesOf } from "../audiences/audience-graph";
import { type BackfillTarget, queueBackfill } from "../audiences/backfill";
import { forgetDefinitions } from "../audiences/definitions-cache";
import type { DefinitionContext } from "../audiences/validate-definition";
import { conflict, notFound } from "../shared/errors";
import { utf8Bytes } from "../shared/utf8";

/**
 * How a change that lost the race to another tries again: after a growing, randomised pause (so changes sent at once
 * — a script creating a workspace's audiences in parallel, the console's tabs — stop colliding in step), for up to
 * ten seconds, then 409. Every change bumps the one workspace version, so N changes at once need N turns.
 */
const LOST_RACE_RETRIES = {
  retries: 40,
  minTimeout: 5,
  factor: 2,
  maxTimeout: 400,
  randomize: true,
  maxRetryTime: 10_000,
} as const;

/** Another change landed between this one's read and its write. */
class LostRace extends Error {
  override name = "LostRace";
}

/** The workspace's definitions at one version, as checks need them. */
export interface SavedDefinitions {
  version: number;
  /** For `validateAudienceDefinition`; the caller adds the key being defined. */
  context: Required<Omit<DefinitionContext, "key">>;
  has(kind: DefinitionKind, key: string): boolean;
  /** What each definition takes in a profile's cached copy of the set (bytes), by `kind:key`. */
  cachedBytes: Map<string, number>;
}

/** What one definition takes in the set a profile caches (`"key":{…},` in UTF-8, as SQLite stores the text). */
const cachedSize = (key: string, definition: string) => utf8Bytes(definition) + key.length + 4;

/**
 * Refuses a change that would take the workspace's definitions past {@link MAX_WORKSPACE_DEFINITIONS} or
 * {@link MAX_WORKSPACE_DEFINITION_BYTES}: every profile evaluates them all in each write, and caches them all in one
 * stored value, which storage refuses past 2 MB, failing the profile's every write.
 */
export function checkRoom(saved: SavedDefinitions, ref: DefinitionRef, definition: string): void {
  const name = `${ref.kind}:${ref.key}`;
  if (!saved.cachedBytes.has(name) && saved.cachedBytes.size >= MAX_WORKSPACE_DEFINITIONS)
    throw conflict(
      `The workspace has ${saved.cachedBytes.size} audiences and computed traits, the most it may have: every ` +
        "profile evaluates each of them as its events arrive: delete some first",
    );
  let total = cachedSize(ref.key, definition);
  for (const [other, bytes] of saved.cachedBytes) if (other !== name) total += bytes;
  if (total <= MAX_WORKSPACE_DEFINITION_BYTES) return;
  throw conflict(
    `The workspace's audiences and computed traits would take ${total} bytes, over the ` +
      `${MAX_WORKSPACE_DEFINITION_BYTES} every profile keeps of them: delete or shorten some first`,
  );
}

/** The workspace's definitions as they are now. */
export async function readSaved(db: D1Database, workspaceId: string): Promise<SavedDefinitions> {
  const set = await readDefinitionSet(db, workspaceId);
  // The secret key just named this workspace: it is unknown only if it was deleted in between.
  if (!set) throw notFound(`No workspace ${workspaceId}`);
  const audiences = new Map<string, AudienceNode>();
  const computedTraits = new Set<string>();
  const cachedBytes = new Map<string, number>();
  for (const row of set.definitions) {
    if (row.kind === "audience") audiences.set(row.key, JSON.parse(row.definition) as AudienceNode);
    else computedTraits.add(row.key);
    cachedBytes.set(`${row.kind}:${row.key}`, cachedSize(row.key, row.definition));
  }
  return {
    version: set.version,
    context: { audiences, computedTraits },
    has: (kind, key) => (kind === "audience" ? audiences.has(key) : computedTraits.has(key)),
    cachedBytes,
  };
}

/** The change of `ref` as checked against `saved`. */
export function changeOf(ref: DefinitionRef, saved: SavedDefinitions): DefinitionChange {
  return { ...ref, readVersion: saved.version, now: Date.now() };
}

/**
 * Runs `attempt` (check the change against the saved definitions, throwing its 4xx; then write it) on a fresh read
 * until its write lands ({@link LOST_RACE_RETRIES}), and returns what the write that landed returned: the
 * `definitions_version` the change created (`buildVersion`), and for a create or change the definition it stored.
 *
 * @example const { buildVersion } = await writeChecked(env.DB, ws, async (saved) => deleteDefinition(env.DB, changeOf(ref, saved)));
 */
export async function writeChecked<Landed extends { ok: true; buildVersion: number }>(
  db: D1Database,
  workspaceId: string,
  attempt: (saved: SavedDefinitions) => Promise<Landed | StaleWrite>,
): Promise<Landed> {
  try {
    return await pRetry(
      async () => {
        const result = await attempt(await readSaved(db, workspaceId));
        if (!result.ok) throw new LostRace();
        return result;
      },
      { ...LOST_RACE_RETRIES, shouldRetry: ({ error }) => error instanceof LostRace },
    );
  } catch (err) {
    if (!(err instanceof LostRace)) throw err;
    throw conflict("The workspace's definitions kept changing while this change was checked; send it again");
  }
}

/**
 * After a change landed: this isolate evaluates with it at once, and every live profile is evaluated again (queued
 * now, or by the scheduled sweep when the queue refused it: the change itself stands either way).
 */
export async function rebuild(
  env: Env,
  workspaceId: string,
  buildVersion: number,
  target: BackfillTarget | null,
): Promise<void> {
  forgetDefinitions(workspaceId);
  await queueBackfill(env, { workspaceId, buildVersion, target });
}

/**
 * The audiences whose definitions refer to the definition `kind`/`key`, in key order: it cannot be deleted while
 * they do.
 */
export function referrersOf(saved: SavedDefinitions, kind: DefinitionKind, key: string): string[] {
  const refKind = kind === "audience" ? "audience" : "computed";
  return [...saved.context.audiences]
    .filter(([, node]) => referencesOf(node).some((ref) => ref.kind === refKind && ref.key === key))
    .map(([referrer]) => referrer)
    .sort();
}
