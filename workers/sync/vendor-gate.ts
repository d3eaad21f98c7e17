/**
 * The pace of one destination's HTTP calls to its vendor (DESIGN §7, maps.md §4 `RateLimitSpec`): at most
 * `limits.concurrency` requests in flight and at most `limits.rate.limit` started per sliding `rate.perMs` window.
 * Every request a plugin or poller makes goes through {@link VendorGate.fetch}, so a plugin call that makes several
 * requests (a list lookup, an upsert, a list update) is paced request by request, never past the vendor's limits.
 *
 * A vendor that says on every answer how much of its window remains, in the header its plugin names
 * (`limits.remainingHeader`), counts requests this gate never saw: another destination or app on the same account, or
 * this object's calls before it was evicted and its gate started empty. Told that less remains than the gate's own
 * count allows, the gate counts the difference as requests started now, so the next ones wait for the window instead
 * of earning a 429.
 *
 * A vendor with no published limits (`limits.maxConcurrency`: a customer's webhook endpoint) has them found as TCP
 * finds a path's: the gate starts at `concurrency` and `rate.limit`, doubles both once as many answers as it has
 * slots came back good within a second, up to `maxConcurrency`, and halves them (never below the start, once per
 * overload) on a 408, 429, 5xx, timeout or network error. A burst of 200 audience entries took 4 s at a fixed 50
 * requests/s to an endpoint that answered each in milliseconds.
 *
 * @example
 * const gate = new VendorGate({ concurrency: 10, rate: { limit: 100, perMs: 20_000 } });
 * if (gate.waitMs() === 0) await gate.fetch("https://…/rest/v1/leads.json", init);
 */
import pLimit, { type LimitFunction } from "p-limit";
import { readWithin } from "../shared/body-bytes";
import { fetchRefusingRedirects, type PluginLimits, Redirected } from "./plugin";

/**
 * The vendor counts a request when it arrives, the gate when it leaves: a window that opens here a little before it
 * opens there would earn a 429. Each window is stretched by this share plus a fixed margin for that transit jitter.
 */
const WINDOW_STRETCH = 0.02;
const WINDOW_MARGIN_MS = 25;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A request with no answer by then is aborted: its caller records a retry and its slot is free again. Without it a
 * vendor or endpoint that takes the connection and never answers held every slot, and the destination with them,
 * until the runtime ended the alarm (15 minutes), again at each retry. Covers reading the body too.
 */
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * The most of one answer's body a plugin may read: a vendor's largest page is a few MB (HubSpot's email events, a
 * Mailchimp batch of 500 members), and a `base_url` is the workspace's own setting, so a host answering gigabytes
 * would otherwise fill the isolate its destination object shares with other workspaces' objects. Past it, reading the
 * body fails, which the plugins already turn into a retry.
 */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** An answer at most this slow counts towards growing an adaptive gate; a slower good one neither grows nor shrinks it. */
const FAST_ANSWER_MS = 1_000;

/** The answers that say "slow down": the vendor's own throttling, its timeouts and its failures. */
const isPushback = (status: number) => status === 408 || status === 429 || status >= 500;

export class VendorGate {
  /** Start times of the requests in the current window, oldest first. */
  private readonly started: number[] = [];
  private readonly inFlight: LimitFunction;
  private limit: number;
  private readonly windowMs: number;
  /** Where an adaptive gate starts and how far it may grow (the same two for a fixed one). */
  private readonly floor: number;
  private readonly ceiling: number;
  private readonly limitPerSlot: number;
  /** Good, fast answers since the gate last changed its size. */
  private goodAnswers = 0;
  /**
   * Counts the shrinks: pushback to a request sent before the latest one is the same overload, already heeded (16
   * requests in flight that all meet one outage halve the gate once, not four times). The import's
   * `AdaptiveConcurrency` (packages/cli) does the same for the collector.
   */
  private shrinks = 0;
  /** Requests sent and not answered yet: the vendor may not have counted them in what it says remains. */
  private unanswered = 0;

  private readonly now: () => number;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly remainingHeader: string | undefined;

  constructor(
    limits: Pick<PluginLimits, "concurrency" | "rate" | "maxConcurrency" | "remainingHeader">,
    options: { now?: () => number; timeoutMs?: number; maxResponseBytes?: number } = {},
  ) {
    this.now = options.now ?? Date.now;
    this.timeoutMs = options.timeoutMs ?? REQUEST_TIMEOUT_MS;
    this.maxResponseBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
    this.remainingHeader = limits.remainingHeader;
    this.floor = Math.max(1, limits.concurrency);
    this.ceiling = Math.max(this.floor, limits.maxConcurrency ?? this.floor);
    this.inFlight = pLimit(this.floor);
    this.limit = Math.max(1, limits.rate.limit);
    this.limitPerSlot = this.limit / this.floor;
    this.windowMs = Math.ceil(limits.rate.perMs * (1 + WINDOW_STRETCH)) + WINDOW_MARGIN_MS;
  }

