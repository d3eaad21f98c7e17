/**
 * GDPR erase as a durable job (DESIGN §12, issue 10 finding 7). The request is recorded in D1 before anything is
 * erased; then each step runs and is recorded as done: the identity graph (identifiers suppressed as keyed hashes,
 * in the same transaction that records what was erased), each profile's Durable Object (and, on the profile a merge
 * undo split the person off, the identifiers it left listed as departed and whatever of theirs an interrupted undo
 * left there), the audience memberships,
 * the person's messages in ingest dead letters and the live-events feed and their sync dead letters, and a delete at
 * every destination: handed to each destination's object (which keeps it, retries the vendor's delete call and
 * dead-letters what fails), and done only once every destination's vendor deleted the person (see
 * `destination-deletes.ts`); the sync log then keeps only those deletes of them. A run that stops part-way is taken
 * up again by the cron, with backoff, until every step is done; a step already done is never run again.
 */
import type { Identifier } from "@tessera/protocol";
import { orm } from "../../d1/client";
import { newId } from "../../d1/ids";
import {
  type DeletionRow,
  dueDeletions,
  findDeletion,
  forgetDestinationDeletes,
  insertDeletion,
  recordDeadLettersRead,
  recordFailedRun,
  recordGraphStep,
  recordStep,
  recordWaiting,
} from "../../d1/queries/deletions";
import { deleteMembershipsOfProfiles } from "../../d1/queries/members";
import { deleteSyncDeadLettersOfProfiles, deleteSyncLogOfProfiles } from "../../d1/queries/sync-records";
import { identityStoreFor } from "../identity/cached-identity-store";
import { eraseFromGraph } from "../identity/erase-graph";
import { oneRepairAtATime } from "../identity/graph-repair-lock";
import { loadIdentityRules } from "../identity/rules";
import { eraseFromIngestDeadLetters } from "../ingest/dead-letters";
import { liveEventsStub } from "../live-events/live-events-do";
import { profileStub } from "../profile/profile-stub";
import { type DestinationsProgress, deleteAtDestinations } from "./destination-deletes";
import { eraseFromUndoSurvivors } from "./undo-survivors";

/** When the first run is cut short (the isolate went away), the cron takes the job up after this long. */
const FIRST_RETRY_MS = 60_000;
/** Backoff of failed runs: 30 s, doubling, at most an hour apart. */
const RETRY_BASE_MS = 30_000;
const RETRY_MAX_MS = 3_600_000;
/** Jobs one cron invocation takes up. */
const RESUME_PER_RUN = 25;

/** What an erase request named: a profile id as given, or an identifier with the live profile it found then. */
export interface ErasureRef {
  profileId: string;
  identifier: Identifier | null;
}

/**
 * Records an erase of the person `named` in `workspaceId`, then runs it. Answers the job as it stands: `done`, or
 * `pending` with the reason it stopped (the cron finishes it).
 *
 * @example const deletion = await startDeletion(env, workspaceId, { profileId: "prf_…", identifier: null });
 */
export async function startDeletion(env: Env, workspaceId: string, named: ErasureRef): Promise<DeletionRow> {
  const now = Date.now();
  const row = await insertDeletion(env.DB, {
    id: newId("del"),
    workspaceId,
    profileId: named.profileId,
    named: named.identifier,
    createdAt: now,
    retryAt: now + FIRST_RETRY_MS,
  });
  return runDeletion(env, row);
}

/**
 * Runs the steps of `row` not done yet, recording each. A failure is recorded on the job (attempts, reason, next
 * attempt with backoff) rather than thrown. Returns the job as it now stands.
 */
