/**
 * Caps on audience and computed-trait definitions (DESIGN §6). Every definition is evaluated inside a profile's
 * Durable Object on each of its events, in the same commit, so a definition's cost is paid per event, per profile.
 * These bound that cost; a definition over a cap is refused when it is saved (with the cap's name in the message),
 * never accepted and then slow.
 */

/** Definition keys: lowercase words, so they are safe in URLs, D1 keys and vendor list names (`tessera_<key>`). */
export const DEFINITION_KEY_PATTERN = /^[a-z][a-z0-9_]{0,63}$/;

/** Nodes plus `where` conditions in one definition: each one is a test run on every evaluation. */
export const MAX_DEFINITION_NODES = 50;

/** Nesting of all/any/not, the root being level 1: deeper trees are unreadable and recurse for nothing. */
export const MAX_DEFINITION_DEPTH = 8;

/** Event nodes in one audience: each one is a query of the profile's event log on every evaluation. */
export const MAX_EVENT_NODES = 10;

/**
 * Largest `count.value` of an event node: deciding `count` (and when it flips) reads at most `value + 1` events
 * newest first, so this bounds the rows one event node reads.
 */
export const MAX_COUNT_VALUE = 1000;

/** Values of one `in` condition: each is compared with the property on every matching event. */
export const MAX_IN_VALUES = 100;

/** Longest window (10 years): older history is what an unwindowed condition is for. */
export const MAX_WINDOW_DAYS = 3650;

/** Characters of one string value, property path or trait path in a definition. */
export const MAX_DEFINITION_STRING = 1000;

/** Segments of a property or trait path (`items.0.sku` has 3). */
export const MAX_PATH_SEGMENTS = 10;

/** Values a `unique_list` computed trait keeps, most recent first (DESIGN §6). */
export const MAX_UNIQUE_LIST = 100;

/**
 * Bytes of JSON a `unique_list` keeps (fewer values when they are large). A computed value is stored in one row of
 * the profile's storage, which refuses a row over 2 MB (100 values of a 30 KB property would fail the profile's every
 * write), and travels to destinations with each change.
 */
export const MAX_UNIQUE_LIST_BYTES = 16_384;

/**
 * Bytes of JSON all of a workspace's audiences and computed traits may take together. Every profile's Durable Object
 * caches the whole set in one stored value (`definitions_cache`), and Durable Object storage refuses a value over
 * 2 MB: past it, every write of every profile of the workspace would fail. Half of that leaves room for keys and
 * growth; ~3,000 definitions of a typical size, or 60 at the largest a request may send.
 */
export const MAX_WORKSPACE_DEFINITION_BYTES = 1_000_000;

/**
 * Audiences and computed traits a workspace may have together. Each profile evaluates every one of them in each
 * write, so their number is a cost on every event of the workspace (timed in Node on a 20-event profile: 26 / 260 /
 * 780 definitions took 0.2 / 1.3 / 2.6 ms per evaluation). Segment's plans include 100 audiences and 50 computed
 * traits; this is several times that.
 */
export const MAX_WORKSPACE_DEFINITIONS = 500;
