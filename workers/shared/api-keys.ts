import { findLiveKey, type KeyOwner } from "../../d1/queries/api-keys";
import { sha256Hex } from "./hash";

/**
 * Keys are looked up on every request, so each isolate remembers answers for a short while. Revocation therefore
 * takes up to `CACHE_MS` to reach every isolate — the usual trade for keeping D1 off the hot path.
 */
const CACHE_MS = 30_000;
const MAX_CACHED = 10_000;
const cache = new Map<string, { owner: KeyOwner | null; until: number }>();

/** The workspace and kind of an API key, or null when the key is unknown or revoked. */
export async function lookupKey(db: D1Database, key: string): Promise<KeyOwner | null> {
  const now = Date.now();
  const hit = cache.get(key);
  if (hit && hit.until > now) return hit.owner;
  const owner = (await findLiveKey(db, await sha256Hex(key))) ?? null;
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(key, { owner, until: now + CACHE_MS });
  return owner;
}

/** Forget cached answers (tests, and right after a key is revoked in this isolate). */
export function forgetCachedKeys(): void {
  cache.clear();
}
