import { LRUCache } from "lru-cache";
import { keepAlive } from "./keep-alive";

/**
 * How long an isolate trusts what D1 told it about rarely-changing workspace settings (API keys, identity
 * rules): a change made through another isolate reaches this one within this time. The isolate that made the
 * change forgets its own entry at once.
 */
export const ISOLATE_CACHE_MS = 30_000;

/**
 * A per-isolate cache of D1 answers: least-recently-used past 10,000 entries, entries expire after
 * {@link ISOLATE_CACHE_MS}, and concurrent misses for one key share a single `load` (one D1 query, not many).
 * `context` carries what `load` needs per call (the D1 binding) without keeping it in the cache.
 *
 * @example
 * const rules = isolateCache((workspaceId, db: D1Database) => readRules(db, workspaceId));
 * await rules.fetch("ws_1", { context: env.DB });
 */
export function isolateCache<V extends {}, C>(
  load: (key: string, context: C) => Promise<V>,
  options: IsolateCacheOptions = {},
): LRUCache<string, V, C> {
  return new LRUCache<string, V, C>({
    max: 10_000,
    ttl: options.ttlMs ?? ISOLATE_CACHE_MS,
    // lru-cache otherwise memoises "now" until a 1 ms timer clears it; a timer set during one request may never
    // fire once that request ends, which froze "now" and kept every entry fresh forever.
    ttlResolution: 0,
    fetchMethod: (key, _stale, { context }) => {
      // Concurrent misses share this load: it must not die with the request that happened to start it.
      const loading = load(key, context);
      (options.keepAlive ?? keepAlive)(loading);
      return loading;
    },
  });
}

export interface IsolateCacheOptions {
  /**
   * How long an answer is trusted; {@link ISOLATE_CACHE_MS} unless said. Expired answers are reloaded while the
   * request waits: a reload in the background could outlive the request that started it, which the runtime may
   * cancel, leaving the stale answer in place for good.
   */
  ttlMs?: number;
  /** Hands each load to the runtime to finish (see `keep-alive.ts`); replaceable in tests. */
  keepAlive?: (work: Promise<unknown>) => void;
}
