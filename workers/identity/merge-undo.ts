/**
 * Merge undo (`POST /v1/merges/:id/undo`, DESIGN §12): a merge is split out again. The merged-away profile pulls
 * back from the survivor the events and identifiers that arrived on it (and on the profiles merged into it before),
 * the identity graph gives it its identifiers back — those its objects record and those the graph records it first
 * owned — in one guarded batch that also stamps the journal's `undone_at`,
 * and only then the survivor drops what went back. Both re-evaluate their audiences; changes flow as usual.
 *
 * Each step can run again: a call that fails part-way leaves the merge standing (or, after the graph step, undone
 * with the survivor's cleanup pending), and calling undo again finishes it.
 *
 * It runs alone in its workspace, as an erase does (`oneRepairAtATime`): it reads the merge's tree and survivor before
 * it moves anything.
 */
import { type Identifier, isAttributeIdentifier, type MergeRecord, type MergeUndone } from "@tessera/protocol";
import { listMergeDetailsOfTree, readMergedTree } from "../../d1/queries/identity-graph-sql";
import {
  commitMergeSplit,
  findMerge,
  findProfileRow,
  type MergeJournalEntry,
  type MergeRow,
} from "../../d1/queries/merge-undo";
import { currentDefinitionsVersion } from "../audiences/definitions-cache";
import { followRedirects, MAX_REDIRECT_HOPS } from "../profile/follow-redirects";
import type { ExportMark } from "../profile/profile-rpc";
import { profileStub } from "../profile/profile-stub";
import { conflict, notFound } from "../shared/errors";
import { identityStoreFor } from "./cached-identity-store";
import { oneRepairAtATime } from "./graph-repair-lock";
import { keyOf } from "./graph-snapshot";

const iso = (ms: number) => new Date(ms).toISOString();

/** How many times an undo follows a survivor that ingestion merged on while it ran, before it gives up (500). */
const MAX_SURVIVOR_MOVES = 3;

/** A journal row as the API shows it. */
export function mergeRecord(m: MergeJournalEntry): MergeRecord {
  return {
    id: m.id,
    from: m.fromProfile,
    into: m.intoProfile,
    message_id: m.messageId,
    rule: m.rule,
    created_at: iso(m.createdAt),
    undone_at: m.undoneAt === null ? null : iso(m.undoneAt),
  };
}

/**
 * Undoes merge `mergeId` of `workspaceId`. 404 when the workspace has no such merge; 409 when it was undone already
 * (after finishing any cleanup an interrupted undo left), when a profile involved was erased, or while the merge
 * is still being folded.
 *
 * @example const undone = await undoMerge(env, workspaceId, "mrg_…");
 */
export async function undoMerge(env: Env, workspaceId: string, mergeId: string): Promise<MergeUndone> {
  await foldWhileMerged(env, workspaceId, mergeId);
  return oneRepairAtATime(env.DB, workspaceId, mergeId, () => undoMergeAlone(env, workspaceId, mergeId));
}

/**
 * While the graph holds merge `mergeId`, the merged-away profile's object is folded into the survivor as the graph
 * says, before the undo starts: an undo that stopped between its restore and the graph's split left the object live
 * with the merge standing (its alarm folds it back within seconds, but an undo called again may come first), and
 * every later undo would be refused as "still being folded". A fold still on its way is finished here as well. This
 * runs before the repair lock is taken because the object refuses to fold while an undo of this merge holds it (it
 * may be that undo's restore); a fold that fails or is refused leaves the object as it was, and the undo answers as it
 * finds it.
 */
async function foldWhileMerged(env: Env, workspaceId: string, mergeId: string): Promise<void> {
  const merge = await findMerge(env.DB, workspaceId, mergeId);
  if (!merge || merge.undoneAt !== null) return;
  const from = await findProfileRow(env.DB, merge.fromProfile);
  if (from?.mergedInto !== merge.intoProfile || from.deletedAt !== null) return;
  await profileStub(env.PROFILE, from.id)
    .mergeInto(merge.intoProfile, { profileId: from.id, workspaceId })
    .catch((err) => console.warn(`merge undo of ${mergeId}: ${from.id} could not be folded first`, err));
}

