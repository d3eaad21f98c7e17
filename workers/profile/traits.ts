/**
 * Profile traits, one row per top-level key. The newest event wins per key: an identify replayed late
 * (offline SDK queue, retry) never overwrites what a newer event said. Ties go to the later received message; at a
 * full tie, to the later arrival on one profile and to the greater messageId in a merge's fold (see {@link supersedes}).
 */
import {
  type AcceptedMessage,
  isPlainObject,
  type JsonObject,
  type JsonValue,
  MAX_PROFILE_TRAIT_BYTES,
} from "@tessera/protocol";
import { utf8Bytes } from "../shared/utf8";

/** One trait value with the event time, arrival time and message that set it, as exported on merge. */
export interface TraitWrite {
  key: string;
  value: unknown;
  updatedAt: number;
  /** Server ms the setting message was received; absent (an export of older code): `updatedAt`. */
  receivedAt?: number;
  /** The message that set it; null or absent: not known (a value stored before trait rows kept it). */
  messageId?: string | null;
}

/** Where a trait value stands in the order that decides between two values of one key. */
export interface TraitStamp {
  updatedAt: number;
  receivedAt: number;
  messageId: string | null;
  /** The value's JSON: the last tie-break, so two values with equal stamps still resolve one way. */
  json: string;
}

/**
 * How a full tie (same event time, same receipt time) between two different values of one key is decided:
 * `arrival`, the value arriving now wins — on one profile that is the later message, e.g. the second of two
 * identify calls made in the same millisecond of one batch (every message of a request has one `receivedAt`);
 * `message-id`, the greater messageId wins, then the greater JSON — a merge's fold, where the two values come from
 * two profiles and nothing orders them, so the survivor holds the same value whichever of the two survived.
 */
export type FullTie = "arrival" | "message-id";

/**
 * Whether value `a` replaces held value `b` of the same key: the later event time, then the later received, then as
 * `tie` says. The same value never replaces itself, so a re-sent fold or a replayed message changes nothing.
 */
