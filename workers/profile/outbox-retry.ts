/**
 * When a profile tries its outbox again after failed deliveries: exponential backoff with jitter. Every profile that
 * changed during a queue or D1 outage fails at about the same moment; a fixed delay would bring all of them back at
 * the same moment too, again and again, and keep a recovering queue down (locally: thousands of profiles resending
 * every few seconds kept miniflare's queue broker from ever draining, see bench/README.md, Activation).
 */

/** The first retry waits 2.5–5 s. */
const FIRST_RETRY_MS = 5_000;
/** Waits stop growing at 1–2 min: a change still reaches its destinations within about two minutes of a recovery. */
const MAX_RETRY_MS = 120_000;

/**
 * How long to wait after the `failures`-th consecutive failed delivery (1 for the first): the step doubles from
 * 5 s up to 2 min, and the wait is a random point in the upper half of the step ("equal jitter"), so the wait grows
 * for everyone while the profiles that failed together spread over half a step.
 *
 * @example outboxRetryDelay(1); // 2,500–5,000 ms
 * @example outboxRetryDelay(3, () => 0); // 10,000 ms
 */
export function outboxRetryDelay(failures: number, random: () => number = Math.random): number {
  const step = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.max(0, failures - 1));
  return Math.round(step / 2 + (random() * step) / 2);
}
