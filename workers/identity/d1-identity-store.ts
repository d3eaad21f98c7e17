import type { Identifier, MergeRecord } from "@tessera/protocol";
import { newId } from "../../d1/ids";
import { findIdentifierOwner } from "../../d1/queries/identity-graph";
import {
  committedTickets,
  findChainEnd,
  graphRowsOf,
  type HashedKey,
  listDroppedLinksOfTree,
  listMergesIntoTree,
  liveMergesOfMessages,
  readGraphStatements,
  undoneMergeMessages,
} from "../../d1/queries/identity-graph-sql";
import { connectedComponents, keysOf, snapshotFor } from "./components";
import { eraseFromGraph } from "./erase-graph";
import { hashedKeys, snapshotOf, type TicketedPlan, writeStatements } from "./graph-d1";
import { type GraphSnapshot, keyOf } from "./graph-snapshot";
import { DEFAULT_LINGER, GroupCommit } from "./group-commit";
import {
  type DroppedLink,
  type IdentityStore,
  type MergeMaybeWritten,
  ResolveFailedAfterMerging,
  type ResolveInput,
  type ResolveOutcome,
} from "./identity-store";
import { planResolve, type WritePlan } from "./resolve-plan";
import type { IdentityRules } from "./rules";

/** Attempts before a component gives up under contention (the collector then retries the batch from its queue). */
const MAX_ATTEMPTS = 8;
/** The first attempt's assumption: every identifier is new (it is checked by the write's ticket, not trusted). */
const NOTHING_KNOWN: GraphSnapshot = { owners: new Map(), suppressed: new Set(), profiles: new Map() };
/** Merge chains are short (each merge points at the oldest profile); this only stops a corrupt cycle. */
const MAX_CHAIN = 64;
/**
 * What one grouped resolve takes at most, counting each input and each of its identifiers: its D1 batch holds D1's
 * one writer, which every workspace's identity resolution waits on, for about as long as it has identifiers.
 * Measured locally: 5,000 inputs of 4 identifiers (25,000 by this count) took ~1 s in 240 statements; 5,000 of 52 (a
 * message's 50 external ids, 265,000) took 11.6 s in 2,640. One request counts ~13,000 at most (500 KB), so it is
 * never split; concurrent requests past this wait for the next group.
 */
const MAX_GROUP_WEIGHT = 25_000;

/**
 * The identity graph in D1, the one authority for identifier → profile.
 *
 * `resolve` costs one D1 `batch()` — claims, then the read — whatever the number of new people, and a second only
 * for attaches and merges (see `resolveNow`); retried inputs one more, for the folds they may still be owed (see
 * `withOwedFolds`). The inputs are planned per connected component (inputs linked by an
 * identifier or a profile), and each component's writes land only if what it was planned from still holds
 * (optimistic concurrency per component): when another writer changed that part of the graph meanwhile, only that
 * component is planned again, the rest of the batch is already stored. Concurrent first sightings therefore converge
 * on the first writer's profile, and concurrent merges on the oldest profile. Concurrent resolves of one workspace in
 * this isolate are grouped into one batch ({@link GroupCommit}).
 *
 * @example const store = new D1IdentityStore(env.DB); const [outcome] = await store.resolve(ws, rules, inputs);
 */
export class D1IdentityStore implements IdentityStore {
  private readonly groups = new GroupCommit<ResolveInput, ResolveOutcome>(
    MAX_GROUP_WEIGHT,
    DEFAULT_LINGER,
    (input) => 1 + keysOf(input).length,
  );

  constructor(readonly db: D1Database) {}

  resolve(workspaceId: string, rules: IdentityRules, inputs: ResolveInput[]): Promise<ResolveOutcome[]> {
    return this.groups.run(`${workspaceId}\u0000${JSON.stringify(rules)}`, inputs, async (all) => {
      const written: MergeMaybeWritten[] = [];
      try {
        return await this.withOwedFolds(workspaceId, all, await this.resolveNow(workspaceId, rules, all, written));
      } catch (err) {
        if (written.length === 0) throw err;
        throw new ResolveFailedAfterMerging(written, { cause: err });
      }
    });
  }

