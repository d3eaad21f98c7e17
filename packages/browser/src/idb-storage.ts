import type { Storage } from "@tessera/core";
import { createStore, promisifyRequest } from "idb-keyval";

type Store = ReturnType<typeof createStore>;

/**
 * The queue's Storage in IndexedDB (one database per write key). Every call returns a promise, even when
 * IndexedDB is missing or blocked (opening would throw synchronously), so the queue falls back to memory.
 * `existing`: only a database that is already there (consent denied: delete what earlier pages stored, but leave no
 * database behind on a device that had none); without one, every call rejects.
 *
 * idb-keyval opens the database (and reopens it should Safari close it); the three calls are written here rather than
 * taken from it: its `entries` carries a cursor fallback for browsers without `getAll` (none since 2017), and each of
 * its functions a default store the SDK never uses, bytes every page would download.
 */
export function idbStorage(writeKey: string, existing?: boolean): Storage {
  let store: Store | undefined;
  const name = `tessera:${writeKey}`;
  const open = (): Store => {
    if (!existing) return createStore(name, "queue");
    const req = indexedDB.open(name);
    // A new database: aborting its creation leaves none.
    req.onupgradeneeded = () => req.transaction!.abort();
    const db = promisifyRequest(req);
    return (mode, callback) => db.then((d) => callback(d.transaction("queue", mode).objectStore("queue")));
  };
  const db = () => (store ??= open());
  /** Runs `change` in a read-write transaction; resolves once it is committed. */
  const write = (change: (s: IDBObjectStore) => void) =>
    db()("readwrite", (s) => {
      change(s);
      return promisifyRequest(s.transaction);
    });
  return {
    entries: async <T>() =>
      db()("readonly", (s) =>
        Promise.all([promisifyRequest(s.getAllKeys()), promisifyRequest(s.getAll())]).then(([keys, values]) =>
          keys.map((k, n): [string, T] => [k as string, values[n]]),
        ),
      ),
    setMany: async (items) =>
      write((s) => {
        for (const [k, v] of items) s.put(v, k);
      }),
    delMany: async (keys) =>
      write((s) => {
        for (const k of keys) s.delete(k);
      }),
  };
}
