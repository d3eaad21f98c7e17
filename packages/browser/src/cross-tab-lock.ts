import type { Lock } from "@tessera/core";

/**
 * Only one tab flushes a queue at a time, so no item goes out twice (segmentio/localstorage-retry#27).
 * Web Locks when available; otherwise a claim in localStorage, given up when its page goes, that expires after `ttl`
 * ms should its tab die without giving it up (a crash).
 * A tab that finds the lock taken skips this flush; the engine tries again shortly.
 */
export function crossTabLock(name: string, ttl = 30_000): Lock {
  const locks = navigator.locks;
  if (locks) {
    return (fn) => {
      let ran = false;
      const run = () => {
        ran = true;
        return fn();
      };
      // With site data blocked, Web Locks refuse (SecurityError); the queue is then this tab's memory alone.
      return locks
        .request(name, { ifAvailable: true }, (lock) => (lock ? run() : undefined))
        .catch((err) => {
          if (ran) throw err;
          return run();
        });
    };
  }
  const me = Math.random().toString(36);
  let ls: globalThis.Storage | undefined;
  // Not once our claim expired and another tab's replaced it.
  const release = () => {
    try {
      if (ls?.getItem(name)?.startsWith(me)) ls.removeItem(name);
    } catch {}
  };
  // A page closed mid-flush never hears its request's answer, so its claim would hold every other page's flushes for
  // `ttl`. The request in flight is left to itself (page-hide notes its events as beaconed), so let the queue go.
  addEventListener("pagehide", release);
  return async (fn) => {
    try {
      ls = localStorage;
      const [owner, until] = (ls.getItem(name) || "").split(" ");
      if (owner && owner !== me && Number(until) > Date.now()) return;
      ls.setItem(name, `${me} ${Date.now() + ttl}`);
      if (!ls.getItem(name)?.startsWith(me)) return;
    } catch {
      // No localStorage: no other tab can share our queue's memory fallback either.
    }
    try {
      await fn();
    } finally {
      release();
    }
  };
}

/**
 * Runs `fn` once no other tab holds `name`, waiting for it (Web Locks); without them, or with site data blocked, at
 * once. `fn` must not reject: it would run again.
 */
export function whenAlone<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const locks = navigator.locks;
  return locks ? locks.request(name, fn).catch(fn) : fn();
}
