/**
 * A computed trait's value for one profile (DESIGN §6), and the next instant it can change with no new event:
 * when the oldest in-window event that feeds it leaves the window (at `t + within` exactly, see `windows.ts`), or
 * when an event dated in the future comes due. Only events with `timestamp <= now` count.
 *
 * Every op but `first` and `last` can also be **carried forward**: its fold keeps what it has seen ({@link
 * TraitProgress}: running totals, or a tally of distinct values), and the value a moment later is the same fold with
 * the events stored since taken in, and the events that left the window since taken out (a min or max is recomputed
 * when its extreme left; a tally of more than {@link MAX_CARRIED_VALUES} values is not carried). A profile with a long
 * history (a till's walk-in customer, a B2B account, a crawler) otherwise re-read every matching event of its window
 * on each write: 0.8 s a batch at 200,000 orders (bench/README.md, "One profile with a long history"). `first` and
 * `last` need no carrying: they read the log only up to their value (oldest, or newest, first).
 */
import { type ComputedTraitDefinition, parsePropertyPath } from "@tessera/protocol";
import { matchesWhere } from "./conditions";
import { addExact } from "./exact-sum";
import { readEventPath } from "./paths";
import { matchesQuery, type ProfileFacts, type StoredEvent } from "./profile-facts";
import {
  addToTally,
  addToTotals,
  contributes,
  emptyTotals,
  isRunningOp,
  isTallyOp,
  type RunningOp,
  type RunningTotals,
  removeFromTally,
  type Tally,
  type TallyOp,
  tallyValue,
  totalsValue,
} from "./trait-ops";
import { earliest, windowMs, windowStart } from "./windows";

/** A computed value now, and when time alone may change it (`null`: never). */
export interface TraitResult {
  value: unknown;
  nextChangeAt: number | null;
}

/** What a fold of any op but first and last has taken in at `at`: enough to take in more events later. */
export interface TraitProgress {
  at: number;
  /** The oldest contributing event dated at or before `at`: the first to leave a window. */
  oldestDue: number | null;
  /** The earliest contributing event dated after `at`: it counts once due. */
  firstFuture: number | null;
  /** count, sum, avg, min, max. */
  totals?: RunningTotals;
  /** most_frequent, unique_list, unique_count. */
  tally?: Tally;
  /** The rank the next event carried in follows (see `TraitFold.order`). */
  nextOrder: number;
}

/**
 * Computes `def` at `now` from the profile's matching events. `count` without a `property` counts matching events;
 * with one, the matching events where it is set. Other ops use the events where `property` is set (and, for
 * sum/avg/min/max, is a number).
 *
 * @example computeTrait({ op: "sum", event: "Order Completed", property: "revenue", within: "365d" }, facts, now)
 * // { value: 420.5, nextChangeAt: 1767225600000 }
 */
export function computeTrait(def: ComputedTraitDefinition, facts: ProfileFacts, now: number): TraitResult {
  const { value, nextChangeAt } = foldTrait(def, facts, now);
  return { value, nextChangeAt };
}

/** {@link computeTrait}, with the progress it can be carried forward from (every op but first and last). */
export function foldTrait(
  def: ComputedTraitDefinition,
  facts: ProfileFacts,
  now: number,
): TraitResult & { progress: TraitProgress | null } {
  const fold = new TraitFold(def, now);
  // `first` reads oldest first: like `last`, it is then settled by the first value due, however long the history.
  for (const event of facts.events({ event: def.event, since: fold.since, oldestFirst: def.op === "first" })) {
    fold.take(event);
    if (fold.settled) break;
  }
  return fold.result();
}

/** What happened to the profile's log since a {@link TraitProgress} was made. */
export interface LogSince {
  /** The events stored since, in the order they were stored (other events than the trait's are passed over). */
  appended: Iterable<StoredEvent>;
  /** Events stored by then of `event` with `from <= timestamp < to`, oldest first: read lazily. */
  earlier(query: { event: string; from: number; to: number }): Iterable<StoredEvent>;
}

/**
 * `def` at `now` from `progress` (a fold of the same definition made earlier) and what the log did since. The events
 * stored since are taken in; events that left the window since are taken out again (a sum is exact, so this is the
 * recomputed value to the bit). Null where only {@link computeTrait} can answer: a future event came due, a min or
 * max lost its extreme to the window, or the tally grew past what is carried.
 */
export function carryTrait(
  def: ComputedTraitDefinition,
  progress: TraitProgress,
  log: LogSince,
  now: number,
): (TraitResult & { progress: TraitProgress }) | null {
  if (!(isRunningOp(def.op) || isTallyOp(def.op)) || now < progress.at) return null;
  if (progress.firstFuture !== null && now >= progress.firstFuture) return null;
  const window = windowMs(def.within);
  const fold = new TraitFold(def, now, progress);
  if (window !== undefined && progress.oldestDue !== null && now >= progress.oldestDue + window) {
    const left = fold.slide(log, windowStart(window, progress.at) as number, progress.at);
    // What is left of a min or max is known only while its extreme stayed: else only the window's events tell.
    if ((def.op === "min" && left.min) || (def.op === "max" && left.max)) return null;
  }
  const query = { event: def.event, since: fold.since };
  for (const event of log.appended) if (matchesQuery(query, event)) fold.take(event, true);
  const result = fold.result();
  return result.progress ? { ...result, progress: result.progress } : null;
}

