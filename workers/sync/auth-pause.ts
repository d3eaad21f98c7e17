/**
 * The pause a destination's object keeps after the vendor refused its credentials (401/403, see `drain.ts`): its
 * end is written to the object's `kv`, so that the API can show it (`status.paused_until`) and end it at once when
 * the credentials are fixed (a `PUT` of `config`, a successful test of the saved one) or the user asks to try now (a
 * reconciliation), rather than after the whole pause.
 */
import { kvStore } from "./plugin-context";

const AUTH_PAUSE_KEY = "auth:paused_until";

/** Notes that sending waits until `until` (epoch ms) because the vendor refused the credentials. */
export async function recordAuthPause(sql: SqlStorage, until: number): Promise<void> {
  await kvStore(sql).put(AUTH_PAUSE_KEY, String(until), Math.max(0, until - Date.now()));
}

/** When the current auth pause ends (epoch ms), or null when there is none. */
export async function authPausedUntil(sql: SqlStorage): Promise<number | null> {
  const value = await kvStore(sql).get(AUTH_PAUSE_KEY);
  return value === undefined ? null : Number(value);
}

/**
 * Ends the auth pause, if one is running: every operation it holds back (and any other waiting for a retry, which
 * the new credentials may well fix too) is due now. Answers whether there was one.
 */
export async function clearAuthPause(sql: SqlStorage): Promise<boolean> {
  if ((await authPausedUntil(sql)) === null) return false;
  sql.exec("UPDATE pending SET not_before = 0 WHERE not_before > ?", Date.now());
  sql.exec("DELETE FROM kv WHERE key = ?", AUTH_PAUSE_KEY);
  return true;
}
