/**
 * The leaves of the definitions grammar (DESIGN §6): `where` conditions and the `op`/`value` pairs of conditions,
 * trait nodes and computed nodes, paths, event names, windows and counts. Each check returns the first problem
 * with its path, or undefined; `audience-grammar.ts` walks the nodes around them.
 */
import { MAX_COUNT_VALUE, MAX_DEFINITION_NODES, MAX_DEFINITION_STRING, MAX_IN_VALUES } from "./audience-limits";
import { CONDITION_OPS, COUNT_OPS, type ConditionOpName, valueKindOf } from "./audience-ops";
import { durationProblem } from "./durations";
import { describeValue, isPlainObject, type JsonObject } from "./json-object";
import { MAX_EVENT_NAME_LENGTH } from "./limits";
import { pathProblem } from "./property-paths";

/** Keys and array indexes from the definition's root to the bad node. */
export type GrammarPath = (string | number)[];

/** The first thing wrong with a definition. */
export interface GrammarIssue {
  path: GrammarPath;
  message: string;
}

export type Issue = GrammarIssue | undefined;

/** What the walk has seen so far, for the caps that span the whole definition. */
export interface Budget {
  nodes: number;
  events: number;
}

const CONDITION_FIELDS = ["property", "op", "value"];
const COUNT_FIELDS = ["op", "value"];

export const at = (path: GrammarPath, message: string): GrammarIssue => ({ path, message });
/** The bad value as the message shows it; long strings cut, so a reason stays one readable line. */
export function quoted(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if ((typeof value === "number" && Number.isFinite(value)) || typeof value === "boolean") return String(value);
  return describeValue(value);
}

export const nodeCapMessage = `exceeds the cap of ${MAX_DEFINITION_NODES} nodes and conditions (each is tested on every evaluation)`;

export function checkPath(input: unknown, kind: "property" | "trait", path: GrammarPath, requiredBy?: string): Issue {
  if (input === undefined && requiredBy) return at(path, `is required for ${requiredBy}`);
  const problem = pathProblem(input, kind);
  return problem ? at(path, problem) : undefined;
}

export function checkEventName(holder: JsonObject, path: GrammarPath): Issue {
  const name = holder.event;
  if (typeof name !== "string" || name === "") return at(path, 'must be an event name, or "*" for any track event');
  if (name.length > MAX_EVENT_NAME_LENGTH) return at(path, `is longer than ${MAX_EVENT_NAME_LENGTH} characters`);
  return undefined;
}

export function checkWithin(input: unknown, path: GrammarPath): Issue {
  const problem = durationProblem(input);
  return problem ? at(path, problem) : undefined;
}

export function checkCount(input: unknown, path: GrammarPath): Issue {
  if (!isPlainObject(input)) return at(path, `must be an object {"op", "value"}, not ${quoted(input)}`);
  const unknown = Object.keys(input).find((key) => !COUNT_FIELDS.includes(key));
  if (unknown !== undefined) return at([...path, unknown], 'is not a field (a count has "op" and "value")');
  if (!COUNT_OPS.includes(input.op as never)) {
    const said = input.op === undefined ? "is required" : `${quoted(input.op)} is not a count operator`;
    return at([...path, "op"], `${said} (one of ${COUNT_OPS.join(", ")})`);
  }
  const { value } = input;
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > MAX_COUNT_VALUE) {
    return at(
      [...path, "value"],
      `must be a whole number from 0 to ${MAX_COUNT_VALUE} (the cap: deciding a count reads up to that many events)`,
    );
  }
  return undefined;
}

export function checkWhere(input: unknown, path: GrammarPath, budget: Budget): Issue {
  if (!Array.isArray(input)) return at(path, `must be an array of conditions, not ${quoted(input)}`);
  for (const [i, condition] of input.entries()) {
    const here = [...path, i];
    if (!isPlainObject(condition))
      return at(here, `must be a condition {"property", "op", "value"}, not ${quoted(condition)}`);
    if (++budget.nodes > MAX_DEFINITION_NODES) return at(here, nodeCapMessage);
    const unknown = Object.keys(condition).find((key) => !CONDITION_FIELDS.includes(key));
    if (unknown !== undefined)
      return at([...here, unknown], `is not a field (a condition has ${CONDITION_FIELDS.join(", ")})`);
    const issue = checkPath(condition.property, "property", [...here, "property"]) ?? checkOpValue(condition, here);
    if (issue) return issue;
  }
  return undefined;
}

/** `op` and `value` of a condition, a trait node or a computed node. */
export function checkOpValue(holder: JsonObject, path: GrammarPath): Issue {
  const { op } = holder;
  if (!CONDITION_OPS.includes(op as never)) {
    const said = op === undefined ? "is required" : `${quoted(op)} is not an operator`;
    return at([...path, "op"], `${said} (one of ${CONDITION_OPS.join(", ")})`);
  }
  const name = op as ConditionOpName;
  const here = [...path, "value"];
  const { value } = holder;
  const present = Object.hasOwn(holder, "value");
  const kind = valueKindOf(name);
  if (kind === "none") return present ? at(here, `must be left out: "${name}" takes no value`) : undefined;
  if (!present) return at(here, `is required for "${name}"`);
  switch (kind) {
    case "list":
      if (!Array.isArray(value) || value.length === 0)
        return at(here, `must be an array of 1 to ${MAX_IN_VALUES} values for "in"`);
      if (value.length > MAX_IN_VALUES) {
        return at(here, `has ${value.length} values, over the cap of ${MAX_IN_VALUES} per "in"`);
      }
      for (const [i, item] of value.entries()) {
        const issue = checkScalar(item, [...here, i], `an item of "in"`);
        if (issue) return issue;
      }
      return undefined;
    case "ordered":
      if (typeof value !== "number" && typeof value !== "string") {
        return at(here, `must be a number or a string for "${name}", not ${quoted(value)}`);
      }
      return checkScalar(value, here, `"${name}"`);
    case "string":
      if (typeof value !== "string") return at(here, `must be a string for "${name}", not ${quoted(value)}`);
      return checkScalar(value, here, `"${name}"`);
    case "scalar":
      return checkScalar(value, here, `"${name}"`);
  }
}

function checkScalar(value: unknown, path: GrammarPath, what: string): Issue {
  if (typeof value === "string") {
    return value.length > MAX_DEFINITION_STRING
      ? at(path, `is longer than the ${MAX_DEFINITION_STRING}-character cap on values`)
      : undefined;
  }
  if ((typeof value === "number" && Number.isFinite(value)) || typeof value === "boolean") return undefined;
  const hint = value === null ? ' (use "not_exists" for a missing value)' : "";
  return at(path, `must be a string, a number or a boolean for ${what}, not ${quoted(value)}${hint}`);
}