/** The loop of one computed trait over matching events. */
class TraitFold {
  readonly since: number | undefined;
  private readonly window: number | undefined;
  private readonly path;
  /** count, sum, avg, min, max: their totals so far. */
  private readonly totals: RunningTotals | null;
  /** most_frequent, unique_list, unique_count: the values so far. */
  private readonly tally: Tally | null;
  /**
   * Ranks events on one instant in the tally. A full fold reads newest first (the later stored first on one instant),
   * so its ranks fall from 0; events carried in come in the order they were stored, ranked upwards from 1.
   */
  private order: number;
  /** first, last: the value once found. */
  private held: { value: unknown } | null = null;
  private oldestDue: number | null;
  private firstFuture: number | null;

  constructor(
    private readonly def: ComputedTraitDefinition,
    private readonly now: number,
    from?: TraitProgress,
  ) {
    this.window = windowMs(def.within);
    this.since = windowStart(this.window, now);
    this.path = def.property === undefined ? undefined : parsePropertyPath(def.property);
    // A memo is read, never changed (a write that rolls back may evaluate from it again): its state is copied.
    const totals = from?.totals;
    this.totals = !isRunningOp(def.op) ? null : totals ? { ...totals, partials: [...totals.partials] } : emptyTotals();
    this.tally = !isTallyOp(def.op) ? null : from?.tally ? structuredClone(from.tally) : new Map();
    this.order = from ? from.nextOrder : 0;
    this.oldestDue = from?.oldestDue ?? null;
    this.firstFuture = from?.firstFuture ?? null;
  }

  /** The value `event` brings to the trait wherever it is dated (`undefined`: none, filtered out or not set). */
  private valueOf(event: StoredEvent): unknown {
    if (!matchesWhere(this.def.where, event)) return undefined;
    const value = this.path ? readEventPath(event, this.path) : true;
    return contributes(this.def.op, value) ? value : undefined;
  }

  /**
   * `first` (read oldest first) and `last` (newest first) hold their value once one is due: the events after it in
   * that order change neither it nor its next change (it leaving the window; a future event matters only without it).
   */
  get settled(): boolean {
    return this.held !== null;
  }

  /** Takes in one event: newest first in a full fold, in the order they were stored when carried forward. */
  take(event: StoredEvent, carried = false): void {
    if (this.since !== undefined && event.timestamp < this.since) return;
    const value = this.valueOf(event);
    if (value === undefined) return;
    if (event.timestamp > this.now) {
      this.firstFuture = earliest(this.firstFuture, event.timestamp);
      return;
    }
    this.oldestDue = this.oldestDue === null ? event.timestamp : Math.min(this.oldestDue, event.timestamp);
    if (this.totals) addToTotals(this.totals, value);
    else if (this.tally) addToTally(this.tally, value, event.timestamp, carried ? ++this.order : this.order--);
    else this.held = { value };
  }

  /**
   * Moves what was carried from `at` (its window then began at `since`) to this fold's window: takes out the events
   * that left it (count, sum and the tally exactly), finds the oldest of those that stay (the next to leave), and says
   * whether the minimum or maximum was among those that left (then the totals' `min` or `max` no longer holds).
   */
  slide(log: LogSince, since: number, at: number): { min: boolean; max: boolean } {
    const { totals, tally } = this;
    const to = this.since as number;
    const left = { min: false, max: false };
    for (const event of log.earlier({ event: this.def.event, from: since, to })) {
      const value = event.timestamp <= at ? this.valueOf(event) : undefined;
      if (value === undefined) continue;
      if (tally) removeFromTally(tally, value);
      if (!totals) continue;
      totals.n--;
      if (typeof value !== "number") continue;
      addExact(totals.partials, -value);
      if (value === totals.min) left.min = true;
      if (value === totals.max) left.max = true;
    }
    this.oldestDue = null;
    for (const event of log.earlier({ event: this.def.event, from: to, to: at + 1 })) {
      if (this.valueOf(event) === undefined) continue;
      this.oldestDue = event.timestamp;
      break;
    }
    return left;
  }

  result(): TraitResult & { progress: TraitProgress | null } {
    const { def, totals, tally, oldestDue, firstFuture, now } = this;
    const value = totals
      ? totalsValue(def.op as RunningOp, totals)
      : tally
        ? tallyValue(def.op as TallyOp, tally)
        : (this.held?.value ?? null);
    const progress =
      totals || (tally && carriesTally(tally))
        ? {
            at: now,
            oldestDue,
            firstFuture,
            nextOrder: Math.max(this.order, 0),
            ...(totals ? { totals } : {}),
            ...(tally ? { tally } : {}),
          }
        : null;
    return { value, nextChangeAt: nextChange(oldestDue, firstFuture, this.window), progress };
  }
}

/**
 * A tally is carried while it stays small: a trait over a value that is new on nearly every event (an order id)
 * would make the memo as large as the log, and storing it (`trait-memo.ts`) as costly as reading the log again.
 */
const MAX_CARRIED_VALUES = 1_000;
const MAX_CARRIED_TEXT = 64 * 1024;

function carriesTally(tally: Tally): boolean {
  if (tally.size > MAX_CARRIED_VALUES) return false;
  let text = 0;
  for (const key of tally.keys()) text += key.length;
  return text <= MAX_CARRIED_TEXT;
}

/** When time alone can next change a value: its oldest event leaving the window, or a future one coming due. */
function nextChange(oldestDue: number | null, firstFuture: number | null, window: number | undefined): number | null {
  return earliest(window !== undefined && oldestDue !== null ? oldestDue + window : null, firstFuture);
}
