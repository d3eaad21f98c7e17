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
}

/** A profile as evaluation sees it. */
export interface ProfileFacts {
  traits: Record<string, unknown>;
  /**
   * Matching events of the profile, newest first (ties: the later stored first), including any dated after the
   * evaluation's `now`. Read lazily: evaluation stops early when it has seen enough, so a cursor is the ideal backing.
   */
  events(query: EventQuery): Iterable<StoredEvent>;
}
