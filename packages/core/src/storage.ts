/**
 * The asynchronous persistence seam of the event queue (idb-keyval's shape, so the browser passes it through).
 * A React Native package implements it over AsyncStorage; tests hand in a Map.
 */
export interface Storage {
  /** Every stored entry, in any order. */
  entries<T>(): Promise<[string, T][]>;
  setMany(entries: [string, unknown][]): Promise<void>;
  delMany(keys: string[]): Promise<void>;
}

/** A Storage in memory: the fallback when nothing persistent is available, and the buffer while consent is pending. */
export function memoryStorage(): Storage {
  const map = new Map<string, unknown>();
  return {
    entries: async <T>() => [...map] as [string, T][],
    setMany: async (entries) => {
      for (const [k, v] of entries) map.set(k, v);
    },
    delMany: async (keys) => {
      for (const k of keys) map.delete(k);
    },
  };
}
