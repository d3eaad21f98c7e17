/** The words of the definitions grammar (DESIGN §6), shared by the schemas and the grammar check. */

/** Operators of `where` conditions, trait nodes and computed nodes. */
export const CONDITION_OPS = [
  "eq",
  "neq",
  "gt",
  "gte",
  "lt",
  "lte",
  "contains",
  "starts_with",
  "exists",
  "not_exists",
  "in",
] as const;
export type ConditionOpName = (typeof CONDITION_OPS)[number];

/** Operators an event node's `count` compares with. */
export const COUNT_OPS = ["eq", "neq", "gt", "gte", "lt", "lte"] as const;
export type CountOpName = (typeof COUNT_OPS)[number];

/** What a computed trait computes over its matching events. */
export const COMPUTED_TRAIT_OPS = [
  "count",
  "sum",
  "avg",
  "min",
  "max",
  "most_frequent",
  "first",
  "last",
  "unique_list",
  "unique_count",
] as const;
export type ComputedTraitOpName = (typeof COMPUTED_TRAIT_OPS)[number];

/** The key that says what an audience node is: a node has exactly one. */
export const NODE_KINDS = ["all", "any", "not", "trait", "computed", "event", "audience"] as const;
export type NodeKind = (typeof NODE_KINDS)[number];

/** Which `value` each condition operator takes. */
export function valueKindOf(op: ConditionOpName): "none" | "scalar" | "ordered" | "string" | "list" {
  switch (op) {
    case "exists":
    case "not_exists":
      return "none";
    case "gt":
    case "gte":
    case "lt":
    case "lte":
      return "ordered";
    case "starts_with":
      return "string";
    case "in":
      return "list";
    default:
      return "scalar";
  }
}
