/**
 * An in-memory {@link ProfileFacts} for evaluation tests: the same contract the ProfileDO serves from SQLite
 * (by event name, `"*"` for every track event, `timestamp >= since`, newest first, ties: later stored first).
 */
import type { EventLog, EventQuery, ProfileFacts, StoredEvent } from "../audiences/profile-facts";

export const SECOND = 1000;
export const MINUTE = 60 * SECOND;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/** A track event named `event` at epoch ms `at`, with `properties` and any other message fields in `extra`. */
export function trackAt(
  event: string,
  at: number,
  properties: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): StoredEvent {
  const message = { type: "track", event, timestamp: new Date(at).toISOString(), properties, context: {}, ...extra };
  return { type: "track", event, timestamp: at, message };
}

/** A non-track message (page, identify, …) at `at`: `"*"` never matches it. */
export function messageAt(type: string, at: number, extra: Record<string, unknown> = {}): StoredEvent {
  return { type, timestamp: at, message: { type, timestamp: new Date(at).toISOString(), ...extra } };
}

/** The fake, with the events it has handed out so far (how much a query read). */
export interface MemoryFacts extends ProfileFacts {
  log: EventLog;
  /** Stores one more event, as a profile receiving it would. */
  add(event: StoredEvent): void;
  /** Removes the stored event at `index` (oldest stored first), as a merge undo takes events away. */
  remove(index: number): void;
  /** Events yielded to evaluation since the fake was made. */
  readonly reads: number;
  /** Every query asked, in order. */
  readonly queries: EventQuery[];
}

/**
 * A profile with `traits` and `events` (any order; later in the list = stored later).
 *
 * @example const facts = memoryFacts({ traits: { plan: "pro" }, events: [trackAt("Order Completed", now - DAY)] });
 */
export function memoryFacts(init: { traits?: Record<string, unknown>; events?: StoredEvent[] } = {}): MemoryFacts {
  const stored: { event: StoredEvent; seq: number }[] = [];
  const queries: EventQuery[] = [];
  let reads = 0;
  let lastSeq = 0;
  const add = (event: StoredEvent) => {
    stored.push({ event, seq: ++lastSeq });
  };
  for (const event of init.events ?? []) add(event);
  // The log's contract as the ProfileDO's SQL keeps it (`sql-facts.ts`): appended events, or null after a removal.
  const idOf = (seq: number) => `m-${seq}`;
  const log: EventLog = {
    position: () => {
      const last = stored.at(-1);
      return { seq: last?.seq ?? 0, messageId: last ? idOf(last.seq) : null, count: stored.length };
    },
    appendedSince: (from) => {
      if (from.seq > 0 && !stored.some((s) => s.seq === from.seq && idOf(s.seq) === from.messageId)) return null;
      const after = stored.filter((s) => s.seq > from.seq);
      return stored.length === from.count + after.length ? after.map((s) => s.event) : null;
    },
    storedBetween: (upTo, { event, from, to }) =>
      stored
        .filter((s) => s.seq <= upTo.seq && s.event.timestamp >= from && s.event.timestamp < to)
        .filter((s) => (event === "*" ? s.event.type === "track" : s.event.event === event))
        .sort((a, b) => a.event.timestamp - b.event.timestamp || a.seq - b.seq)
        .map((s) => s.event),
  };
  return {
    traits: init.traits ?? {},
    log,
    add,
    remove: (index) => {
      stored.splice(index, 1);
    },
    queries,
    get reads() {
      return reads;
    },
    *events(query: EventQuery) {
      queries.push(query);
      const matching = stored
        .filter(({ event }) => (query.event === "*" ? event.type === "track" : event.event === query.event))
        .filter(({ event }) => query.since === undefined || event.timestamp >= query.since)
        .sort((a, b) => b.event.timestamp - a.event.timestamp || b.seq - a.seq);
      if (query.oldestFirst) matching.reverse();
      for (const { event } of matching) {
        reads++;
        yield event;
      }
    },
  };
}
