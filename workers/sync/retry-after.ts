/**
 * A vendor's `Retry-After` (seconds, or an HTTP date) in milliseconds from now; undefined when the header is absent or
 * unreadable, so the caller falls back to its own backoff. (`Number(null)` is 0: reading an absent header as "retry
 * at once" once spent a webhook's fourteen attempts in under a second of an outage.)
 *
 * @example retryAfterMs("2") // 2000
 * @example retryAfterMs(null) // undefined
 */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
