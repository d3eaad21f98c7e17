import { type KeyValue } from "./key-value";
/** Session settings: a new session after `timeout` ms idle, or once a session is `maxLength` ms old. */
export interface SessionOptions {
  timeout: number;
  maxLength: number;
}
export declare const DEFAULT_SESSION: SessionOptions;
/**
 * The session of the next event: `sessionId` is its start time in epoch ms (RudderStack's and Amplitude's
 * convention), `start` is true on its first event. Stored as `id.lastActivity` so tabs share one session.
 */
export declare function touchSession(
  kv: KeyValue,
  now: number,
  o: SessionOptions,
): {
  id: number;
  start: boolean;
};