/** {@link undoMerge}, once it is the only repair running in the workspace. */
async function undoMergeAlone(env: Env, workspaceId: string, mergeId: string): Promise<MergeUndone> {
  const merge = await findMerge(env.DB, workspaceId, mergeId);
  if (!merge) throw notFound(`No merge ${mergeId} in this workspace (another workspace's merge is unknown too).`);
  const store = identityStoreFor(env);
  const restored = merge.fromProfile;
  const [survivor, restoredRow] = await Promise.all([
    store.liveProfile(workspaceId, merge.intoProfile),
    findProfileRow(env.DB, restored),
  ]);
  // The merged-away profile and every profile merged into it before: what arrived on these goes back.
  const [tree, treeDetails] = await Promise.all([
    readMergedTree(env.DB, workspaceId, restored),
    listMergeDetailsOfTree(env.DB, workspaceId, restored),
  ]);
  const origins = tree.profiles.map((p) => p.id);
  const definitionsVersion = await currentDefinitionsVersion(env.DB, workspaceId);

  if (merge.undoneAt !== null) {
    // Repeat calls answer 409; first they finish the two objects' cleanup, unless the profile was merged again
    // since, or the survivor was erased (its object is wiped). What the graph gave back is what the restored
    // profile's tree owns there now. A restored profile erased since is cleaned up too: an undo interrupted before
    // the cleanup left its events and identifiers on the survivor. Its erase cleans them up as well, but that job
    // may still be waiting for its retry.
    if (survivor && restoredRow?.mergedInto === null) {
      const sides = { survivor, restored, workspaceId, origins, definitionsVersion };
      if (restoredRow.deletedAt === null)
        await agreeWithGraph(env, sides, tree.identifiers, { profileId: survivor, seq: 0 });
      else await dropErasedFromSurvivor(env, sides);
    }
    throw conflict(`Merge ${mergeId} was already undone at ${iso(merge.undoneAt)}.`);
  }
  if (!survivor || !restoredRow || restoredRow.deletedAt !== null) {
    throw conflict(`Merge ${mergeId} cannot be undone: a profile it joined was erased (GDPR delete).`);
  }
  const sides = { survivor, restored, workspaceId, origins, definitionsVersion };
  if (restoredRow.mergedInto === null) {
    throw conflict(`Merge ${mergeId} cannot be undone: ${restored} is not merged away (its undo is in progress).`);
  }
  const folded = await profileStub(env.PROFILE, restored).getProfile();
  const stillFolding = () =>
    conflict(`Merge ${mergeId} is still being folded into ${survivor}; try again in a minute.`);
  if (folded.status !== "redirect") throw stillFolding();

  await finishFolds(env, workspaceId, merge, origins).catch((err) => {
    console.warn(`merge undo of ${mergeId}: a fold could not be finished`, err);
    throw stillFolding();
  });

  // Ingestion runs on while this does (only repairs wait for each other): a message can merge the survivor into
  // another profile, taking the identifiers with it. The commit's guard refuses then, and the restore and the split
  // go again to the new live end of the chain.
  let at = survivor;
  for (let attempt = 1; ; attempt++) {
    const outcome = await profileStub(env.PROFILE, restored).restoreFrom({
      profileId: restored,
      workspaceId,
      createdAt: restoredRow.createdAt,
      survivorId: at,
      origins,
      definitionsVersion,
    });
    if (outcome.status === "deleted") {
      throw conflict(`Merge ${mergeId} cannot be undone: ${restored} was erased (GDPR delete).`);
    }
    const identifiers = identifiersToMove(merge, treeDetails, outcome.identifiers);
    const now = Date.now();
    const split = {
      mergeId,
      restored,
      survivor: at,
      identifiers,
      tree: origins,
      mergeCount: 1 + restoredRow.mergeCount,
    };
    try {
      await commitMergeSplit(env.DB, workspaceId, split, now);
    } catch (err) {
      // Undone concurrently by another call: that call finishes the job; this one answers like a repeat.
      const again = await findMerge(env.DB, workspaceId, mergeId);
      if (again?.undoneAt != null) throw conflict(`Merge ${mergeId} was already undone at ${iso(again.undoneAt)}.`);
      const live = await store.liveProfile(workspaceId, at);
      if (live === null || live === at || attempt === MAX_SURVIVOR_MOVES) throw err;
      at = live;
      continue;
    }
    // This isolate's cache pointed the restored identifiers at the survivor; other isolates' caches (and visitors'
    // profile cookies) learn it from the survivor, which answers "departed" for them from now on.
    store.forgetProfile(workspaceId, at);
    const owns = (await readMergedTree(env.DB, workspaceId, restored)).identifiers;
    await agreeWithGraph(env, { ...sides, survivor: at }, owns, outcome.through);
    return {
      merge: mergeRecord({ ...merge, undoneAt: now }),
      restored_profile: restored,
      survivor: at,
      identifiers: owns.length,
      events: outcome.events,
    };
  }
}

