/**
 * The ten computed-trait ops of DESIGN §6 over the values of the matching events, newest first. Empty input gives
 * 0 for count and sum and `null` for every other op (nothing to average, list or name).
 */
import { type ComputedTraitOp, MAX_UNIQUE_LIST } from "@tessera/protocol";

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
 * `op` over `values` (newest first, each one that `contributes`).
 *
 * @example reduceTrait("most_frequent", ["b", "a", "b", "a"]) // "b": a tie goes to the most recent
 */
export function reduceTrait(op: ComputedTraitOp, values: readonly unknown[]): unknown {
  switch (op) {
    case "count":
      return values.length;
    case "sum":
      return sum(values as number[]);
    case "avg":
      return values.length === 0 ? null : sum(values as number[]) / values.length;
    case "min":
    case "max":
      return extreme(op, values as number[]);
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

function sum(values: readonly number[]): number {
  let total = 0;
  for (const v of values) total += v;
  return total;
}

/** A loop rather than `Math.min(...values)`: spreading a long history overflows the call stack. */
function extreme(op: "min" | "max", values: readonly number[]): number | null {
  let best: number | null = null;
  for (const v of values) if (best === null || (op === "min" ? v < best : v > best)) best = v;
  return best;
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