export async function runDeletion(env: Env, row: DeletionRow): Promise<DeletionRow> {
  const { id, workspaceId } = row;
  try {
    let profileIds = row.profileIds === null ? null : (JSON.parse(row.profileIds) as string[]);
    let identifiers = row.identifiers === null ? [] : (JSON.parse(row.identifiers) as Identifier[]);
    if (row.graphAt === null || row.profilesAt === null) {
      // Alone in the workspace, as a merge undo is: the tree it erases must not be split or pulled from meanwhile.
      // Waited for a few seconds at most; else the run fails and the cron takes it up again.
      ({ profileIds, identifiers } = await oneRepairAtATime(env.DB, workspaceId, id, async () => {
        const erased = row.graphAt === null ? await eraseGraph(env, row) : { profileIds, identifiers };
        const ids = erased.profileIds ?? [row.profileId];
        if (row.profilesAt === null) {
          await Promise.all(ids.map((profile) => profileStub(env.PROFILE, profile).erase()));
          await eraseFromUndoSurvivors(env, workspaceId, ids, erased.identifiers);
          await recordStep(env.DB, id, "profiles", Date.now());
        }
        return erased;
      }));
    }
    const ids = profileIds ?? [row.profileId];
    if (row.membershipsAt === null) {
      // Each object delivered its own exits before it was wiped; this removes any it could not deliver.
      await orm(env.DB).batch([
        recordStep(env.DB, id, "memberships", Date.now()),
        ...deleteMembershipsOfProfiles(env.DB, workspaceId, ids),
      ]);
    }
    if (row.deadLettersAt === null) {
      // Failed work keeps the person's messages, and the email and traits a sync was to send: those go too.
      const rules = await loadIdentityRules(env.DB, workspaceId);
      const erased = { profileIds: ids, identifiers };
      const next = await eraseFromIngestDeadLetters(env.DB, workspaceId, erased, rules, row.deadLettersAfter ?? 0);
      if (next !== null) {
        // More than one run reads (see ERASE_READ): the next minute's cron goes on from here.
        await recordDeadLettersRead(env.DB, id, next, Date.now());
        return (await findDeletion(env.DB, workspaceId, id)) as DeletionRow;
      }
      // The live-events feed shows the workspace's last messages as sent, theirs among them (in memory only).
      await liveEventsStub(env.LIVE_EVENTS, workspaceId).forget(identifiers, rules);
      await orm(env.DB).batch([
        recordStep(env.DB, id, "dead_letters", Date.now()),
        deleteSyncDeadLettersOfProfiles(env.DB, ids),
      ]);
    }
    if (row.destinationsAt === null) {
      // Nobody erased (another request erased the person first, and tells the destinations): no delete to send.
      const progress: DestinationsProgress =
        ids.length === 0 ? { done: true } : await deleteAtDestinations(env, row, ids, identifiers);
      if (progress.done) {
        // Every vendor has deleted the person: nothing of them is kept any more, not even a dead letter a vendor call
        // in flight during the erase wrote, nor a dead-lettered delete (it holds their identifiers), nor what the
        // sync log says of them but for the deletes themselves.
        await orm(env.DB).batch([
          recordStep(env.DB, id, "destinations", Date.now()),
          deleteSyncDeadLettersOfProfiles(env.DB, ids, { deletes: true }),
          deleteSyncLogOfProfiles(env.DB, workspaceId, ids),
          forgetDestinationDeletes(env.DB, id),
        ]);
      } else if (progress.failed) {
        // A dead-lettered delete is a failed run: counted, with backoff, and handed to its destination again.
        await recordFailedRun(env.DB, id, progress.reason ?? "a destination's delete failed", retryAt(row));
      } else {
        await recordWaiting(env.DB, id, progress.reason, Date.now() + progress.pollMs);
      }
    }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    console.error(`deletion ${id}: a step failed; retrying later`, err);
    await recordFailedRun(env.DB, id, reason, retryAt(row));
  }
  return (await findDeletion(env.DB, workspaceId, id)) as DeletionRow;
}

/** When a run of `row` that failed is tried again: 30 s, doubling with each failed run, at most an hour. */
function retryAt(row: DeletionRow): number {
  return Date.now() + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** row.attempts);
}

/**
 * The graph step: erases the merge tree of the profile the request named, as the graph has it now, and records what
 * was erased in the same transaction. It runs under the repair lock, so no merge undo moves the person meanwhile; one
 * that ran since the request was recorded split the merged-away person out, and the ref names whichever of the two
 * it named (an identifier is looked up again, a merged-away id is live again). When the person is no longer in the
 * graph (another request erased them first), the step records the named profile alone, so its object is still wiped.
 */
async function eraseGraph(env: Env, row: DeletionRow): Promise<{ profileIds: string[]; identifiers: Identifier[] }> {
  const store = identityStoreFor(env);
  const at = Date.now();
  const identifier = namedIdentifier(row);
  const named = identifier === null ? row.profileId : await store.findProfile(row.workspaceId, identifier);
  let erased =
    named === null
      ? { profileIds: [], identifiers: [] }
      : await eraseFromGraph(
          env.DB,
          (ws, profile) => store.liveProfile(ws, profile),
          row.workspaceId,
          named,
          (tree) => recordGraphStep(env.DB, row.id, tree, at),
        );
  if (erased.profileIds.length === 0) {
    // An identifier that is gone was erased with its profile then; but if the profile it found at the request is
    // still live, a merge undo had moved the identifier off it first, and that profile is someone else.
    const wiped = named ?? ((await store.liveProfile(row.workspaceId, row.profileId)) === null ? row.profileId : null);
    erased = { profileIds: wiped === null ? [] : [wiped], identifiers: [] };
    await env.DB.batch(recordGraphStep(env.DB, row.id, erased, at));
  }
  for (const profile of erased.profileIds) store.forgetProfile(row.workspaceId, profile);
  return erased;
}

/** The identifier the request named, held in `identifiers` until the graph step (null: it named a profile id). */
function namedIdentifier(row: DeletionRow): Identifier | null {
  if (row.graphAt !== null || row.identifiers === null) return null;
  return (JSON.parse(row.identifiers) as Identifier[])[0] ?? null;
}

/**
 * Takes up pending deletions whose retry is due (the Worker's cron, every minute).
 * @example ctx.waitUntil(resumeDeletions(env));
 */
export async function resumeDeletions(env: Env, now = Date.now()): Promise<DeletionRow[]> {
  const due = await dueDeletions(env.DB, now, RESUME_PER_RUN);
  const results = await Promise.allSettled(due.map((row) => runDeletion(env, row)));
  const done: DeletionRow[] = [];
  for (const [i, r] of results.entries()) {
    if (r.status === "fulfilled") done.push(r.value);
    else console.error(`deletion ${due[i].id} could not be resumed; the next minute tries again`, r.reason);
  }
  return done;
}
