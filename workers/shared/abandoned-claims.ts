/**
 * A claim held this long without being settled — an `Idempotency-Key` (`workers/api/idempotency.ts`), the graph
 * repair lock (`workers/identity/graph-repair-lock.ts`) — was left by an isolate that died mid-request (the platform
 * cuts a request long before): whoever asks next may take it over.
 */
export const ABANDONED_AFTER_MS = 60_000;
