/** The timestamp forms Segment libraries send. */

// ISO-8601 date, or date-time with optional seconds, fraction and zone (what every Segment library sends).
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/**
 * Epoch ms of an ISO-8601 string, or null when it is not one or names no real instant.
 * @example parseIsoTimestamp("2025-06-01T14:00:00+02:00") // 1748779200000
 */
export function parseIsoTimestamp(value: string): number | null {
  if (!ISO_8601.test(value)) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}
