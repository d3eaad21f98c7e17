/**
 * The longest `Idempotency-Key` either use of the header takes: the collector's wait for a running original
 * (`workers/collector/admission.ts`) and the API's stored answers (`workers/api/idempotency.ts`).
 */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;
