import type { Message } from "@tessera/protocol";
import type { Storage } from "./storage";
/** One queued message as stored: the message, when it was queued, and when it last left in a beacon. */
export interface QueueItem {
  m: Message;
  /** Enqueue time, ms. */
  t: number;
  /** Beacon time, ms: the page sent it on hide and nothing acknowledged it yet. */
  b?: number;
}
/** Items older than this are discarded on replay (an offline week is the longest wait worth keeping). */
export declare const ITEM_TTL_MS: number;
/**
 * The persistent event queue: every item is written to Storage when enqueued (coalesced per tick) and deleted
 * when acknowledged. A memory mirror keeps the items this page knows about, so pagehide can read them
 * synchronously and items whose write failed (quota, private mode) are still sent. Storage failures never escape.
 */
export declare class Queue {
  private _store;
  private _max;
  private _mem;
  private _pending;
  private _writing?;
  constructor(_store: Storage, _max: number);
  /** Number of items this page knows about. */
  get size(): number;
  /** Adds an item (its key is the message id); drops the oldest beyond the cap. */
  push(item: QueueItem): Promise<void>;
  private _write;
  /**
   * Everything to deliver, oldest first: stored items (other tabs' and earlier pages' included) plus this page's
   * unpersisted ones. Call under the cross-tab lock. Expired items and those beyond the cap are deleted.
   */
  load(now: number): Promise<[string, QueueItem][]>;
  /** Deletes acknowledged (or dropped) items. */
  remove(keys: string[]): Promise<void>;
  private _forget;
  /** Items this page knows about, oldest first (synchronous, for pagehide). */
  snapshot(): [string, QueueItem][];
  /** Marks items as sent by beacon so regular flushes leave them alone for a while. */
  markBeaconed(keys: string[], now: number): void;
  /** Moves every item into a new Storage (consent granted: memory buffer → IndexedDB). */
  adopt(store: Storage): Promise<void>;
  /** Forgets everything in memory (consent denied); storage is left to the caller. */
  clear(): void;
  private _sorted;
}
