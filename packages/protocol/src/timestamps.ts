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
