/** The timestamp forms Segment libraries send. */

// ISO-8601 date, or date-time with optional seconds, fraction and zone (what every Segment library sends).
const ISO_8601 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|([+-])(\d{2})(?::?(\d{2}))?)?)?$/i;

/**
 * Epoch ms of an ISO-8601 string, or null when it is not one or names no real instant. Read from its fields, not by
 * `Date.parse`, which refuses forms ISO 8601 allows (`+01`, `+0100`, a comma before the fraction) and reads a time
 * without a zone as the machine's local time; here it is UTC, as on the Workers runtime.
 *
 * @example parseIsoTimestamp("2025-06-01T14:00:00+02:00") // 1748779200000
 * @example parseIsoTimestamp("2025-06-01T14:00:00+02") // 1748779200000
 */
export function parseIsoTimestamp(value: string): number | null {
  const m = ISO_8601.exec(value);
  if (!m || !isCalendarDate(m)) return null;
  const [, year, month, day, hour, minute, second, fraction, zone, sign, zoneHours, zoneMinutes] = m;
  const ms = Number((fraction ?? "").padEnd(3, "0").slice(0, 3));
  const utc = utcOf(+year, +month - 1, +day, +(hour ?? 0), +(minute ?? 0), +(second ?? 0), ms);
  if (zone === undefined || sign === undefined) return utc;
  const offset = (Number(zoneHours) * 60 + Number(zoneMinutes ?? 0)) * 60_000;
  if (Number(zoneHours) > 23 || Number(zoneMinutes ?? 0) > 59) return null;
  return sign === "+" ? utc - offset : utc + offset;
}

/**
 * Whether the fields name a real date and time. `Date.parse` rolls impossible ones over (`2024-02-30` becomes
 * March 1st, `24:00` the next day), which would file an event under a day the sender never said.
 */
function isCalendarDate(m: RegExpExecArray): boolean {
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12 || day < 1) return false;
  // Day 0 of the next month is the last day of this one.
  if (day > new Date(utcOf(year, month, 0)).getUTCDate()) return false;
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59)) return false;
  return m[6] === undefined || Number(m[6]) <= 59;
}

/** `Date.UTC` for every four-digit year: `Date.UTC` itself reads years 0–99 as 1900–1999 (Go's zero time is year 1). */
function utcOf(year: number, monthIndex: number, day: number, hour = 0, minute = 0, second = 0, ms = 0): number {
  if (year >= 100) return Date.UTC(year, monthIndex, day, hour, minute, second, ms);
  const date = new Date(0);
  date.setUTCFullYear(year, monthIndex, day);
  date.setUTCHours(hour, minute, second, ms);
  return date.getTime();
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
  if (sentAt !== undefined) return receivedAt - (checkedTime(sentAt) - checkedTime(original));
  return checkedTime(message.timestamp ?? original);
}

/** Epoch ms of a timestamp validation already accepted. */
function checkedTime(value: string): number {
  return parseIsoTimestamp(value) ?? Number.NaN;
}
