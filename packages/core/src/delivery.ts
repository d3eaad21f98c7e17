import { batchBody, takeBatch } from "./batch";
import { later } from "./platform";
import type { Queue, QueueItem } from "./queue";
import { backoffDelay, classify, RETRY_BUDGET, type RetryOptions } from "./retry-policy";
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
  /** True for items a beacon carried recently: regular flushes leave them to it for a while. */
  inBeacon: (key: string) => boolean;
  isOnline: () => boolean;
  /** See `EngineOptions.renamedId`. */
  renamedId?: () => [from: string, to: string] | undefined;
  random: () => number;
  now: () => number;
}

/**
 * Sends the queue in batches, one flush at a time per page and one page at a time per queue (the lock).
 * Retries with full jitter (or `Retry-After`), halves batches on 413, drops what the server will never accept.
 * A series of failures that exhausts the attempts leaves items stored for the next trigger (an event, `online`, a
 * page load). Each item has its own retry budget, so an outage drops nothing that has not used up its own.
 */
export class Delivery {
  private _busy?: Promise<void>;
  private _again = false;
  private _attempt = 0;
  private _limit: number;
  private _cancel?: () => void;
  /** Until when we are backing off, ms. */
  private _until = 0;
  /** Nothing is sent before it settles (the engine's `hold`). */
  _gate: Promise<unknown> = Promise.resolve();
  /**
   * The last request got no answer at all (status 0): the network is down whatever `navigator.onLine` says (a
   * captive portal, an emulated offline page), so a beacon now would be lost and hold its events back 5 minutes.
   */
  unreachable = false;
  /** Keys in a request right now: pagehide leaves them to it. */
  readonly inFlight = new Set<string>();

  constructor(
    private _queue: Queue,
    private _o: DeliveryOptions,
  ) {
    this._limit = _o.maxBatchSize;
  }

  /** True while a retry is scheduled: new events must wait for it rather than hammer a failing server. */
  get backingOff(): boolean {
    return this._o.now() < this._until;
  }

  /** Flushes now (or joins the running flush). Resolves when this flush is over; never rejects. */
  flush(): Promise<void> {
    this._cancel?.();
    this._cancel = undefined;
    if (this._busy) {
      // Events arrived mid-flush: go round again once this one is over.
      this._again = true;
      return this._busy.then(() => this._busy);
    }
    let ran = false;
    this._busy = this._gate
      .then(() =>
        this._o.lock(() => {
          ran = true;
          return this._run();
        }),
      )
      .catch(() => {})
      .finally(() => {
        this._busy = undefined;
        if (!ran) this.schedule(this._o.retry.baseDelay * (1 + this._o.random()));
        else if (this._again && !this.backingOff) {
          this._again = false;
          void this.flush();
        }
      });
    return this._busy;
  }

  /** Schedules a flush in `ms` unless one is already due sooner. */
  schedule(ms: number): void {
    if (this._cancel) return;
    this._cancel = later(() => {
      this._cancel = undefined;
      void this.flush();
    }, ms);
  }

  private async _run(): Promise<void> {
    const o = this._o;
    const now = o.now();
    let items = (await this._queue.load(now)).filter(([k]) => !o.inBeacon(k));
    const [from, to] = o.renamedId?.() || [];
    for (const [, i] of items) if (to && i.m.anonymousId === from) i.m.anonymousId = to;
    while (items.length && o.isOnline()) {
      const batch = takeBatch(items, this._limit, o.maxBatchBytes);
      const keys = batch.map(([k]) => k);
      for (const k of keys) this.inFlight.add(k);
      const res = await o.transport.send(o.url, batchBody(messagesOf(batch), o.writeKey, new Date(o.now())));
      for (const k of keys) this.inFlight.delete(k);
      this.unreachable = !res.status;
      const outcome = classify(res.status);
      if (outcome === "retry") {
        const t = o.now();
        // Dropped only past both: its attempts, and 12 h since its first failure (a laptop asleep is no attempt).
        const spent = batch.filter(([, i]) => {
          i.f ??= t;
          i.a = (i.a || 0) + 1;
          return i.a >= o.retry.maxAttempts && t - i.f > RETRY_BUDGET;
        });
        await this._queue.remove(spent.map(([k]) => k));
        void this._queue.save(batch);
        if (++this._attempt < o.retry.maxAttempts) {
          const ms = backoffDelay(this._attempt - 1, res.retryAfter, o.retry, o.random);
          this._until = t + ms;
          // Replaces a flush timer set while the request was in flight: nothing is sent before the backoff.
          this._cancel?.();
          this._cancel = undefined;
          this.schedule(ms);
        } else this._attempt = 0;
        return;
      } else if (outcome === "split" && batch.length > 1) {
        this._limit = Math.ceil(batch.length / 2);
        continue;
      } else {
        // Answered: a backoff cut short by an early flush is over, or new events would never be scheduled.
        this._attempt = this._until = 0;
      }
      await this._queue.remove(keys);
      items = items.slice(batch.length);
    }
  }
}

function messagesOf(batch: [string, QueueItem][]) {
  return batch.map(([, i]) => i.m);
}
