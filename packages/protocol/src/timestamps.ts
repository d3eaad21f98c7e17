/** The timestamp forms Segment libraries send. */

// ISO-8601 date, or date-time with optional seconds, fraction and zone (what every Segment library sends).
const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/**
 * Epoch ms of an ISO-8601 string, or null when it is not one or names no real instant.
 * @example parseIsoTimestamp("2025-06-01T14:00:00+02:00") // 1748779200000
 */
export function parseIsoTimestamp(value: string): number | null {
  const m = ISO_8601.exec(value);
  if (!m || !isCalendarDate(m)) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

/**
 * Whether the fields name a real date and time. `Date.parse` rolls impossible ones over (`2024-02-30` becomes
 * March 1st, `24:00` the next day), which would file an event under a day the sender never said.
 */
function isCalendarDate(m: RegExpExecArray): boolean {
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12 || day < 1) return false;
  // Day 0 of the next month is the last day of this one.
  if (day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return false;
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59)) return false;
  return m[6] === undefined || Number(m[6]) <= 59;
}

/** A message's time fields, ISO-8601 strings already checked. */
export interface MessageTimes {
  timestamp?: string;
  originalTimestamp?: string;
  sentAt?: string;
}

/**
 * When a message happened, as it is stored (epoch ms). With `sentAt` (the message's, else the batch's) the sender's
 * clock skew is corrected: `receivedAt − (sentAt − (originalTimestamp ?? timestamp))`, Segment's rule. Without it
 * there is no skew to measure: `timestamp` as sent (an archived message's corrected time, a server library's own),
 * else `originalTimestamp` (a device's raw clock); with neither, `receivedAt`.
 *
 * @example storedEventTime({ timestamp: "2024-03-01T10:00:00Z" }, undefined, Date.now()) // 1709287200000
 */
export function storedEventTime(message: MessageTimes, batchSentAt: string | undefined, receivedAt: number): number {
  const original = message.originalTimestamp ?? message.timestamp;
  if (original === undefined) return receivedAt;
  const sentAt = message.sentAt ?? batchSentAt;
  if (sentAt !== undefined) return receivedAt - (Date.parse(sentAt) - Date.parse(original));
  return Date.parse(message.timestamp ?? original);
}
