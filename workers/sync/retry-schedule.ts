/**
 * When a destination's object tries again an operation the vendor did not take (`retry`: a 5xx, a timeout, the vendor
 * unreachable), and when it gives up on it (DESIGN §7). The vendor's own `Retry-After` wins over this schedule, and
 * throttling spends no attempt at all (see `Throttled`), so only real failures count here.
 *
 * The first minute is probed every few seconds, so the end of a short outage (a vendor's deploy or blip, 30 s) is
 * noticed within 10 s; after that the probes thin out, and what still fails after about 20 minutes becomes a dead
 * letter, kept in D1 for a replay. One schedule for every environment: the same outage heals the same way in tests.
 *
 * @example
 * if (attempts < MAX_ATTEMPTS) notBefore = Date.now() + retryDelayMs(attempts); // attempts: 1 after the first failure
 */

/** Seconds before the retry that follows each failed attempt (the first failure waits 2 s). */
const RETRY_DELAYS_S = [2, 4, 8, 10, 10, 10, 10, 10, 30, 60, 120, 300, 600] as const;

/** Attempts before an operation that keeps being retried becomes a dead letter. */
export const MAX_ATTEMPTS = RETRY_DELAYS_S.length + 1;

/** Milliseconds to wait after `attempts` failed attempts (1 or more) before the next one. */
export function retryDelayMs(attempts: number): number {
  const step = Math.min(Math.max(attempts, 1), RETRY_DELAYS_S.length) - 1;
  return RETRY_DELAYS_S[step] * 1000;
}
