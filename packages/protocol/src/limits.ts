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
/**
 * Bytes a profile's traits may take together (each key and its value's JSON, UTF-8). A profile is read whole by its
 * view, its evaluation and its syncs, and ships its traits in one RPC when it is merged away (32 MiB at most): a
 * client that invents a key per call (a session id as a key) once gave one profile 72 MB of traits, and from then on
 * every read answered 500 and its merge was retried for ever. Segment refuses an identify of 300 traits or more; a
 * profile here holds up to this many bytes, and a value that would take it past them is not kept (its event is, with
 * the value in it). Values already kept can still change within the room left.
 */
export const MAX_PROFILE_TRAIT_BYTES = 256 * 1024;
/**
 * Days a destination's sync log entries, and dead letters after their replay, are kept (pending dead letters stay
 * until replayed). Pruned by the Worker's cron: `d1/queries/retention.ts` says why.
 */
export const OPERATIONS_RETENTION_DAYS = 30;
/** `GET /v1/profiles/:ref/events`: page size when `limit` is left out, and the largest page. */
export const DEFAULT_EVENT_PAGE = 50;
export const MAX_EVENT_PAGE = 1000;
/**
 * Characters of JSON one events page holds at most. A page crosses an RPC (32 MiB at most) and is parsed and
 * answered whole in a 128 MB isolate: a thousand events of up to 32 KB each (with what the collector adds) come to
 * the RPC's limit and, parsed twice over, near the isolate's. A page of large events stops here with `has_more`.
 */
export const MAX_EVENT_PAGE_CHARS = 4 * 1024 * 1024;