  /** Milliseconds until the window has room for another request (0: now). */
  waitMs(): number {
    const now = this.now();
    this.leaveWindow(now);
    return this.started.length >= this.limit ? this.started[0] + this.windowMs - now : 0;
  }

  /** Forgets the requests started before the current window. */
  private leaveWindow(now: number): void {
    while (this.started.length > 0 && this.started[0] <= now - this.windowMs) this.started.shift();
  }

  /** Requests waiting for a slot or in flight. */
  get busy(): number {
    return this.inFlight.activeCount + this.inFlight.pendingCount;
  }

  /** Requests allowed in flight now (grows and shrinks only for an adaptive gate). */
  get concurrency(): number {
    return this.inFlight.concurrency;
  }

  /**
   * `fetch`, once a concurrency slot is free and the window has room (waiting as long as it takes), aborted after
   * {@link REQUEST_TIMEOUT_MS} without an answer; its body reads at most {@link MAX_RESPONSE_BYTES}. A redirect is
   * not followed but thrown as `Redirected` (see there): followed, a POST arrives elsewhere as a bodiless GET whose
   * 200 counts it delivered.
   */
  fetch: typeof fetch = (input, init) =>
    this.inFlight(async () => {
      // Checked and recorded with no await between them: concurrent callers never overshoot the window.
      for (let wait = this.waitMs(); wait > 0; wait = this.waitMs()) await sleep(wait);
      const sentAt = this.now();
      this.started.push(sentAt);
      const shrinks = this.shrinks;
      let res: Response;
      this.unanswered++;
      try {
        const timeout = AbortSignal.timeout(this.timeoutMs);
        res = await fetchRefusingRedirects(input, {
          ...init,
          signal: init?.signal ? AbortSignal.any([init.signal, timeout]) : timeout,
        });
      } catch (err) {
        // A caller that gave up says nothing about the vendor; a redirect is neither a good answer nor pushback (the
        // address is wrong, not the pace).
        if (!init?.signal?.aborted && !(err instanceof Redirected)) this.pushedBack(shrinks);
        throw err;
      } finally {
        this.unanswered--;
      }
      this.heedRemaining(res.headers);
      if (isPushback(res.status)) this.pushedBack(shrinks);
      else if (this.now() - sentAt <= FAST_ANSWER_MS && ++this.goodAnswers >= this.concurrency)
        this.resize(this.concurrency * 2);
      return capped(res, this.maxResponseBytes);
    });

  /**
   * What the vendor says remains of its window, less the requests still on their way to it, becomes this window's
   * room: the requests it counted that this gate did not are added as started now (they leave the window no sooner
   * than the vendor's own do).
   */
  private heedRemaining(headers: Headers): void {
    if (this.remainingHeader === undefined) return;
    const said = headers.get(this.remainingHeader);
    const remaining = said === null || said.trim() === "" ? Number.NaN : Number(said);
    if (!Number.isFinite(remaining)) return;
    const now = this.now();
    this.leaveWindow(now);
    const room = Math.max(0, remaining - this.unanswered);
    for (let unseen = this.limit - this.started.length - room; unseen > 0; unseen--) this.started.push(now);
  }

  /** Halves an adaptive gate, once per overload: `shrinks` is the count when the refused request was sent. */
  private pushedBack(shrinks: number): void {
    this.goodAnswers = 0;
    if (shrinks !== this.shrinks || this.concurrency === this.floor) return;
    this.shrinks++;
    this.resize(this.concurrency / 2);
  }

  private resize(concurrency: number): void {
    const next = Math.min(this.ceiling, Math.max(this.floor, Math.floor(concurrency)));
    this.goodAnswers = 0;
    if (next === this.concurrency) return;
    this.inFlight.concurrency = next;
    this.limit = Math.round(this.limitPerSlot * next);
  }
}

/**
 * `res`, whose `text()`, `json()` and `arrayBuffer()` fail once more than `limit` bytes of the body arrived (declared
 * or streamed), cancelling the rest. Read by hand rather than through a wrapping stream: workerd reports a failed
 * stream it pumps into a body as an unhandled rejection besides failing the read.
 */
function capped(res: Response, limit: number): Response {
  const tooLarge = () => new Error(`the answer's body is larger than ${limit} bytes; not read`);
  const read = async (): Promise<Uint8Array> => {
    if (Number(res.headers.get("content-length")) > limit) {
      await res.body?.cancel().catch(() => {});
      throw tooLarge();
    }
    return readWithin(res.body, limit, tooLarge, "cancel");
  };
  const text = async () => new TextDecoder().decode(await read());
  return Object.assign(res, {
    text,
    json: async () => JSON.parse(await text()),
    // `readWithin` answers a fresh array of exactly the body's bytes: its buffer is the body.
    arrayBuffer: async () => (await read()).buffer as ArrayBuffer,
  });
}