/**
 * Finishes every fold the undo reads through: of the profiles merged into the restored one before (`tree`, the
 * restored one aside: its restore keeps its own state) and of those between it and the survivor. What the undo gives
 * back is what the objects say arrived on the restored tree; a fold still on its way (its alarm's retry, a merge job
 * queued) would bring events and identifiers to the survivor after the restore read it, and an identifier that stayed
 * there in the graph would leave a later undo's profile with nothing that finds it. `mergeInto` finishes a pending
 * fold and changes nothing for one done (or merges an object the graph merged away before it heard).
 */
async function finishFolds(env: Env, workspaceId: string, merge: MergeRow, tree: readonly string[]): Promise<void> {
  const below = tree.filter((id) => id !== merge.fromProfile);
  const rows = await Promise.all(below.map((id) => findProfileRow(env.DB, id)));
  const folds = rows.flatMap((row) => (row?.mergedInto ? [{ id: row.id, into: row.mergedInto }] : []));
  let into: string | null = merge.intoProfile;
  for (let hop = 0; into !== null && hop <= MAX_REDIRECT_HOPS; hop++) {
    const row = await findProfileRow(env.DB, into);
    if (row?.mergedInto) folds.push({ id: row.id, into: row.mergedInto });
    into = row?.mergedInto ?? null;
  }
  for (const { id, into: to } of folds)
    await profileStub(env.PROFILE, id).mergeInto(to, { profileId: id, workspaceId });
}

/**
 * The identifiers the restored profile holds, and those the merging messages brought from the merged-away side, of
 * this merge and of every merge into the restored tree (the journal keeps them in `details`): such a message may have
 * reached the survivor before the fold, so the survivor saw them first, as arriving on whichever profile the message
 * was delivered to. Left with the survivor, a later undo of the deeper merge would find nothing of its own to move.
 * (The split also moves what the graph records the tree first owned, which covers these for identifiers claimed since
 * `first_profile_id` exists; the journal's lists are what older identifiers go back by.)
 */
function identifiersToMove(
  merge: MergeRow,
  treeDetails: ReadonlyArray<string | null>,
  held: readonly Identifier[],
): Identifier[] {
  const out = new Map(held.map((id) => [keyOf(id), { type: id.type, value: id.value }]));
  for (const detail of [merge.detail, ...treeDetails]) {
    const brought = detail ? (JSON.parse(detail) as { from_identifiers?: Identifier[] }).from_identifiers : undefined;
    for (const id of brought ?? []) out.set(keyOf(id), { type: id.type, value: id.value });
  }
  return [...out.values()];
}

/**
 * Rounds of catching up after the first drop: a message reaches the survivor through the merged-away profile's
 * redirect only until the restored profile is live again, so one round takes what came meanwhile; more means the
 * survivor kept receiving such messages, and a repeated undo call finishes.
 */
const MAX_CATCH_UP_ROUNDS = 3;

