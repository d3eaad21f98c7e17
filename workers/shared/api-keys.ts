import { sha256Hex } from "../../d1/hash";
import { findLiveKey, type KeyOwner } from "../../d1/queries/api-keys";
import { isolateCache } from "./isolate-cache";

/**
 * Keys are looked up on every request, so each isolate remembers answers (unknown keys too) for a while.
 * Revocation therefore takes up to `ISOLATE_CACHE_MS` to reach other isolates — the usual trade for keeping D1
 * off the hot path; the isolate that revokes forgets at once.
 */
const keys = isolateCache(async (key, db: D1Database) => ({
  owner: (await findLiveKey(db, await sha256Hex(key))) ?? null,
}));

/** The workspace and kind of an API key, or null when the key is unknown or revoked. */
export async function lookupKey(db: D1Database, key: string): Promise<KeyOwner | null> {
  const hit = await keys.fetch(key, { context: db });
  return hit?.owner ?? null;
}

/** Forget cached answers (right after a key is revoked in this isolate). */
export function forgetCachedKeys(): void {
  keys.clear();
}
