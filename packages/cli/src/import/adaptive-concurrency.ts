/**
 * How many requests an import keeps in flight, adapted to what the server carries (AIMD, as TCP does): every
 * request answered grows the window by one request per window's worth of answers; a request answered 429, 5xx or not
 * at all halves it. A busy collector thus sees fewer requests, not the same ones again (retries wait for room like
 * any request); each then finishes before the collector's deadline instead of being cut and retried, and the
 * import runs at the pace the server sustains. `--concurrency` is the ceiling, and where an import starts.
 */

/** What a sender asks before each attempt and reports after it (see `sendBatch`). */
export interface CongestionControl {
  /** Waits for room for one more request in flight; hand the ticket back to {@link CongestionControl.done}. */
  acquire(): Promise<number>;
  /**
   * The attempt is over: `answered` (2xx), `refused` (429 or 5xx, a timeout or a network failure: the server is
   * overloaded), or `other` (an answer that says nothing about load, such as 400 or 413).
   */
  done(ticket: number, outcome: "answered" | "refused" | "other"): void;
}

export interface AdaptiveConcurrencyOptions {
  /** The ceiling and the starting window. */
  max: number;
  /** Told each time the window shrinks, for the log. */
  onShrink?: (limit: number, was: number) => void;
}

/**
 * @example
 * const window = new AdaptiveConcurrency({ max: 8 });
 * const ticket = await window.acquire();
 * const response = await fetch(url, init);
 * window.done(ticket, response.ok ? "answered" : "refused");
 */
export class AdaptiveConcurrency implements CongestionControl {
  private window: number;
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  /** Answers since the window last grew: it grows by one once a whole window of them has come back. */
  private answers = 0;
  /** Counts the shrinks: refusals of attempts sent before the latest shrink are the same overload, already heeded. */
  private epoch = 0;

  constructor(private readonly options: AdaptiveConcurrencyOptions) {
    this.window = Math.max(1, Math.floor(options.max));
  }

  /** Requests that may be in flight now (at least one). */
  get limit(): number {
    return this.window;
  }

  async acquire(): Promise<number> {
    if (this.active < this.window) this.active++;
    // The slot is counted for us by whoever wakes us (see `done`), so no one can take it in between.
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    return this.epoch;
  }

  done(ticket: number, outcome: "answered" | "refused" | "other"): void {
    this.active--;
    if (outcome === "answered") this.grow();
    if (outcome === "refused" && ticket === this.epoch) this.shrink();
    while (this.waiting.length > 0 && this.active < this.window) {
      this.active++;
      this.waiting.shift()?.();
    }
  }

  private grow(): void {
    if (++this.answers < this.window) return;
    this.answers = 0;
    this.window = Math.min(this.options.max, this.window + 1);
  }

  private shrink(): void {
    const was = this.window;
    this.window = Math.max(1, Math.floor(this.window / 2));
    this.answers = 0;
    this.epoch++;
    if (this.window < was) this.options.onShrink?.(this.window, was);
  }
}
