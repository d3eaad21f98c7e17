/**
 * Drift repair of a destination, first cut (DESIGN §7 "Reconciliation"): every current member of each of the
 * destination's audiences is queued again as an entry, read fresh from its profile, so a vendor that missed an entry
 * (or lost a contact) gets it back. The destination's object coalesces these with what is queued already.
 *
 * Not yet: exits. A profile the vendor still lists after it left the audience stays listed, because what was synced
 * per profile is in the object's `synced` table, which offers no listing to compare with; that comparison is the
 * second cut.
 */
import type { ReconcileStarted } from "@tessera/protocol";
import type { DestinationRow } from "../../d1/queries/destinations";
import { listMembers } from "../../d1/queries/members";
import { followRedirects } from "../profile/follow-redirects";
import { profileStub } from "../profile/profile-stub";
import { validationError } from "../shared/errors";
import { destinationStub } from "../sync/consumer";
import type { SyncOp } from "../sync/sync-op";

/**
 * Members read per call at most. Each one is a call to its profile's object, and a request may make 10,000
 * subrequests (Workers Paid): this leaves room for the member pages, the enqueues and redirect hops.
 */
export const MAX_RECONCILE_MEMBERS = 5_000;
/** Members per D1 page, and per enqueue to the destination's object. */
const PAGE = 100;
/** Profile reads in flight at once. */
const READS_IN_FLIGHT = 6;

type MembershipOp = Extract<SyncOp, { kind: "membership" }>;

/** Where a capped run stopped: the audience, and the last member read in it. */
interface Position {
  audience: string;
  after?: string;
}

/**
 * Queues the current members of `row`'s audiences from `cursor` on (the start when undefined), up to
 * {@link MAX_RECONCILE_MEMBERS} members; the answer's cursor resumes where the cap stopped it.
 *
 * @example const started = await reconcileDestination(env, row); // { status: "started", queued: 12, cursor: … }
 */
export async function reconcileDestination(env: Env, row: DestinationRow, cursor?: string): Promise<ReconcileStarted> {
  const audiences = JSON.parse(row.audiences) as string[];
  const wanted = JSON.parse(row.traits) as string[];
  const start = cursor === undefined ? undefined : positionOf(cursor, audiences);
  const destination = destinationStub(env, row.id);
  let read = 0;
  let queued = 0;
  for (let i = start ? audiences.indexOf(start.audience) : 0; i < audiences.length; i++) {
    const audience = audiences[i];
    let after = start?.audience === audience ? start.after : undefined;
    for (;;) {
      if (read === MAX_RECONCILE_MEMBERS) return started(queued, { audience, after });
      const limit = Math.min(PAGE, MAX_RECONCILE_MEMBERS - read);
      const rows = await listMembers(env.DB, row.workspaceId, "audience", audience, { after, limit });
      const page = rows.slice(0, limit);
      const ops = await inFlight(page, (m) => entryOf(env, m.profileId, audience, wanted));
      const due = ops.filter((op): op is MembershipOp => op !== undefined);
      // Forced: the profile's seq is not known here, and the object must not drop these as stale.
      if (due.length > 0) queued += (await destination.enqueue(row.id, due, { force: true })).queued;
      read += page.length;
      if (rows.length <= limit) break;
      after = page[page.length - 1].profileId;
    }
  }
  return started(queued, undefined);
}

function started(queued: number, next: Position | undefined): ReconcileStarted {
  return {
    status: "started",
    queued,
    cursor: { has_more: next !== undefined, next: next === undefined ? null : encode(next) },
  };
}

/**
 * The entry of `profileId` into `audience` as the profile's object holds it now; undefined when the profile is gone
 * or has left the audience since D1's member list was read (the object is the source of truth).
 */
async function entryOf(
  env: Env,
  profileId: string,
  audience: string,
  wanted: string[],
): Promise<MembershipOp | undefined> {
  const { result } = await followRedirects(profileId, (id) => profileStub(env.PROFILE, id).getProfile());
  if (result.status !== "ok") return undefined;
  const { profile } = result;
  const membership = profile.audiences.find((a) => a.key === audience);
  if (!membership) return undefined;
  const traits: Record<string, unknown> = {};
  for (const key of wanted) {
    if (Object.hasOwn(profile.computed, key)) traits[key] = profile.computed[key];
    else if (Object.hasOwn(profile.traits, key)) traits[key] = profile.traits[key];
  }
  const identifiers = profile.identifiers.map(({ type, value }) => ({ type, value }));
  const op: MembershipOp = {
    kind: "membership",
    profileId: profile.id,
    audience,
    member: true,
    seq: 0,
    // When the profile entered: the webhook destination derives its event id from it, so a receiver that has this
    // entry already can tell it is the same one.
    at: membership.since,
    traits,
    profile: { id: profile.id, identifiers, traits: profile.traits, computed: profile.computed },
  };
  const email = identifiers
    .find((i) => i.type === "email")
    ?.value.trim()
    .toLowerCase();
  if (email) op.email = email;
  return op;
}

/** `call` over `items` with at most {@link READS_IN_FLIGHT} in flight, answers in order. */
async function inFlight<T, R>(items: T[], call: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await call(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(READS_IN_FLIGHT, items.length) }, worker));
  return out;
}

const encode = (p: Position): string =>
  btoa(JSON.stringify([p.audience, p.after ?? null]))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");

/** The position a cursor resumes at; 400 when it is not one this destination's reconciliation issued. */
function positionOf(cursor: string, audiences: string[]): Position {
  let parsed: unknown;
  try {
    parsed = /^[A-Za-z0-9_-]+$/.test(cursor)
      ? JSON.parse(atob(cursor.replace(/-/g, "+").replace(/_/g, "/")))
      : undefined;
  } catch {
    parsed = undefined;
  }
  if (Array.isArray(parsed) && parsed.length === 2) {
    const [audience, after] = parsed as unknown[];
    if (typeof audience === "string" && audiences.includes(audience)) {
      if (after === null) return { audience };
      if (typeof after === "string") return { audience, after };
    }
  }
  throw validationError(
    "cursor is not one this destination's reconciliation issued (or its audiences changed): pass cursor.next " +
      "from the previous answer, or none to start over",
  );
}
