/**
 * The synchronous seam for small state read while a message is built: ids, traits, the session.
 * Synchronous because `track()` must stamp ids before it returns; an async platform keeps a memory copy
 * and writes through in the background.
 */
export interface KeyValue {
  get(key: string): string | null | undefined;
  /** `null` removes the key. */
  set(key: string, value: string | null): void;
}
/** Keys core reads and writes through {@link KeyValue}; platforms may route them (ids to cookies, the rest elsewhere). */
export declare const KEYS: {
  readonly anonymousId: "tessera_anonymous_id";
  readonly userId: "tessera_user_id";
  readonly traits: "tessera_traits";
  readonly session: "tessera_session";
};
/** A KeyValue in memory. */
export declare function memoryKeyValue(): KeyValue;
