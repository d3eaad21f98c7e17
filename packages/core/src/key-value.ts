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
export const KEYS = {
  anonymousId: "tessera_anonymous_id",
  userId: "tessera_user_id",
  traits: "tessera_traits",
  session: "tessera_session",
  /** Message ids recently handed to a beacon, with when: `{id: ms}`. */
  beaconed: "tessera_beaconed",
  /** The last id a tab took to the server-set id endpoint, and the server's answer: `"id answer"`. */
  idExchange: "tessera_id_exchange",
} as const;

/** A KeyValue in memory. */
export function memoryKeyValue(): KeyValue {
  const map = new Map<string, string>();
  return {
    get: (k) => map.get(k),
    set: (k, v) => {
      if (v == null) map.delete(k);
      else map.set(k, v);
    },
  };
}
