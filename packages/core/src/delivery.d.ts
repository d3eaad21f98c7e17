import type { Queue } from "./queue";
import { type RetryOptions } from "./retry-policy";
import type { Transport } from "./transport";
/** Runs `fn` while holding the cross-tab flush lock, or returns without running it when another tab holds it. */
export type Lock = (fn: () => Promise<void>) => Promise<void>;
/** Settings of {@link Delivery}; the engine fills them from its options. */
export interface DeliveryOptions {
  url: string;
  writeKey: string;
  transport: Transport;
  lock: Lock;
  retry: RetryOptions;
  maxBatchSize: number;
  maxBatchBytes: number;
  /** How long a beaconed item is left for its beacon before regular flushes resend it, ms. */
  beaconGrace: number;
  isOnline: () => boolean;
  random: () => number;
  now: () => number;
}
/**
 * Sends the queue in batches, one flush at a time per page and one page at a time per queue (the lock).
 * Retries with full jitter (or `Retry-After`), halves batches on 413, drops what the server will never accept.
 * Network failures that exhaust the attempts leave items stored for the next page load instead of dropping them.
 */
export declare class Delivery {
  private _queue;
  private _o;
  private _busy?;
  private _again;
  private _attempt;
  private _limit;
  private _cancel?;
  /** Until when we are backing off, ms. */
  private _until;
  /** Keys in a request right now: pagehide leaves them to it. */
  readonly inFlight: Set<string>;
  constructor(_queue: Queue, _o: DeliveryOptions);
  /** True while a retry is scheduled: new events must wait for it rather than hammer a failing server. */
  get backingOff(): boolean;
  /** Flushes now (or joins the running flush). Resolves when this flush is over; never rejects. */
  flush(): Promise<void>;
  /** Schedules a flush in `ms` unless one is already due sooner. */
  schedule(ms: number): void;
  private _run;
}
