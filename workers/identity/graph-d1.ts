/**
 * The identity graph in D1 as the resolver sees it: a {@link GraphSnapshot} read from the rows of one batched read,
 * and a {@link WritePlan} turned into one guarded write batch. The SQL itself is in `d1/queries/identity-graph-sql.ts`.
 */
import type { Identifier } from "@tessera/protocol";
import { graphWriteStatements, readGraphRows } from "../../d1/queries/identity-graph-sql";
import { type GraphSnapshot, keyOf, type ProfileState } from "./graph-snapshot";
import type { WritePlan } from "./resolve-plan";

/** Owners, suppressions, and the owning profiles' states (with identifier counts per type): one round trip. */
export async function readGraph(
  db: D1Database,
  workspaceId: string,
  ids: readonly Identifier[],
): Promise<GraphSnapshot> {
  const snapshot: GraphSnapshot = { owners: new Map(), suppressed: new Set(), profiles: new Map() };
  const rows = await readGraphRows(db, workspaceId, ids);
  for (const r of rows.owners) snapshot.owners.set(keyOf(r), r.profileId);
  for (const r of rows.suppressed) snapshot.suppressed.add(keyOf(r));
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

/**
 * The plan as one D1 batch (a transaction), guarded by what the plan was computed from: either the whole plan lands
 * on the graph it was made for, or nothing does (see `graphWriteStatements`).
 */
export function writeStatements(
  db: D1Database,
  workspaceId: string,
  plan: WritePlan,
  now: number,
): D1PreparedStatement[] {
  // Losers' identifiers go straight to their final survivor, so merge chains inside one batch need no ordering.
  const repoints = [...plan.finalStates]
    .filter(([, st]) => st.mergedInto !== null)
    .map(([from]) => ({ from, to: finalSurvivor(plan, from) }));
  const drops = new Map(
    plan.drops.map((d) => [`${d.profileId}|${d.rule}|${d.identifier.type}|${d.identifier.value}`, d]),
  );
  return graphWriteStatements(
    db,
    workspaceId,
    {
      absentKeys: plan.absentKeys,
      readVersions: [...plan.readVersions].map(([id, version]) => ({ id, version })),
      newProfiles: plan.newProfiles,
      claims: plan.claims,
      repoints,
      merges: plan.merges.map((m) => ({
        id: m.id,
        fromProfile: m.from,
        intoProfile: m.into,
        messageId: m.messageId,
        rule: m.rule,
        detail: m.detail,
      })),
      profileStates: [...plan.finalStates].map(([id, st]) => ({ id, ...st })),
      droppedLinks: [...drops.values()].map((d) => ({
        profileId: d.profileId,
        type: d.identifier.type,
        value: d.identifier.value,
        ownerProfile: d.owner,
        messageId: d.messageId,
        rule: d.rule,
      })),
    },
    now,
  );
}

/** Where a merged-away profile's identifiers end up after every merge of the plan. */
function finalSurvivor(plan: WritePlan, id: string): string {
  let cur = id;
  for (let next = plan.finalStates.get(cur)?.mergedInto; next; next = plan.finalStates.get(cur)?.mergedInto) cur = next;
  return cur;
}
