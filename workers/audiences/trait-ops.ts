/**
 * The ten computed-trait ops of DESIGN §6 as folds over the values of the matching events. Empty input gives 0 for
 * count and sum and `null` for every other op (nothing to average, list or name). Every op but `first` and `last`
 * folds into state that more events can be added to, and taken out of, later: {@link RunningTotals} for the
 * arithmetic ops, a {@link Tally} for the ones that tell values apart.
 */
import { type ComputedTraitOp, MAX_UNIQUE_LIST, MAX_UNIQUE_LIST_BYTES } from "@tessera/protocol";
import { utf8Bytes } from "../shared/utf8";
import { addExact, exactSum } from "./exact-sum";

/** Values are told apart by their JSON text, so `1` and `"1"` are two values and equal objects are one. */
const identity = (value: unknown) => JSON.stringify(value);

/** Whether an event whose property holds `value` takes part in `op` (sum of a string: it does not). */
export function contributes(op: ComputedTraitOp, value: unknown): boolean {
  if (value === undefined || value === null) return false;
  if (op === "sum" || op === "avg" || op === "min" || op === "max")
    return typeof value === "number" && Number.isFinite(value);
  return true;
}

/** The ops whose value is a fold of running totals: order does not matter, and more events can be added later. */
export type RunningOp = "count" | "sum" | "avg" | "min" | "max";

export const isRunningOp = (op: ComputedTraitOp): op is RunningOp =>
  op === "count" || op === "sum" || op === "avg" || op === "min" || op === "max";

/** What a running op has taken in: how many values, their exact sum (`exact-sum.ts`) and extremes. */
export interface RunningTotals {
  n: number;
  partials: number[];
  min: number | null;
  max: number | null;
}

export const emptyTotals = (): RunningTotals => ({ n: 0, partials: [], min: null, max: null });

/** Takes in one contributing value (a number, but for count). */
export function addToTotals(totals: RunningTotals, value: unknown): void {
  totals.n++;
  if (typeof value !== "number") return;
  addExact(totals.partials, value);
  if (totals.min === null || value < totals.min) totals.min = value;
  if (totals.max === null || value > totals.max) totals.max = value;
}

/**
 * `x` to 15 significant digits, whole numbers as they are. Prices are decimal and doubles are binary: the exact sum
 * of 59.9 and 332.9 is 392.79999999999995, which a profile, the console and every vendor would show. A double holds 15
 * decimal digits faithfully; the digits past them are the noise of decimal fractions, not data.
 *
 * @example decimalClean(59.9 + 332.9) // 392.8
 */
export function decimalClean(x: number): number {
  return Number.isInteger(x) || !Number.isFinite(x) ? x : Number(x.toPrecision(15));
}

export function totalsValue(op: RunningOp, totals: RunningTotals): number | null {
  switch (op) {
    case "count":
      return totals.n;
    case "sum": {
      // A sum past the largest double has no value: JSON has no Infinity (the profile would show null while audiences,
      // the trait's size and previews counted a value), and no destination could take it.
      const sum = exactSum(totals.partials);
      return Number.isFinite(sum) ? decimalClean(sum) : null;
    }
    case "avg":
      return totals.n === 0 ? null : decimalClean(exactSum(totals.partials, totals.n));
    case "min":
      return totals.min;
    case "max":
      return totals.max;
  }
}

/** The ops that tell values apart: a {@link Tally} of them answers each. */
export type TallyOp = "most_frequent" | "unique_list" | "unique_count";

export const isTallyOp = (op: ComputedTraitOp): op is TallyOp =>
  op === "most_frequent" || op === "unique_list" || op === "unique_count";

/**
 * Each distinct value taken in (by its JSON text), how many times, and its latest occurrence: `ts`, then `order` for
 * events on one instant (the later stored is the later). Values come back from their text: they are JSON already.
 */
export type Tally = Map<string, { n: number; ts: number; order: number }>;

/** Takes in `value` of an event at `ts`; `order` ranks it among events on the same instant. */
export function addToTally(tally: Tally, value: unknown, ts: number, order: number): void {
  const key = identity(value);
  const seen = tally.get(key);
  if (!seen) tally.set(key, { n: 1, ts, order });
  else {
    seen.n++;
    if (ts > seen.ts || (ts === seen.ts && order > seen.order)) Object.assign(seen, { ts, order });
  }
}

/**
 * Takes out one occurrence of `value`, one of the oldest: what leaves a window. Its latest occurrence stays right:
 * the last occurrence of a value leaves only with all the others.
 */
export function removeFromTally(tally: Tally, value: unknown): void {
  const key = identity(value);
  const seen = tally.get(key);
  if (!seen) return;
  if (--seen.n === 0) tally.delete(key);
}

/**
 * `op` over a tally: the most frequent value (a tie goes to the most recent), the up to {@link MAX_UNIQUE_LIST} most
 * recent distinct values (within {@link MAX_UNIQUE_LIST_BYTES}), or how many distinct values.
 */
export function tallyValue(op: TallyOp, tally: Tally): unknown {
  if (tally.size === 0) return null;
  if (op === "unique_count") return tally.size;
  const entries = [...tally].sort(([, a], [, b]) => b.ts - a.ts || b.order - a.order);
  if (op === "unique_list") return mostRecent(entries);
  let best = entries[0];
  for (const entry of entries) if (entry[1].n > best[1].n) best = entry;
  return JSON.parse(best[0]);
}

/**
 * The most recent values of `entries` (newest first) that fit a unique_list: a value too large for the room left is
 * skipped and takes no place among the {@link MAX_UNIQUE_LIST}, so one large value neither ends the list nor hides the
 * values older than it. Null when not even one fits, as for no value: an empty list would count as a value for an
 * `exists` audience but not for the trait's size.
 */
function mostRecent(entries: Array<[string, unknown]>): unknown[] | null {
  const list: unknown[] = [];
  // "[" and "]", and a comma before every value but the first.
  let bytes = 1;
  for (const [key] of entries) {
    if (list.length === MAX_UNIQUE_LIST) break;
    const size = utf8Bytes(key) + 1;
    if (bytes + size > MAX_UNIQUE_LIST_BYTES) continue;
    bytes += size;
    list.push(JSON.parse(key));
  }
  return list.length > 0 ? list : null;
}
