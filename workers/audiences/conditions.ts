/**
 * The comparison operators of DESIGN §6, shared by `where` conditions, trait nodes and computed nodes.
 * A missing value (absent or JSON null) fails every operator but `not_exists`. Numbers compare as numbers and
 * strings as strings (by UTF-16 code units, like SQLite's default collation, so ISO dates order correctly); a number
 * never equals or orders against a string, since guessing would make `"10" > 9` depend on who sent the data.
 */
import type { ConditionOp, ConditionValue, PropertyCondition } from "@tessera/protocol";
import { eventProperty } from "./paths";
import type { StoredEvent } from "./profile-facts";

/** Absent and `null` both mean "not set": a trait set to null is a cleared trait. */
export const isMissing = (value: unknown): value is null | undefined => value === undefined || value === null;

const sameScalar = (a: unknown, b: unknown) => typeof a === typeof b && a === b;

function ordered(actual: unknown, expected: unknown): number | undefined {
  if (typeof actual === "number" && typeof expected === "number") return actual - expected;
  if (typeof actual === "string" && typeof expected === "string")
    return actual < expected ? -1 : actual > expected ? 1 : 0;
  return undefined;
}

/**
 * Whether `actual` satisfies `op` against `expected` (a definition's checked `value`). `contains` is a substring
 * test on a string and a membership test on an array (`tags contains "vip"`).
 *
 * @example compare("gte", 120, 100) // true
 * @example compare("eq", "100", 100) // false: a string is not a number
 */
export function compare(op: ConditionOp, actual: unknown, expected?: ConditionValue | ConditionValue[]): boolean {
  if (op === "not_exists") return isMissing(actual);
  if (isMissing(actual)) return false;
  switch (op) {
    case "exists":
      return true;
    case "eq":
      return sameScalar(actual, expected);
    case "neq":
      return !sameScalar(actual, expected);
    case "gt":
    case "gte":
    case "lt":
    case "lte": {
      const order = ordered(actual, expected);
      if (order === undefined || Number.isNaN(order)) return false;
      return op === "gt" ? order > 0 : op === "gte" ? order >= 0 : op === "lt" ? order < 0 : order <= 0;
    }
    case "contains":
      if (typeof actual === "string") return typeof expected === "string" && actual.includes(expected);
      return Array.isArray(actual) && actual.some((item) => sameScalar(item, expected));
    case "starts_with":
      return typeof actual === "string" && typeof expected === "string" && actual.startsWith(expected);
    case "in":
      return Array.isArray(expected) && expected.some((item) => sameScalar(actual, item));
  }
}

/** Whether every condition of `where` holds on `event` (no conditions: it matches). */
export function matchesWhere(where: readonly PropertyCondition[] | undefined, event: StoredEvent): boolean {
  if (!where) return true;
  for (const condition of where) {
    if (!compare(condition.op, eventProperty(event, condition.property), condition.value)) return false;
  }
  return true;
}
