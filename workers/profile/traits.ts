/**
 * Profile traits, one row per top-level key. The newest event wins per key: an identify replayed late
 * (offline SDK queue, retry) never overwrites what a newer event said. Ties go to the later arrival.
 */
import { type AcceptedMessage, isPlainObject, type JsonObject, type JsonValue } from "@tessera/protocol";

/** One trait value with the event time (and arrival time) that set it, as exported on merge. */
export interface TraitWrite {
  key: string;
  value: unknown;
  updatedAt: number;
  receivedAt?: number;
}

/** Trait objects a message carries: identify `traits` and any message's `context.traits`. */
export function traitSources(message: AcceptedMessage): JsonObject[] {
  const sources: JsonObject[] = [];
  const ctxTraits = message.context?.traits;
  if (isPlainObject(ctxTraits)) sources.push(ctxTraits);
  // identify traits come last so, within one message, they win over context.traits for the same key.
  if (message.type === "identify" && isPlainObject(message.traits)) sources.push(message.traits);
  return sources;
}

/**
 * Writes one trait if it is newer than what is stored. Returns whether the stored value changed.
 * The guard lives in the upsert's WHERE, so the check costs no separate read. On a full tie (same
 * event and arrival time, e.g. two messages of one batch) the later write wins, unless it is the same
 * value, so re-importing an export is a no-op.
 */
export function writeTrait(sql: SqlStorage, t: TraitWrite): boolean {
  const cursor = sql.exec(
    `INSERT INTO traits (key, value, updated_at, received_at) VALUES (?1, ?2, ?3, ?4)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
       received_at = excluded.received_at
     WHERE excluded.updated_at > traits.updated_at
        OR (excluded.updated_at = traits.updated_at AND excluded.received_at > traits.received_at)
        OR (excluded.updated_at = traits.updated_at AND excluded.received_at = traits.received_at
            AND excluded.value IS NOT traits.value)
     RETURNING 1`,
    t.key,
    JSON.stringify(t.value ?? null),
    t.updatedAt,
    t.receivedAt ?? t.updatedAt,
  );
  return cursor.toArray().length === 1;
}

/** Applies every trait a freshly stored message carries; returns how many values changed. */
export function applyMessageTraits(sql: SqlStorage, message: AcceptedMessage, ts: number): number {
  const receivedAt = Date.parse(message.receivedAt);
  let changed = 0;
  for (const source of traitSources(message)) {
    for (const [key, value] of Object.entries(source)) {
      if (writeTrait(sql, { key, value, updatedAt: ts, receivedAt: Number.isFinite(receivedAt) ? receivedAt : ts }))
        changed++;
    }
  }
  return changed;
}

/** All traits with their timestamps, for export on merge. */
export function readTraitWrites(sql: SqlStorage): Required<TraitWrite>[] {
  return sql
    .exec<{ key: string; value: string; updated_at: number; received_at: number }>(
      "SELECT key, value, updated_at, received_at FROM traits ORDER BY key",
    )
    .toArray()
    .map((r) => ({ key: r.key, value: JSON.parse(r.value), updatedAt: r.updated_at, receivedAt: r.received_at }));
}

/** The traits as the profile view shows them. `fromEntries` keeps keys like `__proto__` as plain data. */
export function readTraits(sql: SqlStorage): JsonObject {
  const rows = sql.exec<{ key: string; value: string }>("SELECT key, value FROM traits ORDER BY key").toArray();
  return Object.fromEntries(rows.map((r) => [r.key, JSON.parse(r.value) as JsonValue]));
}

/**
 * Recomputes every trait from the event log (merge undo: each side keeps only what its own events said). Every
 * trait comes from an event, so replaying the log by event time gives what the writes gave as they arrived.
 */
export function rebuildTraits(sql: SqlStorage): void {
  sql.exec("DELETE FROM traits");
  const rows = sql.exec<{ ts: number; body: string }>(
    "SELECT ts, body FROM events WHERE type = 'identify' OR body LIKE '%\"traits\"%' ORDER BY ts, seq",
  );
  for (const row of rows) applyMessageTraits(sql, JSON.parse(row.body) as AcceptedMessage, row.ts);
}
