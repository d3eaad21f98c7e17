import { sha256Hex } from "../../d1/hash";
import { findLiveKey, type KeyOwner } from "../../d1/queries/api-keys";
import { isolateCache } from "./isolate-cache";

/**
 * How long an isolate trusts what D1 said about a key: a revocation reaches every isolate within about this long
 * (issue 10: a leaked key must stop within a second, not the 30 s other workspace settings take).
 */
export const KEY_CACHE_MS = 1_000;

/**
 * Keys are looked up on every request, so each isolate remembers answers (unknown keys too) for
 * {@link KEY_CACHE_MS}: one D1 primary-key read per key per isolate per second. The isolate that revokes forgets
 * at once.
 */
const keys = isolateCache(
  async (key, db: D1Database) => ({ owner: (await findLiveKey(db, await sha256Hex(key))) ?? null }),
  { ttlMs: KEY_CACHE_MS },
);

/** The workspace and kind of an API key, or null when the key is unknown or revoked. */
export async function lookupKey(db: D1Database, key: string): Promise<KeyOwner | null> {
  const hit = await keys.fetch(key, { context: db });
  return hit?.owner ?? null;
}

/** Forget cached answers (right after a key is revoked in this isolate). */
export function forgetCachedKeys(): void {
  keys.clear();
}
