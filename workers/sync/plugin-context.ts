/** What a destination's plugin or poller is handed by its object: config, paced `fetch`, clock and key-value store. */
import type { DestinationRow } from "../../d1/queries/destinations";
import type { PluginContext } from "./plugin";
import type { VendorGate } from "./vendor-gate";

/** The object's key-value table (tokens, list ids, the reconciliation cursor); an expired entry reads as absent. */
export function kvStore(sql: SqlStorage): PluginContext<unknown>["store"] {
  return {
    get: async (key) => {
      const row = sql
        .exec<{ value: string; expires_at: number | null }>("SELECT value, expires_at FROM kv WHERE key = ?", key)
        .toArray()[0];
      return row && (row.expires_at === null || row.expires_at > Date.now()) ? row.value : undefined;
    },
    put: async (key, value, ttlMs) => {
      sql.exec(
        "INSERT INTO kv (key, value, expires_at) VALUES (?1, ?2, ?3) ON CONFLICT (key) DO UPDATE SET value = ?2, expires_at = ?3",
        key,
        value,
        ttlMs === undefined ? null : Date.now() + ttlMs,
      );
    },
  };
}

/**
 * What a plugin or poller gets: the destination's config, `fetch` through the vendor's gate (every HTTP request
 * counts, not each plugin call: one membership change may be a list lookup, an upsert and a list update), the clock,
 * and the object's key-value store, so a cached token survives between drains and polls.
 */
export function pluginContext(
  sql: SqlStorage,
  destination: DestinationRow,
  gate: VendorGate,
): PluginContext<Record<string, unknown>> {
  return {
    config: JSON.parse(destination.config) as Record<string, unknown>,
    destination: { id: destination.id, workspaceId: destination.workspaceId },
    fetch: gate.fetch,
    now: () => Date.now(),
    store: kvStore(sql),
  };
}
