/**
 * Drift repair of one destination (DESIGN §7 "Reconciliation"), run inside its Durable Object by the cron and by
 * `POST /v1/destinations/:id/reconcile`. It walks each of the destination's audiences in profile-id order, a page of
 * D1's intended members (`audience_members`) against the same id range of what the object recorded as synced, and
 * repairs both ways: a member the vendor never got is queued as an entry, a profile the vendor still lists after it
 * left (or was merged away) is queued as an exit. Each step examines a bounded number of rows and answers where it
 * stopped, so a million-member audience takes many cron ticks, never one long one.
 *
 * What it queues is a `repair` operation (see `SyncOp`): the profile's object is read first and is the source of
 * truth, so a change still on its way through the queue is neither repeated nor undone. Membership only: traits the
 * destination selects after its members were sent reach them through `trait-restatement.ts`.
 */
import pLimit from "p-limit";
import type { DestinationRow } from "../../d1/queries/destinations";
import { intendedMembers } from "../../d1/queries/sync-records";
import type { ProfileRead } from "../profile/profile-rpc";
import { profileStub } from "../profile/profile-stub";
import { contactEmail, type MembershipSyncOp, selectedTraits } from "./sync-op";

/** Where a step stopped: the audience, and the last profile id examined in it. */
export interface ReconcilePosition {
  audience: string;
  after?: string;
}

/** Rows read per page, from D1 and from the object's own `synced` table each. */
export const PAGE = 500;
/** Profile reads in flight at once (only drifted rows are read). */
export const READS_IN_FLIGHT = 6;

export interface SyncedMember extends Record<string, SqlStorageValue> {
  profile_id: string;
  seq: number;
  email: string | null;
}

/** One step of a destination's repair: the operations to queue, and where the next step resumes (none: done). */
export interface ReconcileStep {
  ops: MembershipSyncOp[];
  examined: number;
  next?: ReconcilePosition;
}

/**
 * Compares up to about `budget` rows from `from` on (the start when undefined) and returns the repairs. A position
 * whose audience the destination no longer syncs starts over.
 */
export async function reconcileStep(
  env: Env,
  sql: SqlStorage,
  destination: DestinationRow,
  from: ReconcilePosition | undefined,
  budget: number,
): Promise<ReconcileStep> {
  const audiences = JSON.parse(destination.audiences) as string[];
  const wanted = JSON.parse(destination.traits) as string[];
  const startAt = from ? audiences.indexOf(from.audience) : 0;
  const ops: MembershipSyncOp[] = [];
  const profiles = profileReader(env);
  let examined = 0;
  for (let i = Math.max(0, startAt); i < audiences.length; i++) {
    const audience = audiences[i];
    let after = from && i === startAt ? from.after : undefined;
    for (;;) {
      if (examined >= budget) return { ops, examined, next: { audience, after } };
      const limit = Math.min(PAGE, budget - examined);
      const page = await comparePage(profiles, sql, destination, { audience, after, limit }, wanted);
      ops.push(...page.ops);
      examined += page.examined;
      if (page.last === undefined) break;
      after = page.last;
    }
  }
  return { ops, examined };
}

/**
 * One page: up to `limit` of D1's members after `after`, and the object's synced members in the same id range (up
 * to `limit` too). `last` is the id the next page starts after, undefined once the audience is done.
 */
async function comparePage(
  profiles: ProfileReader,
  sql: SqlStorage,
  destination: DestinationRow,
  { audience, after, limit }: { audience: string; after: string | undefined; limit: number },
  wanted: string[],
): Promise<{ ops: MembershipSyncOp[]; examined: number; last?: string }> {
  const rows = await intendedMembers(profiles.db, destination.workspaceId, audience, { after, limit });
  let intended = rows.slice(0, limit);
  // The range this page covers ends at D1's last row, or (D1 exhausted) at the end of the synced rows.
  let upTo = rows.length > limit ? intended[intended.length - 1].profileId : undefined;
  let synced = sql
    .exec<SyncedMember>(
      `SELECT profile_id, seq, email FROM synced
       WHERE audience = ?1 AND member = 1 AND profile_id > ?2 AND (?3 IS NULL OR profile_id <= ?3)
       ORDER BY profile_id LIMIT ?4`,
      audience,
      after ?? "",
      upTo ?? null,
      limit + 1,
    )
    .toArray();
  if (synced.length > limit) {
    // More synced rows than the page holds: the page ends at the last one taken, and D1's rows past it wait too.
    synced = synced.slice(0, limit);
    const bound = synced[synced.length - 1].profile_id;
    upTo = bound;
    intended = intended.filter((m) => m.profileId <= bound);
  }
  const isPending = (profileId: string) =>
    sql.exec("SELECT 1 FROM pending WHERE profile_id = ? AND audience = ?", profileId, audience).toArray().length > 0;
  const syncedIds = new Set(synced.map((s) => s.profile_id));
  const intendedIds = new Set(intended.map((m) => m.profileId));
  const missing = intended.filter((m) => !syncedIds.has(m.profileId) && !isPending(m.profileId));
  const stale = synced.filter((s) => !intendedIds.has(s.profile_id) && !isPending(s.profile_id));

  const read = pLimit(READS_IN_FLIGHT);
  const repairs = await Promise.all([
    ...missing.map((m) => read(() => entry(profiles, m.profileId, audience, m.seq, wanted))),
    ...stale.map((s) => read(() => exit(profiles, s, audience))),
  ]);
  return {
    ops: repairs.filter((op): op is MembershipSyncOp => op !== undefined),
    examined: intended.length + synced.length,
    last: upTo,
  };
}

