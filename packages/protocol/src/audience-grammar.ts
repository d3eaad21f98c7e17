/**
 * The definitions grammar of DESIGN §6 as one walk that stops at the first bad node, in document order, and says
 * where it is and what is wrong: `all[1].not.within` + `"60x" is not a duration`. The schemas in `audiences.ts` run
 * it before their own (structural) check, so a request body fails with this message at this path, and zod's
 * generic union message ("Invalid input") is never what a client reads. Caps are in `audience-limits.ts`.
 * Paths are relative to the definition; callers root them (`definition.…`).
 */
import { DEFINITION_KEY_PATTERN, MAX_DEFINITION_DEPTH, MAX_DEFINITION_NODES, MAX_EVENT_NODES } from "./audience-limits";
import { COMPUTED_TRAIT_OPS, NODE_KINDS, type NodeKind } from "./audience-ops";
import {
  at,
  type Budget,
  checkCount,
  checkEventName,
  checkOpValue,
  checkPath,
  checkWhere,
  checkWithin,
  type GrammarIssue,
  type GrammarPath,
  type Issue,
  nodeCapMessage,
  quoted,
} from "./condition-grammar";
import { isPlainObject, type JsonObject } from "./json-object";

export type { GrammarIssue, GrammarPath } from "./condition-grammar";

const NODE_FIELDS: Record<NodeKind, readonly string[]> = {
  all: ["all"],
  any: ["any"],
  not: ["not"],
  trait: ["trait", "op", "value"],
  computed: ["computed", "op", "value"],
  event: ["event", "where", "within", "count"],
  audience: ["audience"],
};
const COMPUTED_TRAIT_FIELDS = ["op", "event", "property", "where", "within"];

/**
 * The first problem of an audience definition (a NODE of §6), or undefined when it is valid. References to other
 * audiences and computed traits are only checked for their form here: whether they exist is the caller's question.
 *
 * @example checkAudienceDefinition({ all: [{ trait: "plan", op: "eq", value: "pro" }, { not: { event: "x", within: "60x" } }] })
 * // { path: ["all", 1, "not", "within"], message: '"60x" is not a duration' }
 */
export function checkAudienceDefinition(input: unknown): GrammarIssue | undefined {
  return checkNode(input, [], 1, { nodes: 0, events: 0 });
}

/**
 * The first problem of a computed-trait definition (`{op, event, property?, where?, within?}`), or undefined.
 *
 * @example checkComputedTraitDefinition({ op: "sum", event: "Order Completed" })
 * // { path: ["property"], message: 'is required for "sum"' }
 */
export function checkComputedTraitDefinition(input: unknown): GrammarIssue | undefined {
  if (!isPlainObject(input))
    return at([], input === undefined ? "is required" : `must be an object, not ${quoted(input)}`);
  const unknown = Object.keys(input).find((key) => !COMPUTED_TRAIT_FIELDS.includes(key));
  if (unknown !== undefined)
    return at([unknown], `is not a field (a computed trait has ${COMPUTED_TRAIT_FIELDS.join(", ")})`);
  const { op } = input;
  if (!Object.hasOwn(input, "op")) return at(["op"], `is required (one of ${COMPUTED_TRAIT_OPS.join(", ")})`);
  if (!COMPUTED_TRAIT_OPS.includes(op as never)) {
    return at(["op"], `${quoted(op)} is not a computed-trait op (one of ${COMPUTED_TRAIT_OPS.join(", ")})`);
  }
  const budget = { nodes: 0, events: 0 };
  return (
    checkEventName(input, ["event"]) ??
    (Object.hasOwn(input, "property") || op !== "count"
      ? checkPath(input.property, "property", ["property"], `"${op}"`)
      : undefined) ??
    optional(input, "where", (where) => checkWhere(where, ["where"], budget)) ??
    optional(input, "within", (within) => checkWithin(within, ["within"]))
  );
}

function optional(holder: JsonObject, field: string, check: (value: unknown) => Issue): Issue {
  return Object.hasOwn(holder, field) ? check(holder[field]) : undefined;
}

function checkNode(input: unknown, path: GrammarPath, depth: number, budget: Budget): Issue {
  if (!isPlainObject(input)) {
    return at(path, input === undefined ? "is required" : `must be a node (an object), not ${quoted(input)}`);
  }
  if (depth > MAX_DEFINITION_DEPTH) return at(path, `exceeds the cap of ${MAX_DEFINITION_DEPTH} levels of nesting`);
  if (++budget.nodes > MAX_DEFINITION_NODES) return at(path, nodeCapMessage);
  const kinds = NODE_KINDS.filter((kind) => Object.hasOwn(input, kind));
  if (kinds.length === 0) return at(path, `must have one of ${NODE_KINDS.join(", ")}`);
  if (kinds.length > 1) {
    return at(path, `has both "${kinds[0]}" and "${kinds[1]}"; a node is exactly one of ${NODE_KINDS.join(", ")}`);
  }
  const kind = kinds[0];
  const fields = NODE_FIELDS[kind];
  const unknown = Object.keys(input).find((key) => !fields.includes(key));
  if (unknown !== undefined) {
    return at([...path, unknown], `is not a field (${article(kind)} ${kind} node has ${fields.join(", ")})`);
  }
  switch (kind) {
    case "all":
    case "any":
      return checkNodeList(input[kind], [...path, kind], depth, budget);
    case "not":
      return checkNode(input.not, [...path, "not"], depth + 1, budget);
    case "trait":
      return checkPath(input.trait, "trait", [...path, "trait"]) ?? checkOpValue(input, path);
    case "computed":
      return checkKey(input.computed, "computed trait", [...path, "computed"]) ?? checkOpValue(input, path);
    case "audience":
      return checkKey(input.audience, "audience", [...path, "audience"]);
    case "event":
      if (++budget.events > MAX_EVENT_NODES) {
        return at(
          path,
          `exceeds the cap of ${MAX_EVENT_NODES} event nodes (each reads the event log on every evaluation)`,
        );
      }
      return (
        checkEventName(input, [...path, "event"]) ??
        optional(input, "where", (where) => checkWhere(where, [...path, "where"], budget)) ??
        optional(input, "within", (within) => checkWithin(within, [...path, "within"])) ??
        optional(input, "count", (count) => checkCount(count, [...path, "count"]))
      );
  }
}

const article = (word: string) => (/^[aeiou]/.test(word) ? "an" : "a");

function checkNodeList(input: unknown, path: GrammarPath, depth: number, budget: Budget): Issue {
  if (!Array.isArray(input)) return at(path, `must be an array of nodes, not ${quoted(input)}`);
  if (input.length === 0) return at(path, "must list at least one node");
  for (const [i, child] of input.entries()) {
    const issue = checkNode(child, [...path, i], depth + 1, budget);
    if (issue) return issue;
  }
  return undefined;
}

function checkKey(input: unknown, what: string, path: GrammarPath): Issue {
  if (typeof input === "string" && DEFINITION_KEY_PATTERN.test(input)) return undefined;
  const form = "lowercase letters, digits and _, starting with a letter, at most 64";
  return at(path, `${quoted(input)} is not ${article(what)} ${what} key (${form})`);
}
