import { KEYS, type KeyValue } from "@tessera/core";
import { cookieDomain, readCookie, writeCookie } from "./cookie";

/** The ids live in cookies (shared across subdomains, small); traits and the session in localStorage only. */
const COOKIE_KEYS: string[] = [KEYS.anonymousId, KEYS.userId];

function local(): globalThis.Storage | undefined {
  try {
    return localStorage;
  } catch {
    // Blocked storage throws on access (SecurityError).
  }
}

/** The browser's {@link KeyValue}, with `persist` switched on once consent allows cookies and localStorage. */
export interface BrowserKeyValue extends KeyValue {
  persist(on: boolean): void;
  /** Removes every key from cookies and localStorage (consent denied); memory keeps working for this page. */
  forget(): void;
  /** Reads `k` afresh: another tab may have set it a moment ago. */
  fresh(k: string): string | null | undefined;
  /**
   * Sets `k` only if its value, read afresh, is empty, `was` or already `v`; returns whether it did (and so whether
   * the value is now `v`).
   */
  fill(k: string, v: string, was?: string): boolean;
}

/**
 * Ids in a first-party cookie (authoritative) mirrored to localStorage: the cookie wins when they disagree and
 * the mirror is healed; a lost cookie (expiry, ITP) is re-seeded from the mirror. Until `persist(true)`
 * (consent pending) writes stay in memory and nothing is written. Every storage failure falls back to memory.
 */
export function browserKeyValue(domainOverride?: string): BrowserKeyValue {
  const mem: Record<string, string | null> = {};
  // Reading document.cookie is slow (tens of µs); a second-old answer is fresh enough to see other tabs' changes.
  let cache: Record<string, [value: string | null | undefined, at: number]> = {};
  let persist = false;
  const domain = () => domainOverride ?? cookieDomain();

  /** `""` leaves an empty cookie, a tombstone; `null` deletes the cookie too (consent withdrawn: nothing stays). */
  const write = (k: string, v: string | null) => {
    try {
      if (COOKIE_KEYS.includes(k)) writeCookie(k, v, domain());
      const ls = local();
      if (v) ls?.setItem(k, v);
      else ls?.removeItem(k);
    } catch {}
  };

  const stored = (k: string): string | null | undefined => {
    try {
      const mirror = local()?.getItem(k);
      if (!COOKIE_KEYS.includes(k)) return mirror;
      const cookie = readCookie(k);
      // A missing cookie (expired, ITP) comes back from the mirror; an empty one was cleared on purpose (reset() on
      // another subdomain, whose localStorage is not this one's) and clears the mirror instead. Only ids are healed:
      // writing back a localStorage-only value just read would put a stale one over another tab's newer write (Chrome
      // can show a tab another's write late).
      const v = cookie ?? mirror;
      if (persist && cookie !== mirror && (cookie || mirror)) write(k, v!);
      return v;
    } catch {}
  };

  const cached = (k: string) => {
    const now = Date.now();
    const hit = cache[k];
    if (hit && now - hit[1] < 1000) return hit[0];
    const v = stored(k);
    cache[k] = [v, now];
    return v;
  };

  const get = (k: string) => (persist ? (cached(k) ?? mem[k]) : k in mem ? mem[k] : stored(k));
  const set = (k: string, v: string | null) => {
    mem[k] = v;
    cache = {};
    if (persist) write(k, v || "");
  };

  const fresh = (k: string) => {
    cache = {};
    return get(k);
  };

  return {
    get,
    set,
    fresh,
    fill: (k, v, was) => {
      const now = fresh(k);
      if (now && now !== was && now !== v) return false;
      set(k, v);
      return true;
    },
    forget: () => {
      for (const k of Object.values(KEYS)) write(k, null);
      cache = {};
    },
    persist: (on) => {
      if (on && !persist) for (const k in mem) write(k, mem[k] || "");
      persist = on;
    },
  };
}
