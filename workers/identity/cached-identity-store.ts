import type { Identifier, MergeRecord } from "@tessera/protocol";
import { D1IdentityStore } from "./d1-identity-store";
import { IdentityCache } from "./identity-cache";
import type { DroppedLink, IdentityStore, ResolveInput, ResolveOutcome } from "./identity-store";
import type { IdentityRules } from "./rules";

/**
 * Keeps D1 off the hot path for repeat visitors: an input whose identifiers this isolate already knows, all on
 * one profile, has nothing new to teach the graph and is answered from memory. Everything else goes to the
 * inner store, and its answers are learned.
 *
 * A cached answer can be stale (another isolate merged or erased the profile). That is safe by design: the
 * profile's Durable Object answers "redirect" or "deleted", and the caller corrects this cache with
 * {@link redirect} or {@link forgetProfile}.
 */
export class CachedIdentityStore implements IdentityStore {
  constructor(
    readonly inner: IdentityStore,
    readonly cache: IdentityCache = new IdentityCache(),
  ) {}

  async resolve(workspaceId: string, rules: IdentityRules, inputs: ResolveInput[]): Promise<ResolveOutcome[]> {
    const hits = inputs.map((input) => this.cachedProfile(workspaceId, input));
    // A miss may merge or grow the profiles its known identifiers point at; inputs answered from those
    // profiles go to D1 too (in order), so this batch's later inputs see its earlier merges.
    const tainted = new Set<string>();
    for (const [i, input] of inputs.entries()) {
      if (hits[i] !== null) continue;
      for (const id of input.identifiers) {
        const p = this.cache.get(workspaceId, id);
        if (p) tainted.add(p);
      }
    }
    const toStore: number[] = [];
    for (const [i, hit] of hits.entries()) if (hit === null || tainted.has(hit)) toStore.push(i);

    const outcomes: ResolveOutcome[] = inputs.map((input, i) => ({
      kind: "profile",
      profileId: hits[i] ?? "",
      created: false,
      attached: input.identifiers,
      dropped: [],
      merged: [],
      cached: true,
    }));
    if (toStore.length === 0) return outcomes;
    const answered = await this.inner.resolve(
      workspaceId,
      rules,
      toStore.map((i) => inputs[i]),
    );
    for (const [j, i] of toStore.entries()) {
      const outcome = answered[j];
      outcomes[i] = outcome;
      if (outcome.kind !== "profile") continue;
      for (const m of outcome.merged) this.cache.redirect(workspaceId, m.from, m.into);
      for (const id of outcome.attached) this.cache.set(workspaceId, id, outcome.profileId);
    }
    return outcomes;
  }

  /**
   * The profile every identifier of `input` is cached to, or null when any is unknown or they disagree, and for a
   * retried input: only the graph's journal knows which folds it may still be owed.
   */
  private cachedProfile(workspaceId: string, input: ResolveInput): string | null {
    if (input.identifiers.length === 0 || input.previousId !== undefined || input.retried) return null;
    let profile: string | null = null;
    for (const id of input.identifiers) {
      const p = this.cache.get(workspaceId, id);
      if (p === undefined || (profile !== null && p !== profile)) return null;
      profile = p;
    }
    return profile;
  }

  /** Forget every identifier cached to `profileId` (its Durable Object said "deleted", or it was erased). */
  forgetProfile(workspaceId: string, profileId: string): void {
    this.cache.forgetProfile(workspaceId, profileId);
  }

  /**
   * A signed profile cookie says `identifier` belonged to `profileId`. Learned only when this isolate knows nothing
   * fresher: a cold isolate then answers a returning visitor from memory instead of reading D1.
   */
  vouch(workspaceId: string, identifier: Identifier, profileId: string): void {
    if (this.cache.get(workspaceId, identifier) === undefined) this.cache.set(workspaceId, identifier, profileId);
  }

  /** Forget `ids` (a merge undo moved them off the profile they were cached to; its Durable Object said so). */
  forgetIdentifiers(workspaceId: string, ids: readonly Identifier[]): void {
    for (const id of ids) this.cache.forget(workspaceId, id);
  }

  /** Point identifiers cached to `from` at `to` (its Durable Object answered "redirect"). */
  redirect(workspaceId: string, from: string, to: string): void {
    this.cache.redirect(workspaceId, from, to);
  }

  // Reads for the profile API are not the hot path and must be exact: always from the authority.
  findProfile(workspaceId: string, identifier: Identifier): Promise<string | null> {
    return this.inner.findProfile(workspaceId, identifier);
  }
  liveProfile(workspaceId: string, profileId: string): Promise<string | null> {
    return this.inner.liveProfile(workspaceId, profileId);
  }
  mergesInto(workspaceId: string, profileId: string): Promise<MergeRecord[]> {
    return this.inner.mergesInto(workspaceId, profileId);
  }
  droppedLinks(workspaceId: string, profileId: string): Promise<DroppedLink[]> {
    return this.inner.droppedLinks(workspaceId, profileId);
  }

  async erase(workspaceId: string, profileId: string): Promise<{ profileIds: string[]; identifiers: Identifier[] }> {
    const erased = await this.inner.erase(workspaceId, profileId);
    for (const id of erased.profileIds) this.cache.forgetProfile(workspaceId, id);
    return erased;
  }
}

/** Shared by every request this isolate serves; the D1 binding is taken from the latest `env`. */
const isolateCache = new IdentityCache();
let current: CachedIdentityStore | undefined;

/**
 * The isolate's identity store: D1 behind this isolate's identifier cache.
 * @example const outcomes = await identityStoreFor(env).resolve(workspaceId, rules, inputs);
 */
export function identityStoreFor(env: Env): CachedIdentityStore {
  if (!current || (current.inner as D1IdentityStore).db !== env.DB)
    current = new CachedIdentityStore(new D1IdentityStore(env.DB), isolateCache);
  return current;
}
