/**
 * Profile traits, one row per top-level key. The newest event wins per key: an identify replayed late
 * (offline SDK queue, retry) never overwrites what a newer event said. Ties go to the later arrival.
 */
import {
  type AcceptedMessage,
  isPlainObject,
  type JsonObject,
  type JsonValue,
  MAX_PROFILE_TRAIT_BYTES,
} from "@tessera/protocol";
import { utf8Bytes } from "../shared/utf8";

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

const traitBytes = (key: string, json: string): number => utf8Bytes(key) + utf8Bytes(json);

/**
 * Writes a profile's traits within {@link MAX_PROFILE_TRAIT_BYTES}, and tells whether any value changed. Reads only
 * the keys it is given (and the total once), so an identify costs what it carries, not what the profile holds.
 * Synchronous: use it inside the write's transaction, one writer per transaction.
 */
export class TraitWriter {
  /** What the touched keys held before this writer's first write to each (null: absent), and hold now. */
  private readonly before = new Map<string, string | null>();
  private readonly current = new Map<string, string | null>();
  /** The traits' bytes, once a growing value needed them (null: not read yet). */
  private total: number | null = null;
  /** Values not kept because the profile's traits would have passed their budget. */
  private refused = 0;

  constructor(private readonly sql: SqlStorage) {}

  /**
   * Writes one trait if it is newer than what is stored. Returns whether the stored value changed. The guard lives in
   * the upsert's WHERE, so the check costs no separate read. On a full tie (same event and arrival time, e.g. two
   * messages of one batch) the later write wins, unless it is the same value, so re-importing an export is a no-op.
   */
  write(t: TraitWrite): boolean {
    const json = JSON.stringify(t.value ?? null);
    const held = this.held(t.key);
    const growth = traitBytes(t.key, json) - (held === null ? 0 : traitBytes(t.key, held));
    if (growth > 0) {
      // Read only when a value grows: an identify repeating what the profile holds sums nothing. Read later, the
      // total includes what this writer wrote before.
      this.total ??= this.sql
        .exec<{ n: number }>(
          "SELECT coalesce(sum(length(CAST(key AS BLOB)) + length(CAST(value AS BLOB))), 0) AS n FROM traits",
        )
        .one().n;
      // Counted before the newer-wins guard: a value too large for the room left is not kept, newer or not.
      if (this.total + growth > MAX_PROFILE_TRAIT_BYTES) {
        this.refused++;
        return false;
      }
    }
    const written =
      this.sql
        .exec(
          `INSERT INTO traits (key, value, updated_at, received_at) VALUES (?1, ?2, ?3, ?4)
           ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
             received_at = excluded.received_at
           WHERE excluded.updated_at > traits.updated_at
              OR (excluded.updated_at = traits.updated_at AND excluded.received_at > traits.received_at)
              OR (excluded.updated_at = traits.updated_at AND excluded.received_at = traits.received_at
                  AND excluded.value IS NOT traits.value)
           RETURNING 1`,
          t.key,
          json,
          t.updatedAt,
          t.receivedAt ?? t.updatedAt,
        )
        .toArray().length === 1;
    if (written) {
      if (this.total !== null) this.total += growth;
      this.current.set(t.key, json);
    }
    return written;
  }

  /** Applies every trait a freshly stored message carries. */
  applyMessage(message: AcceptedMessage, ts: number): void {
    const receivedAt = Date.parse(message.receivedAt);
    for (const source of traitSources(message)) {
      for (const [key, value] of Object.entries(source))
        this.write({ key, value, updatedAt: ts, receivedAt: Number.isFinite(receivedAt) ? receivedAt : ts });
    }
  }

  /** Says in the log that `profileId`'s traits were full for some values: those are in the events, not the traits. */
  warnIfRefused(profileId: string): void {
    if (this.refused === 0) return;
    console.warn(
      `profile ${profileId}: ${this.refused} trait value(s) not kept: its traits would take more than ${MAX_PROFILE_TRAIT_BYTES} bytes`,
    );
  }

  /** Whether a value differs from what its key held before this writer (a newer write of the same value does not). */
  changed(): boolean {
    for (const [key, json] of this.current) if (this.before.get(key) !== json) return true;
    return false;
  }

  private held(key: string): string | null {
    if (!this.current.has(key)) {
      const row = this.sql.exec<{ value: string }>("SELECT value FROM traits WHERE key = ?", key).toArray()[0];
      this.before.set(key, row?.value ?? null);
      this.current.set(key, row?.value ?? null);
    }
    return this.current.get(key) ?? null;
  }
}

/**
 * All traits with their timestamps, for export on merge: the newest first, at most {@link MAX_PROFILE_TRAIT_BYTES}
 * of them (the survivor keeps no more), so a profile that gathered more before that budget existed still fits its RPC.
 */
export function readTraitWrites(sql: SqlStorage): Required<TraitWrite>[] {
  const writes: Required<TraitWrite>[] = [];
  let room = MAX_PROFILE_TRAIT_BYTES;
  const rows = sql.exec<{ key: string; value: string; updated_at: number; received_at: number }>(
    "SELECT key, value, updated_at, received_at FROM traits ORDER BY updated_at DESC, received_at DESC, key",
  );
  for (const r of rows) {
    const size = traitBytes(r.key, r.value);
    if (size > room) continue;
    room -= size;
    writes.push({ key: r.key, value: JSON.parse(r.value), updatedAt: r.updated_at, receivedAt: r.received_at });
  }
  return writes;
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
  const writer = new TraitWriter(sql);
  const rows = sql.exec<{ ts: number; body: string }>(
    "SELECT ts, body FROM events WHERE type = 'identify' OR body LIKE '%\"traits\"%' ORDER BY ts, seq",
  );
  for (const row of rows) writer.applyMessage(JSON.parse(row.body) as AcceptedMessage, row.ts);
}
