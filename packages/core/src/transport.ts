/** What a transport learned from one POST. `status` 0 means the request never got an answer (offline, blocked). */
export interface TransportResult {
  status: number;
  /** `Retry-After` in seconds, when the server sent one. */
  retryAfter?: number;
}

/**
 * The network seam: POST a body, report the status. The browser uses `fetch`; tests record calls.
 * Must not reject: failures are `{status: 0}`.
 */
export interface Transport {
  send(url: string, body: string): Promise<TransportResult>;
}

/** Parses a `Retry-After` header (seconds or an HTTP date) into seconds. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const seconds = Number(value);
  if (!Number.isNaN(seconds)) return Math.max(0, seconds);
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, (at - now) / 1000);
}