/**
 * The entry of a member the vendor lacks, as its profile's object holds it now (D1's `seq` of the entry, so the
 * queued change itself, arriving later, is recognised as sent); undefined when the profile has left since.
 */
async function entry(
  profiles: ProfileReader,
  profileId: string,
  audience: string,
  seq: number,
  wanted: string[],
): Promise<MembershipSyncOp | undefined> {
  const read = await profiles.read(profileId);
  if (read.status !== "ok") return undefined;
  const { profile } = read;
  const membership = profile.audiences.find((a) => a.key === audience);
  if (!membership) return undefined;
  const identifiers = profile.identifiers.map(({ type, value }) => ({ type, value }));
  const op: MembershipSyncOp = {
    kind: "membership",
    profileId,
    audience,
    member: true,
    seq,
    // When the profile entered: the webhook destination derives its event id from it, so a receiver that has this
    // entry already can tell it is the same one.
    at: membership.since,
    traits: selectedTraits(wanted, profile.traits, profile.computed),
    profile: { id: profileId, identifiers, traits: profile.traits, computed: profile.computed },
    repair: true,
  };
  const email = contactEmail(identifiers, profile.traits);
  if (email) op.email = email;
  return op;
}

/**
 * The exit of a profile the vendor still lists. Undefined while its object still holds the membership (D1 lags the
 * object by its outbox). A profile merged away or erased exits with the email it was synced with.
 */
async function exit(
  profiles: ProfileReader,
  synced: SyncedMember,
  audience: string,
): Promise<MembershipSyncOp | undefined> {
  const read = await profiles.read(synced.profile_id);
  if (read.status === "ok" && read.profile.audiences.some((a) => a.key === audience)) return undefined;
  const identifiers =
    read.status === "ok"
      ? read.profile.identifiers.map(({ type, value }) => ({ type, value }))
      : synced.email
        ? [{ type: "email", value: synced.email }]
        : [];
  const op: MembershipSyncOp = {
    kind: "membership",
    profileId: synced.profile_id,
    audience,
    member: false,
    // The exit's own seq is not known here; the synced one keeps any later real change (a higher seq) in charge.
    seq: synced.seq,
    at: new Date().toISOString(),
    traits: {},
    profile: {
      id: synced.profile_id,
      identifiers,
      traits: read.status === "ok" ? read.profile.traits : {},
      computed: read.status === "ok" ? read.profile.computed : {},
    },
    repair: true,
  };
  // The contact the vendor lists is the one synced, even if the profile's email changed since.
  const email = synced.email ?? contactEmail(identifiers, read.status === "ok" ? read.profile.traits : {});
  if (email) op.email = email;
  return op;
}

export interface ProfileReader {
  db: D1Database;
  read(profileId: string): Promise<ProfileRead>;
}

/**
 * Profile reads of one step, each profile read once: a profile drifted in several of the destination's audiences
 * (a whole backlog, after the destination was disabled) costs one call to its object, not one per audience.
 */
export function profileReader(env: Env): ProfileReader {
  const reads = new Map<string, Promise<ProfileRead>>();
  return {
    db: env.DB,
    read(profileId) {
      let read = reads.get(profileId);
      if (!read) {
        read = profileStub(env.PROFILE, profileId).getProfile();
        reads.set(profileId, read);
      }
      return read;
    },
  };
}

/** A position as an opaque, URL-safe cursor. */
export function encodePosition(p: ReconcilePosition): string {
  return btoa(JSON.stringify([p.audience, p.after ?? null]))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** The position a cursor names, if it is one {@link encodePosition} made for one of `audiences`; else undefined. */
export function decodePosition(cursor: string, audiences: readonly string[]): ReconcilePosition | undefined {
  let parsed: unknown;
  try {
    parsed = /^[A-Za-z0-9_-]+$/.test(cursor)
      ? JSON.parse(atob(cursor.replace(/-/g, "+").replace(/_/g, "/")))
      : undefined;
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) return undefined;
  const [audience, after] = parsed as unknown[];
  if (typeof audience !== "string" || !audiences.includes(audience)) return undefined;
  if (after === null) return { audience };
  return typeof after === "string" ? { audience, after } : undefined;
}
