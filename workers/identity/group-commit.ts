/**
 * Group commit: calls that arrive while a call with the same key is in flight wait, then run together as one call
 * (one D1 read and one D1 write for all of them instead of one each). A call to an idle key runs at once; during a
 * burst (another group of the key ended moments ago) a group lingers a few milliseconds first, so the calls of the
 * burst's next requests join it rather than each paying a round trip of its own (Kafka's `linger.ms`, Nagle's idea).
 *
 * Each group is run by its first caller, in that caller's own request: the Workers runtime ties I/O to the request
 * that started it, so a request never does another's I/O after its own answer (which could cancel it midway); and
 * the leader's request is kept alive until its group is done ({@link keepAlive}), should its client go away first.
 */

import { LRUCache } from "lru-cache";
import { keepAlive } from "../shared/keep-alive";

interface Group<I, O> {
  items: I[][];
  /** The items' total weight. */
  size: number;
  settled: Promise<O[][]>;
  resolve(value: O[][]): void;
  reject(err: unknown): void;
}

interface KeyState<I, O> {
  /** Settles when the running group is done. */
  running: Promise<unknown>;
  /** Collecting while `running` runs; runs next. */
  next: Group<I, O> | null;
}

/** How a group waits for company during a burst; see {@link GroupCommit}. */
export interface Linger {
  /** How long a group waits for more calls before it runs. 0: never. */
  ms: number;
  /** A key is in a burst when its last group ended less than this long ago. */
  burstGapMs: number;
}

/**
 * Measured on the browser shape (one new visitor per request, 8 in flight, `wrangler dev`): groups of ~2 visitors
 * without lingering, ~3 with 4 ms, and the run ~6% shorter (bench/README.md, "the D1 round trip is the gap").
 * 2 and 8 ms did no better than 4.
 */
export const DEFAULT_LINGER: Linger = { ms: 4, burstGapMs: 25 };

/**
 * @example const commit = new GroupCommit<Input, Outcome>(5_000);
 *          const outcomes = await commit.run(workspaceId, inputs, (all) => resolveAll(all));
 */
export class GroupCommit<I, O> {
  private readonly keys = new Map<string, KeyState<I, O>>();
  /**
   * When each key's last group ended (epoch ms), to tell a burst from an idle key. An isolate serves few workspaces;
   * the bound only stops a leak.
   */
  private readonly lastEnded = new LRUCache<string, number>({ max: 1_000 });

  /**
   * `maxWeight`: a waiting group takes no more than this much `weight` of items (one item each unless said), so one
   * big batch does not grow without bound; a single call heavier than that still runs, alone.
   */
  constructor(
    readonly maxWeight = 5_000,
    readonly linger: Linger = DEFAULT_LINGER,
    readonly weight: (item: I) => number = () => 1,
    /** Hands a group to the runtime to finish (see `keep-alive.ts`); replaceable in tests. */
    readonly keepRunning: (work: Promise<unknown>) => void = keepAlive,
  ) {}

  /** Runs `items` through `work` (which must answer one output per item, in order), grouped with concurrent calls. */
  async run(key: string, items: I[], work: (all: I[]) => Promise<O[]>): Promise<O[]> {
    const state = this.keys.get(key);
    if (!state) {
      const group = newGroup<I, O>(items, this.weighOf(items));
      return (await this.lead(key, group, Promise.resolve(), work))[0];
    }
    const next = state.next;
    const weight = this.weighOf(items);
    if (next && next.size + weight <= this.maxWeight) {
      const slot = next.items.push(items) - 1;
      next.size += weight;
      return (await next.settled)[slot];
    }
    // No waiting group (or it is full): this call starts one, and runs it once the running group is done.
    const group = newGroup<I, O>(items, weight);
    const before = state.running;
    return (await this.lead(key, group, before, work))[0];
  }

  private async lead(key: string, group: Group<I, O>, before: Promise<unknown>, work: (all: I[]) => Promise<O[]>) {
    const state = this.keys.get(key) ?? { running: before, next: null };
    state.next = group;
    const turn = before.then(
      () => undefined,
      () => undefined,
    );
    const mine = turn.then(() => group.settled).catch(() => undefined);
    // Other requests wait on this group, and every later group of the key on `mine`: should the leader's request end
    // first (its client gone), its I/O would be cancelled and all of them would hang.
    this.keepRunning(mine);
    state.running = mine;
    this.keys.set(key, state);
    await turn;
    // A full group has no room for company: lingering would only delay it.
    if (group.size < this.maxWeight && this.inBurst(key))
      await new Promise((resolve) => setTimeout(resolve, this.linger.ms));
    // From here on the group is closed: later callers start the next one.
    if (state.next === group) state.next = null;
    try {
      const outputs = await work(group.items.flat());
      const split: O[][] = [];
      let at = 0;
      for (const items of group.items) {
        split.push(outputs.slice(at, at + items.length));
        at += items.length;
      }
      group.resolve(split);
    } catch (err) {
      group.reject(err);
    } finally {
      this.lastEnded.set(key, Date.now());
      // Nobody queued behind this group: the key is idle again.
      if (state.running === mine && state.next === null) this.keys.delete(key);
    }
    return group.settled;
  }

  private weighOf(items: I[]): number {
    let total = 0;
    for (const item of items) total += this.weight(item);
    return total;
  }

  /** True when another group of `key` ended less than `burstGapMs` ago (or one ran just before this one). */
  private inBurst(key: string): boolean {
    if (this.linger.ms <= 0) return false;
    const last = this.lastEnded.get(key);
    return last !== undefined && Date.now() - last < this.linger.burstGapMs;
  }
}

function newGroup<I, O>(items: I[], size: number): Group<I, O> {
  let resolve!: (value: O[][]) => void;
  let reject!: (err: unknown) => void;
  const settled = new Promise<O[][]>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A rejected group is also awaited by its followers; this keeps an unobserved copy from being reported.
  settled.catch(() => undefined);
  return { items: [items], size, settled, resolve, reject };
}
