/**
 * The identity graph in D1 as the resolver sees it: a {@link GraphSnapshot} read from the rows of one batched read,
 * and the {@link WritePlan}s of its connected components turned into one write batch. The SQL itself is in
 * `d1/queries/identity-graph-sql.ts`.
 */
import type { Identifier } from "@tessera/protocol";
import {
  type GraphRows,
  type GraphWrite,
  graphWriteStatements,
  type HashedKey,
  readGraphRows,
  suppressedAmong,
} from "../../d1/queries/identity-graph-sql";
import { type GraphSnapshot, keyOf, type ProfileState } from "./graph-snapshot";
import type { WritePlan } from "./resolve-plan";
import { hashLegacySuppressions, suppressionHashes } from "./suppressions";

/** Owners, suppressions, and the owning profiles' states (with identifier counts per type): one round trip. */
export async function readGraph(
  db: D1Database,
  workspaceId: string,
  ids: readonly Identifier[],
): Promise<GraphSnapshot> {
  const keys = await hashedKeys(db, workspaceId, ids);
  return snapshotOf(await readGraphRows(db, workspaceId, keys), keys);
}

/** `ids` with their suppression hashes: suppressions are stored as keyed hashes, so they are looked up by hash. */
export async function hashedKeys(
  db: D1Database,
  workspaceId: string,
  ids: readonly Identifier[],
): Promise<HashedKey[]> {
  await hashLegacySuppressions(db);
  const hashes = await suppressionHashes(workspaceId, ids);
  return ids.map((id, i) => ({ ...id, hash: hashes[i] }));
}

/**
 * The erased ones among `ids` in `workspaceId` (their suppressions), as {@link keyOf} keys: for work that outlived
 * an erase, such as a dead letter recorded after it.
 *
 * @example if ((await erasedAmong(env.DB, ws, ids)).size > 0) …
 */
export async function erasedAmong(
  db: D1Database,
  workspaceId: string,
  ids: readonly Identifier[],
): Promise<Set<string>> {
  const keys = await hashedKeys(db, workspaceId, ids);
  const suppressed = await suppressedAmong(
    db,
    workspaceId,
    keys.map((k) => k.hash),
  );
  return new Set(keys.filter((k) => suppressed.has(k.hash)).map((k) => keyOf(k as Identifier)));
}

/** A snapshot of the rows `readGraphRows` (or `readGraphStatements` run in some batch) found for `keys`. */
export function snapshotOf(rows: GraphRows, keys: readonly HashedKey[]): GraphSnapshot {
  const snapshot: GraphSnapshot = { owners: new Map(), suppressed: new Set(), profiles: new Map() };
  // Suppressions come back as hashes: mapped back to the identifiers they were looked up for.
  const byHash = new Map(keys.map((k) => [k.hash, k]));
  for (const r of rows.owners) snapshot.owners.set(keyOf(r), r.profileId);
  for (const r of rows.suppressed) snapshot.suppressed.add(keyOf(byHash.get(r.hash) as Identifier));
  for (const r of rows.profileCounts) {
    let p: ProfileState | undefined = snapshot.profiles.get(r.id);
    if (!p) {
      p = { id: r.id, createdAt: r.createdAt, version: r.version, mergeCount: r.mergeCount, counts: new Map() };
      snapshot.profiles.set(r.id, p);
    }
    p.counts.set(r.type, r.n);
  }
  return snapshot;
}

/** One connected component's plan, the ticket its writes are conditioned on, and every key its inputs carry. */
export interface TicketedPlan {
  ticket: string;
  plan: WritePlan;
  keys: readonly HashedKey[];
  /** Planned without reading (every key assumed new): the ticket must find every key unowned. */
  speculative: boolean;
  /**
   * Keys the plan read as suppressed ({@link keyOf} keys): their messages were dropped, so an erase cannot have
   * changed what the plan wrote. The ticket re-checks only the others; re-checking these would find the component
   * stale on every attempt.
   */
  suppressed: ReadonlySet<string>;
}

/**
 * The plans of a resolve's connected components as one D1 batch (a transaction). Each component lands whole, and only
 * if what its plan was computed from still holds; a stale one writes nothing and the others are unaffected (see
 * `graphWriteStatements`; `committedTickets` of the results says which landed).
 */
export function writeStatements(
  db: D1Database,
  workspaceId: string,
  parts: readonly TicketedPlan[],
  now: number,
): D1PreparedStatement[] {
  const write: { [K in keyof GraphWrite]: Array<GraphWrite[K][number]> } = {
    components: [],
    newProfiles: [],
    claims: [],
    repoints: [],
    merges: [],
    profileStates: [],
    droppedLinks: [],
  };
  for (const { ticket, plan, keys, speculative, suppressed } of parts) {
    write.components.push({
      ticket,
      // Speculative: the plan never saw an alias's `previousId` as a user id either, so that key must be new too.
      absentKeys: speculative ? keys : plan.absentKeys,
      unsuppressedHashes: keys.filter((k) => !suppressed.has(keyOf(k as Identifier))).map((k) => k.hash),
      readVersions: [...plan.readVersions].map(([id, version]) => ({ id, version })),
    });
    write.newProfiles.push(...plan.newProfiles.map((p) => ({ ticket, ...p })));
    write.claims.push(...plan.claims.map((c) => ({ ticket, ...c })));
    // Losers' identifiers go straight to their final survivor, so merge chains inside one batch need no ordering.
    for (const [from, st] of plan.finalStates)
      if (st.mergedInto !== null) write.repoints.push({ ticket, from, to: finalSurvivor(plan, from) });
    for (const m of plan.merges)
      write.merges.push({
        ticket,
        id: m.id,
        fromProfile: m.from,
        intoProfile: m.into,
        messageId: m.messageId,
        rule: m.rule,
        detail: m.detail,
      });
    for (const [id, st] of plan.finalStates) write.profileStates.push({ ticket, id, ...st });
    const drops = new Map(
      plan.drops.map((d) => [`${d.profileId}|${d.rule}|${d.identifier.type}|${d.identifier.value}`, d]),
    );
    for (const d of drops.values())
      write.droppedLinks.push({
        ticket,
        profileId: d.profileId,
        type: d.identifier.type,
        value: d.identifier.value,
        ownerProfile: d.owner,
        messageId: d.messageId,
        rule: d.rule,
      });
  }
  return graphWriteStatements(db, workspaceId, write, now);
}

/** Where a merged-away profile's identifiers end up after every merge of the plan. */
function finalSurvivor(plan: WritePlan, id: string): string {
  let cur = id;
  for (let next = plan.finalStates.get(cur)?.mergedInto; next; next = plan.finalStates.get(cur)?.mergedInto) cur = next;
  return cur;
}
