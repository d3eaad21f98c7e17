import type { Identifier } from "@tessera/protocol";
import { newId } from "../../d1/ids";
import { type GraphSnapshot, keyOf, olderFirst, type ProfileState, totalOf } from "./graph-snapshot";
import type { ResolveInput, ResolveOutcome } from "./identity-store";
import { byPriority, type IdentityRules, limitFor } from "./rules";

/** Everything one batch changes in D1, written atomically and only if the snapshot is still current. */
export interface WritePlan {
  newProfiles: Array<{ id: string; createdAt: number }>;
  /** New identifier rows, in claim order (each key was absent in the snapshot). */
  claims: Array<Identifier & { profileId: string; firstSeen: number }>;
  merges: Array<{ id: string; from: string; into: string; messageId: string; rule: string; detail: string }>;
  drops: Array<{ profileId: string; identifier: Identifier; owner: string | null; messageId: string; rule: string }>;
  /** Final counters (and merge pointer) of every profile the batch touched. */
  finalStates: Map<string, { mergedInto: string | null; identifierCount: number; mergeCount: number }>;
  /** Guards: keys read as absent, and profile versions read. */
  absentKeys: Identifier[];
  readVersions: Map<string, number>;
}

/** A message's identifiers joined so far: the existing profiles they belong to and the counts the union would have. */
interface Group {
  members: ProfileState[];
  counts: Map<string, number>;
  merges: number;
}

/**
 * Segment's identity algorithm over a snapshot, one input at a time, in batch order (a later input sees
 * earlier attaches and merges). Pure: it changes only its own copy of the snapshot and returns what to write.
 *
 * Per input: identifiers are taken by priority. The first one decides the starting profile (or a new one);
 * each next one joins only if the union stays within the limits per type and the caps — otherwise it is
 * *dropped* (never merged), which is what keeps two people on a shared device apart.
 */
