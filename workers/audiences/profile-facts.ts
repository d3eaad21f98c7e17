/**
 * What evaluation needs to know about one profile, as a seam: the ProfileDO backs it with its SQLite event log
 * (indexed by event name and time), tests with an in-memory fake. Evaluation itself does no I/O.
 */

/** One stored event of the profile. */
export interface StoredEvent {
  type: string;
  /** The track event's name; absent for other message types. */
  event?: string;
  /** Epoch ms of the event's own (skew-corrected) timestamp, never when Tessera received it. */
  timestamp: number;
  /** The whole accepted message: `$` paths read it, other property paths read its `properties`. */
  message: Record<string, unknown>;
}

/** The query of one event node or computed trait. */
export interface EventQuery {
  /** A track event name, or `"*"` for every track event. */
  event: string;
  /** When given, only events with `timestamp >= since` (epoch ms). */
  since?: number;
  /** Oldest first (ties: the first stored first) instead of newest first. */
  oldestFirst?: boolean;
}

/** Whether `e` is one of the events `query` asks for. */
export const matchesQuery = (query: EventQuery, e: StoredEvent): boolean =>
  e.timestamp >= (query.since ?? Number.MIN_SAFE_INTEGER) &&
  (query.event === "*" ? e.event !== undefined : e.event === query.event);

/** Where the profile's event log stood at an evaluation: its last stored event and how many it held. */
export interface LogPosition {
  /** The last stored event's sequence number and messageId (0 and null for an empty log). */
  seq: number;
  messageId: string | null;
  count: number;
}

/** The event log as carried-forward computed traits read it (`carryTrait` in `compute-trait.ts`). */
export interface EventLog {
  position(): LogPosition;
  /**
   * The events stored after `from`, or null when the log changed otherwise since (an event removed: a merge undone,
   * an erase), so that what was computed then no longer holds.
   */
  appendedSince(from: LogPosition): StoredEvent[] | null;
  /**
   * Events stored up to `upTo` (none after it) of `event` (`"*"`: every track event) with `from <= timestamp < to`,
   * oldest first (ties: the first stored first). Read lazily: a reader that stops early reads little.
   */
  storedBetween(upTo: LogPosition, query: { event: string; from: number; to: number }): Iterable<StoredEvent>;
}

/** A profile as evaluation sees it. */
export interface ProfileFacts {
  traits: Record<string, unknown>;
  /** Present where computed traits may be carried forward (the ProfileDO); without it they are recomputed. */
  log?: EventLog;
  /**
   * Matching events of the profile, newest first (ties: the later stored first) unless `oldestFirst`, including any
   * dated after the evaluation's `now`. Read lazily: evaluation stops early when it has seen enough, so a cursor is the ideal backing.
   */
  events(query: EventQuery): Iterable<StoredEvent>;
}