/**
 * After the graph's split, both objects list what the graph says. The survivor drops what arrived on `origins` and
 * the restored profile has (read `through` that mark: an event that arrived after it, following the merged-away
 * profile's redirect while the restore ran, is pulled by the restored profile first, then dropped), and the
 * identifiers the graph gave back (a stale cache that still routes them to it is answered `departed`). The
 * restored profile's list is set to what the graph gives its tree: an identifier carried by messages of both
 * profiles before the merge keeps, in the survivor's object, the origin of whichever reached it first, so what the
 * restored profile took back by origin can differ from what the graph gave it.
 */
async function agreeWithGraph(
  env: Env,
  sides: { survivor: string; restored: string; workspaceId: string; origins: string[]; definitionsVersion: number },
  restoredOwns: ReadonlyArray<Identifier & { firstSeen: number }>,
  read: ExportMark,
): Promise<void> {
  const { survivor, restored, workspaceId, origins, definitionsVersion } = sides;
  const departed = restoredOwns.map(({ type, value }) => ({ type, value }));
  let through = read;
  for (let round = 0; ; round++) {
    const { result } = await followRedirects(survivor, (id) =>
      profileStub(env.PROFILE, id).dropOrigins({ workspaceId, definitionsVersion, origins, departed, through }),
    );
    if (result.status !== "dropped" || result.left === 0) break;
    if (round === MAX_CATCH_UP_ROUNDS) {
      console.warn(
        `merge undo of ${restored}: ${result.left} events still on the survivor; an undo call again moves them`,
      );
      break;
    }
    const caught = await profileStub(env.PROFILE, restored).catchUp({
      profileId: restored,
      workspaceId,
      definitionsVersion,
      origins,
      after: through,
    });
    // Merged again or erased since: what is left stays where it is, as any event of a merged profile does.
    if (caught.status !== "caught-up") break;
    through = caught.through;
  }
  await listAsGraphSays(env, { profileId: restored, workspaceId, definitionsVersion }, restoredOwns);
}

/**
 * An undone merge's cleanup on the survivor once the restored profile was erased: what arrived on its tree goes, and
 * nothing of it is listed as departed (see `DropOriginsInput.erased`). Idempotent. Run by a repeated undo call, and by
 * the erase itself (an undo interrupted before this cleanup must not leave an erased person on the survivor until an
 * operator calls it again).
 *
 * @example await dropErasedFromSurvivor(env, { survivor: "prf_…", workspaceId, origins: ["prf_…"], definitionsVersion });
 */
export async function dropErasedFromSurvivor(
  env: Env,
  {
    survivor,
    workspaceId,
    origins,
    definitionsVersion,
  }: { survivor: string; workspaceId: string; origins: string[]; definitionsVersion: number },
): Promise<void> {
  await followRedirects(survivor, (id) =>
    profileStub(env.PROFILE, id).dropOrigins({ workspaceId, definitionsVersion, origins, erased: true }),
  );
}

/** Drops from a profile's list the identifiers the graph does not give its tree (`owns`), and lists those missing. */
async function listAsGraphSays(
  env: Env,
  {
    profileId,
    workspaceId,
    definitionsVersion,
  }: { profileId: string; workspaceId: string; definitionsVersion: number },
  owns: ReadonlyArray<Identifier & { firstSeen: number }>,
): Promise<void> {
  const stub = profileStub(env.PROFILE, profileId);
  const read = await stub.getProfile();
  if (read.status !== "ok") return;
  const listed = new Set(read.profile.identifiers.map(keyOf));
  const owned = new Set(owns.map(keyOf));
  const elsewhere = read.profile.identifiers
    .filter((id) => !isAttributeIdentifier(id.type) && !owned.has(keyOf(id)))
    .map(({ type, value }) => ({ type, value }));
  if (elsewhere.length > 0)
    await stub.dropOrigins({ workspaceId, definitionsVersion, origins: [], departed: elsewhere });
  const missing = owns.filter((id) => !listed.has(keyOf(id)));
  if (missing.length > 0) {
    // No message: the identifiers alone, as the graph has them (read just now, so `graphChecked`).
    const identifiers = missing.map(({ type, value, firstSeen }) => ({ type, value, firstSeen }));
    await stub.ingest({ profileId, workspaceId, messages: [], identifiers, graphChecked: true });
  }
}
