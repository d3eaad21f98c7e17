import { KEYS, type KeyValue } from "./key-value";

/** Session settings: a new session after `timeout` ms idle, or once a session is `maxLength` ms old. */
export interface SessionOptions {
  timeout: number;
  maxLength: number;
}

export const DEFAULT_SESSION: SessionOptions = { timeout: 30 * 60_000, maxLength: 24 * 3600_000 };

/**
 * The session of the next event: `sessionId` is its start time in epoch ms (RudderStack's and Amplitude's
 * convention), `start` is true on its first event. Stored as `id.lastActivity` so tabs share one session.
 */
export function touchSession(kv: KeyValue, now: number, o: SessionOptions): { id: number; start: boolean } {
  const [id, last] = (kv.get(KEYS.session) || "").split(".").map(Number);
  const start = !id || !last || now - last > o.timeout || now - id > o.maxLength;
  const sessionId = start ? now : id;
  // Activity is recorded to the second at most: a storage write per event is the SDK's largest cost.
  if (start || now - last > 1000) kv.set(KEYS.session, `${sessionId}.${now}`);
  return { id: sessionId, start };
}