export function supersedes(a: TraitStamp, b: TraitStamp, tie: FullTie): boolean {
  if (a.updatedAt !== b.updatedAt) return a.updatedAt > b.updatedAt;
  if (a.receivedAt !== b.receivedAt) return a.receivedAt > b.receivedAt;
  if (a.json === b.json) return false;
  if (tie === "arrival") return true;
  // A value stored before trait rows kept their message has none: any message's value goes before it.
  const [am, bm] = [a.messageId ?? "", b.messageId ?? ""];
  return am !== bm ? am > bm : a.json > b.json;
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
  private readonly current = new Map<string, TraitStamp | null>();
  /** The traits' bytes, once a growing value needed them (null: not read yet). */
  private total: number | null = null;
  /** Values not kept because the profile's traits would have passed their budget. */
  private refused = 0;

  constructor(private readonly sql: SqlStorage) {}

  /**
   * Writes one trait if it {@link supersedes} what is stored (`tie`: how a full tie is decided). Returns whether the
   * row was written. The stored stamp comes with the read the byte budget needs anyway, so the check costs no
   * separate read.
   */
  write(t: TraitWrite, tie: FullTie = "arrival"): boolean {
    const incoming: TraitStamp = {
      updatedAt: t.updatedAt,
      receivedAt: t.receivedAt ?? t.updatedAt,
      messageId: t.messageId ?? null,
      json: JSON.stringify(t.value ?? null),
    };
    const held = this.held(t.key);
    if (held !== null && !supersedes(incoming, held, tie)) return false;
    const growth = traitBytes(t.key, incoming.json) - (held === null ? 0 : traitBytes(t.key, held.json));
    if (growth > 0) {
      // Read only when a value grows: an identify repeating what the profile holds sums nothing. Read later, the
      // total includes what this writer wrote before.
      this.total ??= this.sql
        .exec<{ n: number }>(
          "SELECT coalesce(sum(length(CAST(key AS BLOB)) + length(CAST(value AS BLOB))), 0) AS n FROM traits",
        )
        .one().n;
      // A newer value too large for the room left is not kept.
      if (this.total + growth > MAX_PROFILE_TRAIT_BYTES) {
        this.refused++;
        return false;
      }
    }
    this.sql.exec(
      `INSERT INTO traits (key, value, updated_at, received_at, message_id) VALUES (?1, ?2, ?3, ?4, ?5)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at,
         received_at = excluded.received_at, message_id = excluded.message_id`,
      t.key,
      incoming.json,
      incoming.updatedAt,
      incoming.receivedAt,
      incoming.messageId,
    );
    if (this.total !== null) this.total += growth;
    this.current.set(t.key, incoming);
    return true;
  }

  /** Applies every trait a freshly stored message carries. */
  applyMessage(message: AcceptedMessage, ts: number): void {
    const parsed = Date.parse(message.receivedAt);
    const receivedAt = Number.isFinite(parsed) ? parsed : ts;
    // One write per key: every value of one message has the same stamp, so which of its sources wins (identify
    // traits over context.traits, by traitSources' order) is settled here, not by the tie-break of values.
    const values = new Map<string, unknown>();
    for (const source of traitSources(message))
      for (const [key, value] of Object.entries(source)) values.set(key, value);
    for (const [key, value] of values)
      this.write({ key, value, updatedAt: ts, receivedAt, messageId: message.messageId });
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
    for (const [key, held] of this.current) if (this.before.get(key) !== (held?.json ?? null)) return true;
    return false;
  }

  private held(key: string): TraitStamp | null {
    if (!this.current.has(key)) {
      const row = this.sql
        .exec<{ value: string; updated_at: number; received_at: number; message_id: string | null }>(
          "SELECT value, updated_at, received_at, message_id FROM traits WHERE key = ?",
          key,
        )
        .toArray()[0];
      const stamp =
        row === undefined
          ? null
          : { updatedAt: row.updated_at, receivedAt: row.received_at, messageId: row.message_id, json: row.value };
      this.before.set(key, stamp?.json ?? null);
      this.current.set(key, stamp);
    }
    return this.current.get(key) ?? null;
  }
}

/**
 * All traits with their stamps, for export on merge: the newest first, at most {@link MAX_PROFILE_TRAIT_BYTES}
 * of them (the survivor keeps no more), so a profile that gathered more before that budget existed still fits its RPC.
 */
export function readTraitWrites(sql: SqlStorage): Required<TraitWrite>[] {
  const writes: Required<TraitWrite>[] = [];
  let room = MAX_PROFILE_TRAIT_BYTES;
  const rows = sql.exec<{
    key: string;
    value: string;
    updated_at: number;
    received_at: number;
    message_id: string | null;
  }>(
    "SELECT key, value, updated_at, received_at, message_id FROM traits ORDER BY updated_at DESC, received_at DESC, key",
  );
  for (const r of rows) {
    const size = traitBytes(r.key, r.value);
    if (size > room) continue;
    room -= size;
    writes.push({
      key: r.key,
      value: JSON.parse(r.value),
      updatedAt: r.updated_at,
      receivedAt: r.received_at,
      messageId: r.message_id,
    });
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
 * trait comes from an event, and the log is replayed in event time, then arrival order (`seq`), so a full tie goes
 * to the later arrival as it did when the writes came in.
 */
export function rebuildTraits(sql: SqlStorage): void {
  sql.exec("DELETE FROM traits");
  const writer = new TraitWriter(sql);
  const rows = sql.exec<{ ts: number; body: string }>(
    "SELECT ts, body FROM events WHERE type = 'identify' OR body LIKE '%\"traits\"%' ORDER BY ts, seq",
  );
  for (const row of rows) writer.applyMessage(JSON.parse(row.body) as AcceptedMessage, row.ts);
}