  /**
   * `outcomes` with, for each retried input, the live merges its message caused, read from the journal: a first
   * resolve that wrote them and then failed (a later attempt threw, or D1's reply was lost) handed no outcome back,
   * and resolving again finds the two profiles already one, so their folds would never be asked for. The journal is
   * the record of the folds owed; asking for one again is harmless. One round trip, for retried inputs only.
   */
  private async withOwedFolds(
    workspaceId: string,
    inputs: ResolveInput[],
    outcomes: ResolveOutcome[],
  ): Promise<ResolveOutcome[]> {
    const asked = inputs.flatMap((input, i) => {
      const outcome = outcomes[i];
      return input.retried && outcome.kind === "profile"
        ? [{ messageId: input.messageId, survivor: outcome.profileId }]
        : [];
    });
    if (asked.length === 0) return outcomes;
    const owed = new Map<string, Array<{ from: string; into: string }>>();
    for (const row of await liveMergesOfMessages(this.db, workspaceId, asked)) {
      const merge = { from: row.fromProfile, into: row.intoProfile };
      const list = owed.get(row.messageId as string);
      if (list) list.push(merge);
      else owed.set(row.messageId as string, [merge]);
    }
    return outcomes.map((outcome, i) => {
      const found = owed.get(inputs[i].messageId);
      if (!inputs[i].retried || !found || outcome.kind !== "profile") return outcome;
      const known = new Set(outcome.merged.map((m) => m.from));
      return { ...outcome, merged: [...outcome.merged, ...found.filter((m) => !known.has(m.from))] };
    });
  }

