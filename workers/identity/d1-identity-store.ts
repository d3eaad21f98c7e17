import type { Identifier, MergeRecord } from "@tessera/protocol";
import { findIdentifierOwner } from "../../d1/queries/identity-graph";
import {
  eraseMergedTree,
  findChainEnd,
  isStaleWrite,
  listDroppedLinksOfTree,
  listMergesIntoTree,
  readMergedTree,
} from "../../d1/queries/identity-graph-sql";
import { readGraph, writeStatements } from "./graph-d1";
import { keyOf } from "./graph-snapshot";
import type { DroppedLink, IdentityStore, ResolveInput, ResolveOutcome } from "./identity-store";
import { planResolve } from "./resolve-plan";
import type { IdentityRules } from "./rules";

/** Attempts before a resolve gives up under contention (the collector then retries the batch from its queue). */
const MAX_ATTEMPTS = 8;
/** Merge chains are short (each merge points at the oldest profile); this only stops a corrupt cycle. */
const MAX_CHAIN = 64;

/**
 * The identity graph in D1, the one authority for identifier → profile.
 *
 * `resolve` costs one read round trip (every identifier of every input, plus suppressions and the owning
 * profiles' counts, in one `batch()`), then — only when something changes — one write `batch()`. The write is
 * guarded by what was read (optimistic concurrency): when another request changed the same part of the graph
 * meanwhile, D1 rolls the batch back and the resolve starts over from a fresh read. Concurrent first sightings
 * therefore converge on the first writer's profile, and concurrent merges on the oldest profile.
 *
 * @example const store = new D1IdentityStore(env.DB); const [outcome] = await store.resolve(ws, rules, inputs);
 */
export class D1IdentityStore implements IdentityStore {
  constructor(readonly db: D1Database) {}

  async resolve(workspaceId: string, rules: IdentityRules, inputs: ResolveInput[]): Promise<ResolveOutcome[]> {
    const keys = new Map<string, Identifier>();
    for (const input of inputs) {
      for (const id of input.identifiers) keys.set(keyOf(id), id);
      if (input.previousId !== undefined) {
        const asUser = { type: "user_id", value: input.previousId };
        keys.set(keyOf(asUser), asUser);
      }
    }
    for (let attempt = 1; ; attempt++) {
      const snapshot = await readGraph(this.db, workspaceId, [...keys.values()]);
      const now = Date.now();
      const { outcomes, plan } = planResolve(snapshot, rules, inputs, now);
      const statements = writeStatements(this.db, workspaceId, plan, now);
      const writes = plan.newProfiles.length + plan.claims.length + plan.merges.length + plan.drops.length;
      if (writes === 0) return outcomes;
      try {
        await this.db.batch(statements);
        return outcomes;
      } catch (err) {
        if (!isStaleWrite(err) || attempt >= MAX_ATTEMPTS) throw err;
        // Someone else changed this part of the graph: back off a little so the herd does not collide again.
        await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
      }
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
    for (let attempt = 1; ; attempt++) {
      const live = await this.liveProfile(workspaceId, profileId);
      if (!live) return { profileIds: [], identifiers: [] };
      const { profiles, identifiers } = await readMergedTree(this.db, workspaceId, live);
      try {
        await eraseMergedTree(this.db, workspaceId, profiles, Date.now());
        return { profileIds: profiles.map((p) => p.id), identifiers };
      } catch (err) {
        if (!isStaleWrite(err) || attempt >= MAX_ATTEMPTS) throw err;
      }
    }
  }
}
