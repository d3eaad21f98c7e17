import { LRUCache } from "lru-cache";
import { sha256Hex } from "../../d1/hash";
import { findLiveKey, type KeyOwner } from "../../d1/queries/api-keys";
import { HttpError } from "./errors";
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

/** How long an address over its unknown-key limit is refused lookups; the binding's period (wrangler.toml). */
const UNKNOWN_KEY_BLOCK_MS = 10_000;

/** Addresses over their limit, until when (epoch ms); bounded, so addresses by the million cost this isolate no more. */
const refused = new LRUCache<string, number>({ max: 10_000 });

/**
 * {@link lookupKey} for a request from `address` (`CF-Connecting-IP`; null when unknown). A made-up key costs a D1
 * read (it is known to be unknown only once D1 said so), and D1 is the one database every workspace's identity
 * resolution waits on: a client sending random keys as fast as it can would take D1 from everyone. So once the
 * `UNKNOWN_KEY_RATE_LIMIT` binding says an address sent too many unknown keys (100 per 10 s; a client with a
 * mistyped key retrying stays far below), this isolate answers it `429` for 10 s without reading D1, for any key it
 * has not just looked up — a valid one behind the same address is told to retry, and keys this isolate knows still
 * work. A limiter that fails changes nothing.
 *
 * @example const owner = await lookupKeyFrom(c.env, c.req.header("cf-connecting-ip") ?? null, key);
 */
export async function lookupKeyFrom(env: Env, address: string | null, key: string): Promise<KeyOwner | null> {
  if (address !== null && (refused.get(address) ?? 0) > Date.now() && !keys.has(key)) {
    throw new HttpError(
      429,
      "rate_limit_error",
      `Too many unknown keys from this address; retry in ${UNKNOWN_KEY_BLOCK_MS / 1000} s`,
      { headers: { "Retry-After": String(UNKNOWN_KEY_BLOCK_MS / 1000) } },
    );
  }
  const owner = await lookupKey(env.DB, key);
  if (owner === null && address !== null) {
    try {
      const { success } = await env.UNKNOWN_KEY_RATE_LIMIT.limit({ key: address });
      if (!success) refused.set(address, Date.now() + UNKNOWN_KEY_BLOCK_MS);
    } catch (err) {
      console.error("unknown-key limiter unavailable; not counting", err);
    }
  }
  return owner;
}
