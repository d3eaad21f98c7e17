/** Ingestion limits, the same as Segment's HTTP Tracking API so existing clients never trip them. */
export const MAX_MESSAGE_BYTES = 32 * 1024;
export const MAX_REQUEST_BYTES = 500 * 1024;
export const MAX_BATCH_MESSAGES = 2500;
/** Nesting deeper than this is almost always a serialisation bug (or an attack on the parser). */
export const MAX_PROPERTY_DEPTH = 32;
/** Timestamps further ahead than this are client clock errors; we answer with the reason, not silence. */
export const MAX_FUTURE_SKEW_MS = 24 * 60 * 60 * 1000;
/** Length of any identifier value (ids, emails, phones), in characters. */
export const MAX_IDENTIFIER_LENGTH = 512;
/**
 * `context.externalIds` entries per message. Each is an identifier the graph must read and may claim; a message
 * naming thousands of them (10,000 took 23.6 s and stalled other requests) is an attack, not a customer.
 */
export const MAX_EXTERNAL_IDS = 50;
/** Length of an event name, in characters. */
export const MAX_EVENT_NAME_LENGTH = 512;
/** `GET /v1/profiles/:ref/events`: page size when `limit` is left out, and the largest page. */
export const DEFAULT_EVENT_PAGE = 50;
export const MAX_EVENT_PAGE = 1000;
/** Length of the `event` filter of that route: longer than any sane event name is a mistake worth saying so. */
export const MAX_EVENT_FILTER_LENGTH = 500;
