/** Full-jitter exponential backoff settings (reference/sdk.md §4.3). */
export interface RetryOptions {
  /** First backoff ceiling, ms. Default 1000. */
  baseDelay: number;
  /** Largest backoff ceiling, ms. Default 60000. */
  maxDelay: number;
  /** Attempts per batch before giving up on it. Default 10. */
  maxAttempts: number;
  /** Largest `Retry-After` honoured, seconds. Default 300. */
  maxRetryAfter: number;
}
export declare const DEFAULT_RETRY: RetryOptions;
/** What to do with a batch after an answer: keep going, back off, drop it, or send it in halves (413). */
export type Outcome = "ok" | "retry" | "drop" | "split";
/**
 * Classifies a status: network failures (0), 408, 429 and 5xx (but 501/505, which never change) retry;
 * 413 splits; other 4xx are the client's fault and retrying would only repeat it.
 */
export declare function classify(status: number): Outcome;
/**
 * Delay before retry number `attempt` (0-based): the server's `Retry-After` when given (capped), otherwise
 * full jitter, uniform in [0, min(maxDelay, baseDelay·2^attempt)], so many clients failing together spread out.
 *
 * @example backoffDelay(3, undefined, DEFAULT_RETRY, Math.random) // somewhere in [0, 8000)
 */
export declare function backoffDelay(
  attempt: number,
  retryAfter: number | undefined,
  options: RetryOptions,
  random: () => number,
): number;
