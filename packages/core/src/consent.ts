/**
 * Where consent stands. `pending`: events wait in memory, nothing is stored or sent (what an earlier grant stored
 * stays, unsent). `granted`: persist and send. `denied`: events are dropped, and what was stored is deleted.
 */
export type ConsentState = "pending" | "granted" | "denied";

/** A consent decision as the host page reports it, with optional category choices stamped on every event. */
export interface ConsentDecision {
  state: ConsentState;
  categoryPreferences?: Record<string, boolean>;
}
