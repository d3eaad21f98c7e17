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
export declare function memoryStorage(): Storage;
