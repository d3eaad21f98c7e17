/** The profile's timeline: events unique by messageId, read newest first with an opaque keyset cursor. */
import { type AcceptedMessage, MAX_EVENT_PAGE_CHARS, type ProfileEventsPage } from "@tessera/protocol";
import { decodeBase64Url, encodeBase64Url } from "hono/utils/encode";
import { hasPart } from "./schema";

/** Epoch ms of an event: its skew-corrected timestamp, falling back to when the server received it. */
export function eventTime(message: AcceptedMessage): number {
  const ts = Date.parse(message.timestamp);
  if (Number.isFinite(ts)) return ts;
  const received = Date.parse(message.receivedAt);
  // The collector always sets both; a message without either is a bug upstream, not bad input.
  if (Number.isFinite(received)) return received;
  throw new TypeError(`message ${message.messageId} has no parseable timestamp`);
}

/**
 * Stores one event unless its messageId is already present. Returns whether it was new.
 * `RETURNING` yields a row only for an actual insert, so no read is needed to detect duplicates.
 * `origin` is the profile the event arrived on when that is another one (a merge folded it in); null: this one.
 */
export function insertEvent(
  sql: SqlStorage,
  message: AcceptedMessage,
  ts: number,
  origin: string | null = null,
): boolean {
  const event = message.type === "track" ? message.event : null;
  const cursor = sql.exec(
    `INSERT INTO events (message_id, ts, type, event, body, origin) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (message_id) DO NOTHING RETURNING seq`,
    message.messageId,
    ts,
    message.type,
    event,
    JSON.stringify(message),
    origin,
  );
  return cursor.toArray().length === 1;
}

/** Filters and position of one page; `limit` is clamped again here because callers vary. */
export interface EventPageQuery {
  limit: number;
  cursor?: string;
  event?: string;
  type?: string;
}

export const MAX_PAGE = 1000;

/** Reads one page newest first (ts, then seq, descending). `null` when the cursor is not one of ours. */
export function readEventPage(sql: SqlStorage, q: EventPageQuery): ProfileEventsPage | null {
  const limit = Number.isFinite(q.limit) ? Math.min(MAX_PAGE, Math.max(1, Math.floor(q.limit))) : 100;
  const where: string[] = [];
  const args: SqlStorageValue[] = [];
  if (q.cursor !== undefined) {
    const pos = decodeCursor(q.cursor);
    if (!pos) return null;
    where.push("(ts < ? OR (ts = ? AND seq < ?))");
    args.push(pos.ts, pos.ts, seqHere(sql, pos));
  }
  if (q.event !== undefined) {
    where.push("event = ?");
    args.push(q.event);
  }
  if (q.type !== undefined) {
    where.push("type = ?");
    args.push(q.type);
  }
  const rows = sql
    .exec<{ seq: number; ts: number; message_id: string; body: string }>(
      `SELECT seq, ts, message_id, body FROM events ${where.length ? `WHERE ${where.join(" AND ")}` : ""}
       ORDER BY ts DESC, seq DESC LIMIT ?`,
      ...args,
      limit + 1,
    )
    .toArray();
  // `limit` events, or fewer when they are large: always the first, then as many as the page's size takes.
  let kept = 0;
  for (let size = 0; kept < Math.min(limit, rows.length); kept++) {
    size += rows[kept].body.length;
    if (kept > 0 && size > MAX_EVENT_PAGE_CHARS) break;
  }
  const hasMore = rows.length > kept;
  const page = rows.slice(0, kept);
  const last = page[page.length - 1];
  return {
    data: page.map((r) => JSON.parse(r.body) as AcceptedMessage),
    cursor: { has_more: hasMore, next: hasMore && last ? encodeCursor(last) : null },
  };
}

/**
 * Events in storage order from `afterSeq`, stopping near `maxBytes` of JSON so an RPC stays small, each with the
 * profile it arrived on (null: this one). With `origins`, only the events that arrived on one of those profiles, and
 * those this profile had already when a fold brought them from one of those too (`folded_duplicates`), shipped as
 * that one's. `more`: events are left after `lastSeq`.
 */
