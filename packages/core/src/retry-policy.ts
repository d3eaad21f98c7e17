/** Full-jitter exponential backoff settings (reference/sdk.md §4.3). */
export interface RetryOptions {
  /** First backoff ceiling, ms. Default 1000. */
  baseDelay: number;
  /** Largest backoff ceiling, ms. Default 60000. */
  maxDelay: number;
  /** Attempts in a row before waiting for the next trigger; also each event's own attempts before it may be dropped. Default 10. */
  maxAttempts: number;
  /** Largest `Retry-After` honoured, seconds. Default 300. */
  maxRetryAfter: number;
}

/** How long an event keeps being retried after its first failure, ms (reference/sdk.md §4.3: 12 h in total). */
export const RETRY_BUDGET = 12 * 3600_000;

export const DEFAULT_RETRY: RetryOptions = { baseDelay: 1000, maxDelay: 60_000, maxAttempts: 10, maxRetryAfter: 300 };

/** What to do with a batch after an answer: keep going, back off, drop it, or send it in halves (413). */
export type Outcome = "ok" | "retry" | "drop" | "split";

/**
 * Classifies a status: network failures (0), 408, 429 and 5xx (but 501/505, which never change) retry;
 * 413 splits; other 4xx are the client's fault and retrying would only repeat it.
 */
export function classify(status: number): Outcome {
  if (status >= 200 && status < 300) return "ok";
  if (status === 413) return "split";
  if (status === 0 || status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505)) {
    return "retry";
  }
  return "drop";
}

/**
 * Delay before retry number `attempt` (0-based): the server's `Retry-After` when given (capped), otherwise
 * full jitter, uniform in [0, min(maxDelay, baseDelay·2^attempt)], so many clients failing together spread out.
 *
 * @example backoffDelay(3, undefined, DEFAULT_RETRY, Math.random) // somewhere in [0, 8000)
 */
export function backoffDelay(
  attempt: number,
  retryAfter: number | undefined,
  options: RetryOptions,
  random: () => number,
): number {
  if (retryAfter !== undefined) return Math.min(retryAfter, options.maxRetryAfter) * 1000;
  return random() * Math.min(options.maxDelay, options.baseDelay * 2 ** attempt);
}
