/**
 * Group commit: calls that arrive while a call with the same key is in flight wait, then run together as one call
 * (one D1 read and one D1 write for all of them instead of one each). The first call never waits.
 *
 * Each group is run by its first caller, in that caller's own request: the Workers runtime ties I/O to the request
 * that started it, so a request never does another's I/O after its own answer (which could cancel it midway).
 */

interface Group<I, O> {
  items: I[][];
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

/**
 * @example const commit = new GroupCommit<Input, Outcome>(5_000);
 *          const outcomes = await commit.run(workspaceId, inputs, (all) => resolveAll(all));
 */
export class GroupCommit<I, O> {
  private readonly keys = new Map<string, KeyState<I, O>>();

  /** `maxItems`: a waiting group takes no more items than this (one big batch must not grow without bound). */
  constructor(readonly maxItems = 5_000) {}

  /** Runs `items` through `work` (which must answer one output per item, in order), grouped with concurrent calls. */
  async run(key: string, items: I[], work: (all: I[]) => Promise<O[]>): Promise<O[]> {
    const state = this.keys.get(key);
    if (!state) {
      const group = newGroup<I, O>(items);
      return (await this.lead(key, group, Promise.resolve(), work))[0];
    }
    const next = state.next;
    if (next && next.size + items.length <= this.maxItems) {
      const slot = next.items.push(items) - 1;
      next.size += items.length;
      return (await next.settled)[slot];
    }
    // No waiting group (or it is full): this call starts one, and runs it once the running group is done.
    const group = newGroup<I, O>(items);
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
    state.running = mine;
    this.keys.set(key, state);
    await turn;
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
      // Nobody queued behind this group: the key is idle again.
      if (state.running === mine && state.next === null) this.keys.delete(key);
    }
    return group.settled;
  }
}

function newGroup<I, O>(items: I[]): Group<I, O> {
  let resolve!: (value: O[][]) => void;
  let reject!: (err: unknown) => void;
  const settled = new Promise<O[][]>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A rejected group is also awaited by its followers; this keeps an unobserved copy from being reported.
  settled.catch(() => undefined);
  return { items: [items], size: items.length, settled, resolve, reject };
}
