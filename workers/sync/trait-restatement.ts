/**
 * Traits a destination selects after its members were sent (a `PUT` adding to `traits`): each member the vendor lists
 * gets them without waiting for its next change. The object keeps a walk of the traits gained (`kv`); each cron tick
 * takes one bounded step of it, in the audiences' order and profile-id order of what the object recorded as synced:
 * it reads each listed member's profile and queues a restatement (a `repair` with `restate`, see `SyncOp`) for one
 * that has a value for a gained trait, which the drain sends as an upsert of the contact listed. A member without one
 * costs its read and nothing more; one with an operation waiting is left to it (the drain sends the traits selected
 * now of the profile the operation carries).
 *
 * @example
 * await startRestatement(kv, ["city"]); // the PUT
 * const step = await restateStep(env, sql, destination, walk, 1000); // a tick: { ops, examined, next? }
 */
import pLimit from "p-limit";
import type { DestinationRow } from "../../d1/queries/destinations";
import type { PluginContext } from "./plugin";
import {
  PAGE,
  type ProfileReader,
  profileReader,
  READS_IN_FLIGHT,
  type ReconcilePosition,
  type SyncedMember,
} from "./reconcile";
import { type MembershipSyncOp, selectedTraits } from "./sync-op";

/** Where the object keeps the walk in progress (`kv`). */
export const RESTATEMENT_KEY = "restate:traits";
/**
 * Where the object keeps the traits its listed members were sent or are being restated with (`kv`): what each tick
 * compares the destination's selection with (see {@link restateSelected}).
 */
export const SENT_WITH_KEY = "restate:sent-with";

/** A walk: the traits gained, and where its next step starts (the start when absent). */
export interface TraitWalk {
  traits: string[];
  at?: ReconcilePosition;
}

/**
 * Records that the destination gained `traits`. A walk in progress starts over with them added: the members it
 * already passed need them too.
 */
export async function startRestatement(kv: PluginContext<unknown>["store"], traits: readonly string[]): Promise<void> {
  const saved = await kv.get(RESTATEMENT_KEY);
  const walking = saved === undefined ? [] : (JSON.parse(saved) as TraitWalk).traits;
  const walk: TraitWalk = { traits: [...new Set([...walking, ...traits])] };
  await kv.put(RESTATEMENT_KEY, JSON.stringify(walk));
  // Already walking for them: the next tick has nothing to start. (Unrecorded, the tick records the selection.)
  const sentWith = await kv.get(SENT_WITH_KEY);
  if (sentWith !== undefined)
    await kv.put(SENT_WITH_KEY, JSON.stringify([...new Set([...(JSON.parse(sentWith) as string[]), ...traits])]));
}

/**
 * A tick's catch-up with the traits the destination `selected` now: a walk for those its members were not sent with
 * (the API's call that starts one may have failed after the traits were saved), then `selected` is what they are sent
 * with from now on, so a trait taken off and selected again is restated again. Costs a read of the object's `kv` when
 * nothing was gained. The first tick of an object that recorded nothing takes the selection as it finds it.
 */
export async function restateSelected(kv: PluginContext<unknown>["store"], selected: readonly string[]): Promise<void> {
  const saved = await kv.get(SENT_WITH_KEY);
  const sentWith = new Set(saved === undefined ? selected : (JSON.parse(saved) as string[]));
  const gained = selected.filter((trait) => !sentWith.has(trait));
  if (gained.length > 0) await startRestatement(kv, gained);
  if (saved === undefined || gained.length > 0 || sentWith.size !== selected.length)
    await kv.put(SENT_WITH_KEY, JSON.stringify(selected));
}

/**
 * One step of `walk` over about `budget` listed members: the restatements to queue and where the next step starts
 * (none: the walk is done). Traits the destination no longer selects are left out of the walk; none left, it is done.
 */
export async function restateStep(
  env: Env,
  sql: SqlStorage,
  destination: DestinationRow,
  walk: TraitWalk,
  budget: number,
): Promise<{ ops: MembershipSyncOp[]; examined: number; next?: ReconcilePosition }> {
  const audiences = JSON.parse(destination.audiences) as string[];
  const wanted = JSON.parse(destination.traits) as string[];
  const gained = walk.traits.filter((trait) => wanted.includes(trait));
  const ops: MembershipSyncOp[] = [];
  let examined = 0;
  if (gained.length === 0) return { ops, examined };
  const profiles = profileReader(env);
  const read = pLimit(READS_IN_FLIGHT);
  // A position in an audience the destination no longer syncs starts over.
  const startAt = walk.at ? Math.max(0, audiences.indexOf(walk.at.audience)) : 0;
  for (let i = startAt; i < audiences.length; i++) {
    const audience = audiences[i];
    let after = walk.at?.audience === audience ? walk.at.after : undefined;
    for (;;) {
      if (examined >= budget) return { ops, examined, next: { audience, after } };
      const listed = sql
        .exec<SyncedMember>(
          `SELECT profile_id, seq, email FROM synced
           WHERE audience = ? AND member = 1 AND profile_id > ? ORDER BY profile_id LIMIT ?`,
          audience,
          after ?? "",
          Math.min(PAGE, budget - examined),
        )
        .toArray();
      if (listed.length === 0) break;
      examined += listed.length;
      after = listed[listed.length - 1].profile_id;
      const idle = listed.filter(
        (member) =>
          sql.exec("SELECT 1 FROM pending WHERE profile_id = ? AND audience = ?", member.profile_id, audience).toArray()
            .length === 0,
      );
      const restated = await Promise.all(
        idle.map((member) => read(() => restatement(profiles, member, audience, wanted, gained))),
      );
      ops.push(...restated.filter((op): op is MembershipSyncOp => op !== undefined));
    }
  }
  return { ops, examined };
}

/**
 * The restatement of a listed member, as its profile's object holds it now: of the contact the vendor lists (the email
 * synced), at the synced seq (so anything newer synced since makes it stale). Undefined when the profile has left the
 * audience (its exit is on its way, or reconciliation's) or has no value for a gained trait.
 */
async function restatement(
  profiles: ProfileReader,
  member: SyncedMember,
  audience: string,
  wanted: readonly string[],
  gained: readonly string[],
): Promise<MembershipSyncOp | undefined> {
  const read = await profiles.read(member.profile_id);
  if (read.status !== "ok" || !read.profile.audiences.some((a) => a.key === audience)) return undefined;
  const { profile } = read;
  const traits = selectedTraits(wanted, profile.traits, profile.computed);
  if (!gained.some((trait) => Object.hasOwn(traits, trait))) return undefined;
  const op: MembershipSyncOp = {
    kind: "membership",
    profileId: member.profile_id,
    audience,
    member: true,
    seq: member.seq,
    at: new Date().toISOString(),
    traits,
    profile: {
      id: member.profile_id,
      identifiers: profile.identifiers.map(({ type, value }) => ({ type, value })),
      traits: profile.traits,
      computed: profile.computed,
    },
    repair: true,
    restate: true,
  };
  if (member.email) op.email = member.email;
  return op;
}
