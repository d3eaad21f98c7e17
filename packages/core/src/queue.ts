import type { Message } from "@tessera/protocol";
import type { Storage } from "./storage";

/** One queued message as stored: the message and when it was queued. */
export interface QueueItem {
  m: Message;
  /** Enqueue time, ms. */
  t: number;
  /** Failed attempts to send it, and when the first failed (ms): its own retry budget. */
  a?: number;
  f?: number;
}

/** Items older than this are discarded on replay (an offline week is the longest wait worth keeping). */
export const ITEM_TTL_MS = 7 * 24 * 3600 * 1000;

/**
 * The persistent event queue: every item is written to Storage when enqueued (coalesced per tick) and deleted
 * when acknowledged. A memory mirror keeps the items this page knows about, so pagehide can read them
 * synchronously and items whose write failed (quota, private mode) are still sent. Storage failures never escape.
 */
export class Queue {
  private _mem = new Map<string, QueueItem & { p?: boolean }>();
  private _pending: [string, QueueItem & { p?: boolean }][] = [];
  private _writing?: Promise<void>;
  /** Consent is pending again: nothing is written until `adopt`. */
  private _held = false;

  constructor(
    private _store: Storage,
    private _max: number,
  ) {}

  /** Number of items this page knows about. */
  get size(): number {
    return this._mem.size;
  }

  /** Adds an item (its key is the message id); drops the oldest beyond the cap. */
  push(item: QueueItem): Promise<void> {
    const key = item.m.messageId!;
    this._mem.set(key, item);
    if (this._mem.size > this._max) {
      const oldest = this._sorted().slice(0, this._mem.size - this._max);
      this._forget(oldest.map(([k]) => k));
    }
    return this.save([[key, item]]);
  }

  /** Writes items (again, e.g. with their retry counts) in this tick's write; items removed meanwhile stay removed. */
  save(items: [string, QueueItem][]): Promise<void> {
    this._pending.push(...items);
    this._writing ??= Promise.resolve().then(() => this._write());
    return this._writing;
  }

  private async _write(): Promise<void> {
    const batch = this._pending.filter(([k]) => this._mem.has(k));
    this._pending = [];
    this._writing = undefined;
    if (this._held) return;
    // Entries are JSON-clean (the engine queues a parsed copy), so no one of them can fail the write's clone; what
    // fails the whole write (quota, a blocked database) stays in memory and is delivered from this page.
    try {
      await this._store.setMany(batch);
      for (const [, item] of batch) item.p = true;
    } catch {}
  }

  /**
   * Everything to deliver, oldest first: stored items (other tabs' and earlier pages' included) plus this page's
   * unpersisted ones. Call under the cross-tab lock. Expired items and those beyond the cap are deleted.
   */
  async load(now: number): Promise<[string, QueueItem][]> {
    await this._writing;
    let stored: [string, QueueItem][] | undefined;
    try {
      stored = await this._store.entries<QueueItem>();
    } catch {}
    if (stored) {
      const keys = new Set(stored.map(([k]) => k));
      for (const [k, item] of this._mem) {
        // Persisted but gone from storage: another tab delivered it.
        if (item.p && !keys.has(k)) this._mem.delete(k);
        else if (!item.p) stored.push([k, item]);
      }
      for (const [k, item] of stored) if (!this._mem.has(k)) this._mem.set(k, { ...item, p: true });
    }
    const all = this._sorted();
    const drop = all.filter(([, i], n) => i.t < now - ITEM_TTL_MS || n < all.length - this._max).map(([k]) => k);
    await this.remove(drop);
    return this._sorted();
  }

  /** Deletes acknowledged (or dropped) items. */
  async remove(keys: string[]): Promise<void> {
    if (!keys.length) return;
    this._forget(keys);
  }

  private _forget(keys: string[], store = this._store): void {
    for (const k of keys) this._mem.delete(k);
    store.delMany(keys).catch(() => {});
  }

  /** Items this page knows about, oldest first (synchronous, for pagehide). */
  snapshot(): [string, QueueItem][] {
    return this._sorted();
  }

  /**
   * Stops writing to storage (consent pending again): new items and retry counts stay in memory, unpersisted, while
   * deletions still reach storage, so an item acknowledged meanwhile never comes back. `adopt` resumes writing.
   */
  hold(): void {
    this._held = true;
  }

  /** Moves every item into a new Storage (consent granted: memory buffer → IndexedDB). */
  adopt(store: Storage): Promise<void> {
    this._store = store;
    this._held = false;
    for (const item of this._mem.values()) item.p = false;
    return this.save([...this._mem]);
  }

  /** Deletes every queued item, this page's and those stored in `store` (default: the queue's own) (consent denied). */
  async clear(store = this._store): Promise<void> {
    const keys = [...this._mem.keys()];
    this._mem.clear();
    this._pending = [];
    try {
      for (const [k] of await store.entries()) keys.push(k);
    } catch {}
    this._forget(keys, store);
  }

  private _sorted(): [string, QueueItem][] {
    return [...this._mem].sort((a, b) => a[1].t - b[1].t) as [string, QueueItem][];
  }
}
