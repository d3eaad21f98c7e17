/**
 * The ten computed-trait ops of DESIGN §6 over the values of the matching events, newest first. Empty input gives
 * 0 for count and sum and `null` for every other op (nothing to average, list or name).
 */
import { type ComputedTraitOp, MAX_UNIQUE_LIST } from "@tessera/protocol";
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

/**
 * `op` over `values` (newest first, each one that `contributes`); count, sum, avg, min and max are folds of
 * {@link RunningTotals} instead.
 *
 * @example reduceTrait("most_frequent", ["b", "a", "b", "a"]) // "b": a tie goes to the most recent
 */
export function reduceTrait(op: Exclude<ComputedTraitOp, RunningOp>, values: readonly unknown[]): unknown {
  switch (op) {
    case "first":
      return values.length === 0 ? null : values[values.length - 1];
    case "last":
      return values.length === 0 ? null : values[0];
    case "most_frequent":
      return mostFrequent(values);
    case "unique_list":
      return values.length === 0 ? null : uniqueNewestFirst(values, MAX_UNIQUE_LIST);
    case "unique_count":
      return values.length === 0 ? null : new Set(values.map(identity)).size;
  }
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

export function totalsValue(op: RunningOp, totals: RunningTotals): number | null {
  switch (op) {
    case "count":
      return totals.n;
    case "sum":
      return exactSum(totals.partials);
    case "avg":
      return totals.n === 0 ? null : exactSum(totals.partials) / totals.n;
    case "min":
      return totals.min;
    case "max":
      return totals.max;
  }
}

function mostFrequent(values: readonly unknown[]): unknown {
  const counts = new Map<string, { value: unknown; n: number }>();
  for (const value of values) {
    const key = identity(value);
    const seen = counts.get(key);
    if (seen) seen.n++;
    else counts.set(key, { value, n: 1 });
  }
  // Map order is first appearance, newest first: a strict `>` keeps the most recent of tied values.
  let best: { value: unknown; n: number } | undefined;
  for (const entry of counts.values()) if (!best || entry.n > best.n) best = entry;
  return best ? best.value : null;
}

function uniqueNewestFirst(values: readonly unknown[], max: number): unknown[] {
  const seen = new Set<string>();
  const list: unknown[] = [];
  for (const value of values) {
    const key = identity(value);
    if (seen.has(key)) continue;
    seen.add(key);
    list.push(value);
    if (list.length === max) break;
  }
  return list;
}
