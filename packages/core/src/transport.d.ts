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
export declare function parseRetryAfter(value: string | null | undefined, now?: number): number | undefined;
