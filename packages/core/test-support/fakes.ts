import type { Storage } from "../src/storage";
import { memoryStorage } from "../src/storage";
import type { Transport, TransportResult } from "../src/transport";

/** A Transport that records bodies and answers from a script (then 200). */
export function scriptedTransport(answers: TransportResult[] = []) {
  const sent: { url: string; body: { batch: { messageId: string; [k: string]: unknown }[]; writeKey: string } }[] = [];
  const transport: Transport = {
    send: async (url, body) => {
      sent.push({ url, body: JSON.parse(body) });
      return answers.shift() ?? { status: 200 };
    },
  };
  return { transport, sent, ids: () => sent.flatMap((s) => s.body.batch.map((m) => m.messageId)) };
}

/** A Storage whose writes fail, like IndexedDB over quota. */
export function failingStorage(): Storage {
  const fail = async () => {
    throw new Error("QuotaExceededError");
  };
  return { entries: fail, setMany: fail, delMany: fail };
}

/**
 * Storage that behaves like idb-keyval's setMany over IndexedDB: entries are structured-cloned one by one, and the
 * first that cannot be (a function: DataCloneError) throws, leaving the entries before it stored and those after not.
 */
export function cloningStorage() {
  const map = new Map<string, unknown>();
  const store: Storage = {
    entries: async <T>() => [...map].map(([k, v]) => [k, structuredClone(v)]) as [string, T][],
    setMany: async (entries) => {
      for (const [k, v] of entries) map.set(k, structuredClone(v));
    },
    delMany: async (keys) => {
      for (const k of keys) map.delete(k);
    },
  };
  return { store, map };
}

export { memoryStorage };