export function planResolve(
  snapshot: GraphSnapshot,
  rules: IdentityRules,
  inputs: readonly ResolveInput[],
  now: number,
  undone: ReadonlySet<string> = new Set(),
): { outcomes: ResolveOutcome[]; plan: WritePlan } {
  const owners = new Map(snapshot.owners);
  const profiles = new Map<string, ProfileState>();
  for (const [id, p] of snapshot.profiles) profiles.set(id, { ...p, counts: new Map(p.counts) });
  const plan: WritePlan = {
    newProfiles: [],
    claims: [],
    merges: [],
    drops: [],
    finalStates: new Map(),
    absentKeys: [],
    readVersions: new Map([...snapshot.profiles.values()].map((p) => [p.id, p.version])),
  };
  const absent = new Map<string, Identifier>();
  const mergedInto = new Map<string, string>();
  const live = (id: string): string => {
    let cur = id;
    for (let next = mergedInto.get(cur); next; next = mergedInto.get(cur)) cur = next;
    return cur;
  };
  const touch = (p: ProfileState) =>
    plan.finalStates.set(p.id, { mergedInto: null, identifierCount: totalOf(p.counts), mergeCount: p.mergeCount });

  const outcomes = inputs.map((input): ResolveOutcome => {
    const ids = byPriority(rules, withPreviousId(input, owners));
    // An alias's `previousId` that was an erased person's user id names her (it is no one's user id now, so it
    // would otherwise be taken as an anonymous id): her message is dropped like any other.
    const named = input.previousId === undefined ? ids : [...ids, { type: "user_id", value: input.previousId }];
    const suppressed = named.find((id) => snapshot.suppressed.has(keyOf(id)));
    if (suppressed) return { kind: "suppressed", identifier: suppressed };

    const group: Group = { members: [], counts: new Map(), merges: 0 };
    const fresh: Identifier[] = [];
    const attached: Identifier[] = [];
    const dropped: Identifier[] = [];
    const linking = new Map<string, Identifier[]>();
    const drop = (identifier: Identifier, owner: string | null, rule: string) => {
      dropped.push(identifier);
      plan.drops.push({ profileId: "", identifier, owner, messageId: input.messageId, rule });
    };
    for (const id of ids) {
      const owned = owners.get(keyOf(id));
      const owner = owned === undefined ? undefined : live(owned);
      if (owner === undefined && !absent.has(keyOf(id))) absent.set(keyOf(id), id);
      const first = group.members.length === 0 && fresh.length === 0;
      if (owner === undefined) {
        const refusal = first ? null : refuseAttach(rules, group, id.type);
        if (refusal) drop(id, null, refusal);
        else {
          add(group.counts, id.type, 1);
          fresh.push(id);
          attached.push(id);
        }
        continue;
      }
      if (group.members.some((m) => m.id === owner)) {
        attached.push(id);
        linking.get(owner)?.push(id);
        continue;
      }
      const other = profiles.get(owner)!;
      // A message whose merge an operator undid merges nothing again: its redelivery (an SDK's retry, a beacon) is
      // the same message, and idempotent; only a later message may join the two again.
      const refusal = first ? null : undone.has(input.messageId) ? UNDONE : refuseMerge(rules, group, other);
      if (refusal) {
        drop(id, owner, refusal);
        continue;
      }
      group.members.push(other);
      for (const [type, n] of other.counts) add(group.counts, type, n);
      group.merges += other.mergeCount + (group.members.length > 1 ? 1 : 0);
      attached.push(id);
      linking.set(owner, [id]);
    }

    const created = group.members.length === 0;
    let survivor: ProfileState;
    if (created) {
      survivor = { id: newId("prf"), createdAt: now, version: 0, mergeCount: 0, counts: new Map() };
      profiles.set(survivor.id, survivor);
      plan.newProfiles.push({ id: survivor.id, createdAt: now });
    } else survivor = [...group.members].sort(olderFirst)[0];

    const merged: Array<{ from: string; into: string }> = [];
    for (const loser of group.members) {
      if (loser.id === survivor.id) continue;
      mergedInto.set(loser.id, survivor.id);
      merged.push({ from: loser.id, into: survivor.id });
      plan.merges.push({
        id: newId("mrg"),
        from: loser.id,
        into: survivor.id,
        messageId: input.messageId,
        rule: input.previousId !== undefined ? "alias" : "same_message",
        detail: JSON.stringify({
          from_identifiers: linking.get(loser.id) ?? [],
          into_identifiers: attached.filter((id) => !(linking.get(loser.id) ?? []).includes(id)),
        }),
      });
      plan.finalStates.set(loser.id, { mergedInto: survivor.id, identifierCount: 0, mergeCount: loser.mergeCount });
    }
    survivor.counts = group.counts;
    survivor.mergeCount = created ? 0 : group.merges;
    for (const id of fresh) {
      owners.set(keyOf(id), survivor.id);
      plan.claims.push({ ...id, profileId: survivor.id, firstSeen: input.at });
    }
    for (const d of plan.drops) if (d.profileId === "") d.profileId = survivor.id;
    if (created || fresh.length > 0 || merged.length > 0) touch(survivor);
    return { kind: "profile", profileId: survivor.id, created, attached, dropped, merged };
  });
  plan.absentKeys = [...absent.values()];
  return { outcomes, plan };
}

/** Alias: when a profile already owns `previousId` as a user id, the message links that user id. */
function withPreviousId(input: ResolveInput, owners: Map<string, string>): Identifier[] {
  const prev = input.previousId;
  if (prev === undefined || !owners.has(keyOf({ type: "user_id", value: prev }))) return input.identifiers;
  return input.identifiers.map((id) =>
    id.type === "anonymous_id" && id.value === prev ? { type: "user_id", value: prev } : id,
  );
}

/** The rule a dropped link names when its message's merge was undone (`GET /v1/profiles/:ref/merges`). */
const UNDONE = "undone:merge";

function refuseAttach(rules: IdentityRules, group: Group, type: string): string | null {
  if ((group.counts.get(type) ?? 0) + 1 > limitFor(rules, type)) return `limit:${type}`;
  if (totalOf(group.counts) + 1 > rules.maxIdentifiersPerProfile) return "cap:identifiers";
  return null;
}

function refuseMerge(rules: IdentityRules, group: Group, other: ProfileState): string | null {
  for (const [type, n] of other.counts) {
    const mine = group.counts.get(type) ?? 0;
    // Only a type both sides hold can grow past its limit; an old over-limit profile still accepts others.
    if (mine > 0 && n > 0 && mine + n > limitFor(rules, type)) return `limit:${type}`;
  }
  if (totalOf(group.counts) + totalOf(other.counts) > rules.maxIdentifiersPerProfile) return "cap:identifiers";
  const merges = group.merges + other.mergeCount + (group.members.length > 0 ? 1 : 0);
  if (merges > rules.maxMergesPerProfile) return "cap:merges";
  return null;
}

function add(counts: Map<string, number>, type: string, n: number) {
  counts.set(type, (counts.get(type) ?? 0) + n);
}