export function readEventChunk(
  sql: SqlStorage,
  afterSeq: number,
  maxBytes: number,
  origins?: readonly string[],
): { events: AcceptedMessage[]; origins: Array<string | null>; lastSeq: number; more: boolean } {
  const events: AcceptedMessage[] = [];
  const arrivedOn: Array<string | null> = [];
  let lastSeq = afterSeq;
  let bytes = 0;
  let more = false;
  const rows =
    origins === undefined
      ? sql.exec<EventRow>("SELECT seq, body, origin FROM events WHERE seq > ? ORDER BY seq", afterSeq)
      : eventsArrivedOn(sql, origins, afterSeq);
  for (const row of rows) {
    // Checked on the row after the cap, not the one that reached it: a chunk knows whether another follows.
    if (bytes >= maxBytes) {
      more = true;
      break;
    }
    events.push(JSON.parse(row.body) as AcceptedMessage);
    arrivedOn.push(row.origin);
    lastSeq = row.seq;
    bytes += row.body.length;
  }
  return { events, origins: arrivedOn, lastSeq, more };
}

type EventRow = { seq: number; body: string; origin: string | null };

/** See {@link readEventChunk}: the events that arrived on `origins`, or that a fold from one of them found here. */
function eventsArrivedOn(sql: SqlStorage, origins: readonly string[], afterSeq: number): SqlStorageCursor<EventRow> {
  const list = "(SELECT value FROM json_each(?1))";
  const arrived = `SELECT seq, body, origin FROM events WHERE origin IN ${list} AND seq > ?2`;
  // Only a profile that took in another's state has the table.
  const held = hasPart(sql, "merges")
    ? `UNION ALL
       SELECT e.seq, e.body, d.origin FROM folded_duplicates d JOIN events e ON e.message_id = d.message_id
       WHERE d.origin IN ${list} AND e.seq > ?2 AND (e.origin IS NULL OR e.origin NOT IN ${list})`
    : "";
  return sql.exec<EventRow>(`${arrived} ${held} ORDER BY seq`, JSON.stringify(origins), afterSeq);
}

/**
 * Where the last row served sits, as (ts, seq, messageId). The seq alone would do on the profile that served it, but
 * the next page may be read elsewhere: a profile merged away between two pages redirects to its survivor, which holds
 * the same events under its own numbering. The messageId travels with the event through folds and undos.
 */
interface CursorPosition {
  ts: number;
  seq: number;
  /** Absent in cursors issued before positions carried it. */
  messageId?: string;
}

/**
 * The seq, in this profile's numbering, that the page goes on below. The event the cursor names keeps its place in
 * every timeline that holds it (a fold stores another profile's events in their own order), so it is looked up here
 * (one probe of the unique index). A timeline without it (an undo took it back to its own profile) is the one that
 * issued the cursor, or one that never held the event: the cursor's own seq then.
 */
function seqHere(sql: SqlStorage, pos: CursorPosition): number {
  if (pos.messageId === undefined) return pos.seq;
  const here = sql
    .exec<{ seq: number }>("SELECT seq FROM events WHERE message_id = ? AND ts = ?", pos.messageId, pos.ts)
    .toArray()[0];
  return here?.seq ?? pos.seq;
}

/** The cursor names the last row served; base64url of UTF-8 (unpadded, for query strings) so callers treat it as opaque. */
function encodeCursor(row: { ts: number; seq: number; message_id: string }): string {
  return encodeBase64Url(new TextEncoder().encode(`${row.ts}.${row.seq}.${row.message_id}`).buffer).replace(/=+$/, "");
}

/** Reads a cursor of {@link encodeCursor}, or of older code (`ts.seq`, no messageId); null when it is neither. */
function decodeCursor(cursor: string): CursorPosition | null {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(decodeBase64Url(cursor));
  } catch {
    return null;
  }
  const m = /^(-?\d{1,16})\.(\d{1,16})(?:\.([\s\S]+))?$/.exec(text);
  if (!m) return null;
  return { ts: Number(m[1]), seq: Number(m[2]), ...(m[3] === undefined ? {} : { messageId: m[3] }) };
}
