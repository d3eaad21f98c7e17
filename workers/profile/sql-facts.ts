/**
 * The profile as audience evaluation reads it ({@link ProfileFacts}), backed by the object's SQLite: traits from
 * `traits`, events from the timeline through its `(event, ts)` and `(ts)` indexes, newest first. Event bodies are
 * parsed only when a condition reads them: a count with no `where` never parses JSON.
 */
import type { ProfileFacts, StoredEvent } from "../audiences/profile-facts";
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

/** Evaluation's view of this object. Reads are lazy cursors, so evaluation that stops early reads little. */
export function sqlFacts(sql: SqlStorage): ProfileFacts {
  return {
    traits: readTraits(sql),
    *events({ event, since }) {
      const from = since ?? Number.MIN_SAFE_INTEGER;
      // `"*"` is every track event: only track events have a name.
      const cursor =
        event === "*"
          ? sql.exec<EventRow>(
              "SELECT ts, type, event, body FROM events WHERE ts >= ? AND event IS NOT NULL ORDER BY ts DESC, seq DESC",
              from,
            )
          : sql.exec<EventRow>(
              "SELECT ts, type, event, body FROM events WHERE event = ? AND ts >= ? ORDER BY ts DESC, seq DESC",
              event,
              from,
            );
      for (const row of cursor) yield new LazyEvent(row);
    },
  };
}
