import type { Identifier } from "@tessera/protocol";
import { keyOf } from "./graph-snapshot";

/** Enough for the active visitors of a busy isolate; about 100 bytes an entry. */
const DEFAULT_CAPACITY = 50_000;

/**
 * `workspace|type|value → profileId`, least recently used evicted first (a Map keeps insertion order, so a hit
 * re-inserts its key at the end). It holds only facts D1 told this isolate; stale ones are corrected by the
 * callers when a Durable Object redirects or is gone.
 */
export class IdentityCache {
  private readonly entries = new Map<string, string>();
  constructor(readonly capacity = DEFAULT_CAPACITY) {}

  get(workspaceId: string, id: Identifier): string | undefined {
    const key = cacheKey(workspaceId, id);
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, hit);
    }
    return hit;
  }

  set(workspaceId: string, id: Identifier, profileId: string): void {
    const key = cacheKey(workspaceId, id);
    this.entries.delete(key);
    this.entries.set(key, profileId);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
  }

  /** Rare (merges, deletes): a scan of at most `capacity` entries is cheaper than keeping a reverse index. */
  redirect(workspaceId: string, from: string, to: string): void {
    const prefix = `${workspaceId}\u0000`;
    for (const [key, profile] of this.entries)
      if (profile === from && key.startsWith(prefix)) this.entries.set(key, to);
  }

  forget(workspaceId: string, id: Identifier): void {
    this.entries.delete(cacheKey(workspaceId, id));
  }

  forgetProfile(workspaceId: string, profileId: string): void {
    const prefix = `${workspaceId}\u0000`;
    for (const [key, profile] of this.entries)
      if (profile === profileId && key.startsWith(prefix)) this.entries.delete(key);
  }

  get size(): number {
    return this.entries.size;
  }
}

const cacheKey = (workspaceId: string, id: Identifier) => `${workspaceId}\u0000${keyOf(id)}`;
