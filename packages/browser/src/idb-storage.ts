import type { Storage } from "@tessera/core";
import { createStore, delMany, entries, setMany } from "idb-keyval";

/**
 * The queue's Storage in IndexedDB (one database per write key). Every call returns a promise, even when
 * IndexedDB is missing or blocked (idb-keyval would throw synchronously), so the queue falls back to memory.
 */
export function idbStorage(writeKey: string): Storage {
  let store: ReturnType<typeof createStore> | undefined;
  const db = () => (store ??= createStore(`tessera:${writeKey}`, "queue"));
  return {
    entries: async () => entries(db()),
    setMany: async (items) => setMany(items, db()),
    delMany: async (keys) => delMany(keys, db()),
  };
}
