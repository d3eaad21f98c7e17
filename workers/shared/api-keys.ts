import { sha256Hex } from "./hash";

export type KeyKind = "write" | "secret";
export interface KeyOwner {
  workspaceId: string;
  kind: KeyKind;
}

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
  const row = await db
    .prepare("SELECT workspace_id, kind FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL")
    .bind(await sha256Hex(key))
    .first<{ workspace_id: string; kind: KeyKind }>();
  const owner = row ? { workspaceId: row.workspace_id, kind: row.kind } : null;
  if (cache.size >= MAX_CACHED) cache.clear();
  cache.set(key, { owner, until: now + CACHE_MS });
  return owner;
}

/** Forget cached answers (tests, and right after a key is revoked in this isolate). */
export function forgetCachedKeys(): void {
  cache.clear();
}

/** Store a new key (hashed) for a workspace; returns nothing secret beyond what the caller already holds. */
export async function storeKey(
  db: D1Database,
  key: string,
  owner: KeyOwner & { sourceId?: string | null },
): Promise<D1PreparedStatement> {
  return db
    .prepare(
      "INSERT INTO api_keys (key_hash, workspace_id, kind, source_id, prefix, created_at) VALUES (?, ?, ?, ?, ?, ?)",
    )
    .bind(await sha256Hex(key), owner.workspaceId, owner.kind, owner.sourceId ?? null, key.slice(0, 7), Date.now());
}
