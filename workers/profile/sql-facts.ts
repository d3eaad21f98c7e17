/**
 * The profile as audience evaluation reads it ({@link ProfileFacts}), backed by the object's SQLite: traits from
 * `traits`, events from the timeline through its `(event, ts)` and `(ts)` indexes, newest first. Event bodies are
 * parsed only when a condition reads them: a count with no `where` never parses JSON.
 */
import {
  type EventLog,
  type LogPosition,
  matchesQuery,
  type ProfileFacts,
  type StoredEvent,
} from "../audiences/profile-facts";
import { readTraits } from "./traits";

interface EventRow extends Record<string, SqlStorageValue> {
  ts: number;
  type: string;
  event: string | null;
  body: string;
}

/** A stored event whose message is parsed on first read. */
class LazyEvent implements StoredEvent {
  readonly type: string;
  readonly event?: string;
  readonly timestamp: number;
  private readonly body: string;
  private parsed: Record<string, unknown> | undefined;

  constructor(row: EventRow) {
    this.type = row.type;
    if (row.event !== null) this.event = row.event;
    this.timestamp = row.ts;
    this.body = row.body;
  }

  get message(): Record<string, unknown> {
    this.parsed ??= JSON.parse(this.body) as Record<string, unknown>;
    return this.parsed;
  }
}

/**
 * A timeline this short is read once per evaluation and filtered in memory; a longer one is queried per condition
 * through its indexes. A workspace's definitions ask for events dozens of times per evaluation (the audiences bench's
 * 35 hold 27 event conditions), and most profiles are young: for a new visitor, one query instead of one per
 * condition cut evaluation's CPU by 60%, and each event's JSON is parsed at most once (bench/README.md, "Where a
 * workspace's definitions cost a new visitor").
 */
const IN_MEMORY_EVENTS = 256;

const NEWEST_FIRST = "ORDER BY ts DESC, seq DESC";
const OLDEST_FIRST = "ORDER BY ts, seq";

/** Evaluation's view of this object: a short timeline read once, a long one through lazy cursors. */
export function sqlFacts(sql: SqlStorage): ProfileFacts {
  return { traits: readTraits(sql), events: shortTimeline(sql) ?? indexedEvents(sql), log: eventLog(sql) };
}

/**
 * The log's position is its last row and `profile_meta.event_count`, which every write keeps (and a merge undo
 * recounts). Events are appended with rising `seq`s, so "only appended since" is: the row at the old position is
 * the same event, and the count grew by exactly the rows after it. A removed event breaks the count; a removed last
 * event whose `seq` was reused breaks the messageId.
 */
function eventLog(sql: SqlStorage): EventLog {
  const count = () =>
    sql.exec<{ n: number }>("SELECT event_count AS n FROM profile_meta WHERE singleton = 1").toArray()[0]?.n ?? 0;
  return {
    position(): LogPosition {
      const last = sql
        .exec<{ seq: number; message_id: string }>("SELECT seq, message_id FROM events ORDER BY seq DESC LIMIT 1")
        .toArray()[0];
      return { seq: last?.seq ?? 0, messageId: last?.message_id ?? null, count: count() };
    },
    appendedSince(from) {
      if (from.seq > 0) {
        const at = sql.exec<{ id: string }>("SELECT message_id AS id FROM events WHERE seq = ?", from.seq).toArray();
        if (at[0]?.id !== from.messageId) return null;
      }
      const rows = sql
        .exec<EventRow>("SELECT ts, type, event, body FROM events WHERE seq > ? ORDER BY seq", from.seq)
        .toArray();
      return count() === from.count + rows.length ? rows.map((row) => new LazyEvent(row)) : null;
    },
    storedBetween: (upTo, { event, from, to }) =>
      readEvents(sql, { event, from, to, upTo: upTo.seq, oldestFirst: true }),
  };
}

/** The whole timeline filtered in memory, or null when it holds more than {@link IN_MEMORY_EVENTS}. */
function shortTimeline(sql: SqlStorage): ProfileFacts["events"] | null {
  // Counted on the table's rowids alone, so a long timeline's bodies are not read for nothing.
  const stored = sql
    .exec<{ n: number }>("SELECT count(*) AS n FROM (SELECT 1 FROM events LIMIT ?)", IN_MEMORY_EVENTS + 1)
    .one().n;
  if (stored > IN_MEMORY_EVENTS) return null;
  const timeline = sql
    .exec<EventRow>(`SELECT ts, type, event, body FROM events ${NEWEST_FIRST}`)
    .toArray()
    .map((row) => new LazyEvent(row));
  return function* (query) {
    if (!query.oldestFirst) {
      for (const e of timeline) if (matchesQuery(query, e)) yield e;
      return;
    }
    for (let i = timeline.length - 1; i >= 0; i--) if (matchesQuery(query, timeline[i])) yield timeline[i];
  };
}

/** One indexed query per condition, read lazily: evaluation that stops early reads little. */
function indexedEvents(sql: SqlStorage): ProfileFacts["events"] {
  return ({ event, since, oldestFirst }) =>
    readEvents(sql, { event, from: since ?? Number.MIN_SAFE_INTEGER, oldestFirst });
}

/**
 * The events named `event` (`"*"`: every track event) with `from <= ts < to`, stored up to `seq` `upTo`, through the
 * `(event, ts)` or `(ts)` index, read lazily.
 */
function* readEvents(
  sql: SqlStorage,
  query: { event: string; from: number; to?: number; upTo?: number; oldestFirst?: boolean },
): Generator<StoredEvent> {
  const where = [query.event === "*" ? "event IS NOT NULL" : "event = ?", "ts >= ?"];
  const bindings: SqlStorageValue[] = query.event === "*" ? [query.from] : [query.event, query.from];
  if (query.to !== undefined) {
    where.push("ts < ?");
    bindings.push(query.to);
  }
  if (query.upTo !== undefined) {
    where.push("seq <= ?");
    bindings.push(query.upTo);
  }
  const order = query.oldestFirst ? OLDEST_FIRST : NEWEST_FIRST;
  const cursor = sql.exec<EventRow>(
    `SELECT ts, type, event, body FROM events WHERE ${where.join(" AND ")} ${order}`,
    ...bindings,
  );
  for (const row of cursor) yield new LazyEvent(row);
}
