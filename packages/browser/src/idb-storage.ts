import type { Storage } from "@tessera/core";
import { createStore, delMany, entries, promisifyRequest, setMany } from "idb-keyval";

/**
 * The queue's Storage in IndexedDB (one database per write key). Every call returns a promise, even when
 * IndexedDB is missing or blocked (idb-keyval would throw synchronously), so the queue falls back to memory.
 * `existing`: only a database that is already there (consent denied: delete what earlier pages stored, but leave no
 * database behind on a device that had none); without one, every call rejects.
 */
export function idbStorage(writeKey: string, existing?: boolean): Storage {
  let store: ReturnType<typeof createStore> | undefined;
  const name = `tessera:${writeKey}`;
  const open = (): ReturnType<typeof createStore> => {
    if (!existing) return createStore(name, "queue");
    const req = indexedDB.open(name);
    // A new database: aborting its creation leaves none.
    req.onupgradeneeded = () => req.transaction!.abort();
    const db = promisifyRequest(req);
    return (mode, callback) => db.then((d) => callback(d.transaction("queue", mode).objectStore("queue")));
  };
  const db = () => (store ??= open());
  return {
    entries: async () => entries(db()),
    setMany: async (items) => setMany(items, db()),
    delMany: async (keys) => delMany(keys, db()),
  };
}