  /**
   * Claims first, reads in the same batch: the first attempt plans every component as if all its identifiers were
   * new (the common case for a batch the isolate cache could not answer) and its writes land only where that was
   * true; the graph is read after them, in the same batch. A brand-new person thus costs one D1 round trip, and a
   * known one whose component needs no write costs one too; only attaches and merges take a second.
   */
  private async resolveNow(
    workspaceId: string,
    rules: IdentityRules,
    inputs: ResolveInput[],
    written: MergeMaybeWritten[],
  ): Promise<ResolveOutcome[]> {
    const outcomes: ResolveOutcome[] = new Array(inputs.length);
    let pending = inputs.map((_, i) => i);
    let snapshot: GraphSnapshot | null = null;
    // Every identifier's suppression hash, once: the first attempt plans every component as new and needs them all,
    // and hashing per component would put one await per new person on the path every concurrent resolve waits on.
    const ids = new Map<string, Identifier>();
    for (const input of inputs) for (const id of keysOf(input)) ids.set(keyOf(id), id);
    const hashed = new Map((await hashedKeys(this.db, workspaceId, [...ids.values()])).map((k) => [keyOf(k), k]));
    // Messages whose merge an operator undid (they merge nothing again), among those asked about so far.
    const undone = new Set<string>();
    const asked = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      const open = pending.map((i) => inputs[i]);
      const seen = snapshot ?? NOTHING_KNOWN;
      const parts: Array<TicketedPlan & { members: number[]; outcomes: ResolveOutcome[] }> = [];
      for (const component of connectedComponents(open, seen)) {
        const members = component.map((j) => pending[j]);
        const part = members.map((i) => inputs[i]);
        let planned = planResolve(snapshotFor(seen, part), rules, part, Date.now(), undone);
        // Only a plan that merges asks (merges are rare, so the round trip is too), and only once per message.
        const unasked = [...new Set(planned.plan.merges.map((m) => m.messageId))].filter((id) => !asked.has(id));
        if (unasked.length > 0) {
          for (const id of unasked) asked.add(id);
          const found = await undoneMergeMessages(this.db, workspaceId, unasked);
          for (const id of found) undone.add(id);
          if (found.length > 0) planned = planResolve(snapshotFor(seen, part), rules, part, Date.now(), undone);
        }
        const { plan } = planned;
        const writes = plan.newProfiles.length + plan.claims.length + plan.merges.length + plan.drops.length;
        if (writes === 0) for (const [k, i] of members.entries()) outcomes[i] = planned.outcomes[k];
        else {
          const partKeys = new Set<string>();
          for (const input of part) for (const id of keysOf(input)) partKeys.add(keyOf(id));
          const keys = [...partKeys].map((key) => hashed.get(key) as HashedKey);
          const ticket = newId("tkt");
          const { suppressed } = seen;
          parts.push({
            ticket,
            plan,
            keys,
            speculative: snapshot === null,
            suppressed,
            members,
            outcomes: planned.outcomes,
          });
        }
      }
      if (parts.length === 0) return outcomes;
      const keys = parts.flatMap((part) => part.keys);
      const writes = writeStatements(this.db, workspaceId, parts, Date.now());
      // What the graph holds after this batch's writes, for the components they did not settle.
      const reads = readGraphStatements(this.db, workspaceId, keys);
      let results: D1Result[];
      try {
        results = await this.db.batch([...writes, ...reads]);
      } catch (err) {
        // D1 may have committed the batch and lost the reply: its merges may be written.
        for (const part of parts) written.push(...mergesOf(part.plan));
        throw err;
      }
      const committed = committedTickets(results.slice(0, writes.length));
      const wasSpeculative = snapshot === null;
      snapshot = snapshotOf(graphRowsOf(results.slice(writes.length)), keys);
      pending = [];
      for (const part of parts) {
        if (committed.has(part.ticket)) {
          for (const [k, i] of part.members.entries()) outcomes[i] = part.outcomes[k];
          written.push(...mergesOf(part.plan));
        } else pending.push(...part.members);
      }
      if (pending.length === 0) return outcomes;
      if (attempt >= MAX_ATTEMPTS)
        throw new Error(`identity resolution: ${pending.length} inputs still contended after ${attempt} attempts`);
      pending.sort((a, b) => a - b);
      // A claim that found known identifiers is expected (returning people); a stale read means another writer
      // changed these components: back off a little so the herd does not collide again.
      if (!wasSpeculative) await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
    }
  }

  async findProfile(workspaceId: string, identifier: Identifier): Promise<string | null> {
    const row = await findIdentifierOwner(this.db, workspaceId, identifier);
    return row ? this.liveProfile(workspaceId, row.profileId) : null;
  }

  async liveProfile(workspaceId: string, profileId: string): Promise<string | null> {
    const row = await findChainEnd(this.db, workspaceId, profileId, MAX_CHAIN);
    return row && row.deletedAt === null ? row.id : null;
  }

  async mergesInto(workspaceId: string, profileId: string): Promise<MergeRecord[]> {
    const results = await listMergesIntoTree(this.db, workspaceId, profileId);
    return results.map((m) => ({
      id: m.id,
      from: m.fromProfile,
      into: m.intoProfile,
      message_id: m.messageId,
      rule: m.rule,
      created_at: new Date(m.createdAt).toISOString(),
    }));
  }

  async droppedLinks(workspaceId: string, profileId: string): Promise<DroppedLink[]> {
    const results = await listDroppedLinksOfTree(this.db, workspaceId, profileId);
    return results.map((d) => ({
      id: d.id,
      profile_id: d.profileId,
      identifier: { type: d.type, value: d.value },
      owner_profile: d.ownerProfile,
      message_id: d.messageId,
      rule: d.rule,
      created_at: new Date(d.createdAt).toISOString(),
    }));
  }

  async erase(workspaceId: string, profileId: string): Promise<{ profileIds: string[]; identifiers: Identifier[] }> {
    return eraseFromGraph(this.db, (ws, id) => this.liveProfile(ws, id), workspaceId, profileId);
  }
}

/** The merges a plan writes, as a failed resolve reports them. */
function mergesOf(plan: WritePlan): MergeMaybeWritten[] {
  return plan.merges.map(({ from, into, messageId }) => ({ from, into, messageId }));
}
