/**
 * The pace of one destination's HTTP calls to its vendor (DESIGN §7, maps.md §4 `RateLimitSpec`): at most
 * `limits.concurrency` requests in flight and at most `limits.rate.limit` started per sliding `rate.perMs` window.
 * Every request a plugin or poller makes goes through {@link VendorGate.fetch}, so a plugin call that makes several
 * requests (a list lookup, an upsert, a list update) is paced request by request, never past the vendor's limits.
 *
 * @example
 * const gate = new VendorGate({ concurrency: 10, rate: { limit: 100, perMs: 20_000 } });
 * if (gate.waitMs() === 0) await gate.fetch("https://…/rest/v1/leads.json", init);
 */
import pLimit, { type LimitFunction } from "p-limit";
import type { PluginLimits } from "./plugin";

/**
 * The vendor counts a request when it arrives, the gate when it leaves: a window that opens here a little before it
 * opens there would earn a 429. Each window is stretched by this share plus a fixed margin for that transit jitter.
 */
const WINDOW_STRETCH = 0.02;
const WINDOW_MARGIN_MS = 25;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class VendorGate {
  /** Start times of the requests in the current window, oldest first. */
  private readonly started: number[] = [];
  private readonly inFlight: LimitFunction;
  private readonly limit: number;
  private readonly windowMs: number;

  constructor(
    limits: Pick<PluginLimits, "concurrency" | "rate">,
    private readonly now: () => number = Date.now,
  ) {
    this.inFlight = pLimit(Math.max(1, limits.concurrency));
    this.limit = Math.max(1, limits.rate.limit);
    this.windowMs = Math.ceil(limits.rate.perMs * (1 + WINDOW_STRETCH)) + WINDOW_MARGIN_MS;
  }

  /** Milliseconds until the window has room for another request (0: now). */
  waitMs(): number {
    const now = this.now();
    while (this.started.length > 0 && this.started[0] <= now - this.windowMs) this.started.shift();
    return this.started.length >= this.limit ? this.started[0] + this.windowMs - now : 0;
  }

  /** Requests waiting for a slot or in flight. */
  get busy(): number {
    return this.inFlight.activeCount + this.inFlight.pendingCount;
  }

  /** `fetch`, once a concurrency slot is free and the window has room (waiting as long as it takes). */
  fetch: typeof fetch = (input, init) =>
    this.inFlight(async () => {
      // Checked and recorded with no await between them: concurrent callers never overshoot the window.
      for (let wait = this.waitMs(); wait > 0; wait = this.waitMs()) await sleep(wait);
      this.started.push(this.now());
      return fetch(input, init);
    });
}
