/**
 * Audience membership and computed traits of one profile at an instant `now` (DESIGN §6), with the next instant
 * any of them can change by time alone: the ProfileDO runs this in the commit of each event (or trait change,
 * merge, import) and sets its one alarm to the returned `nextChangeAt`. Pure: the profile comes in as
 * {@link ProfileFacts}, so the DO backs it with SQL and tests with memory.
 */
import type { AudienceDefinition, AudienceNode, ComputedTraitDefinition } from "@tessera/protocol";
import { dependencyOrder } from "./audience-graph";
import { carryTrait, foldTrait, type LogSince, type TraitProgress } from "./compute-trait";
import { compare } from "./conditions";
import { evaluateEventNode, type TestResult } from "./event-node";
import { traitValue } from "./paths";
import type { LogPosition, ProfileFacts } from "./profile-facts";
import { earliest } from "./windows";

export { computeTrait, type TraitResult } from "./compute-trait";
export type { EventQuery, ProfileFacts, StoredEvent } from "./profile-facts";

/** Whether the profile is a member now, and the next instant that can change by time alone (`null`: never). */
export interface AudienceResult {
  member: boolean;
  nextChangeAt: number | null;
}

/** What one evaluation reads besides the profile's events and traits. */
interface Inputs {
  facts: ProfileFacts;
  computed: Readonly<Record<string, unknown>>;
  memberships: ReadonlySet<string>;
  now: number;
}

/**
 * Evaluates one audience definition. `computed` holds the profile's computed-trait values and `memberships` the
 * audiences it is in (both as of `now`). `nextChangeAt` covers this definition's own event nodes; the computed
 * traits and audiences it refers to change on their own schedule, which {@link evaluateAll} folds in.
 * Every child of all/any is evaluated (no short-circuit), since a child that does not decide the answer now may
 * be the one whose window flips first.
 *
 * @example evaluateAudience({ not: { event: "Email Opened", within: "60d" } }, facts, {}, new Set(), Date.now())
 */
export function evaluateAudience(
  definition: AudienceNode,
  facts: ProfileFacts,
  computed: Readonly<Record<string, unknown>>,
  memberships: ReadonlySet<string>,
  now: number,
): AudienceResult {
  const result = test(definition, { facts, computed, memberships, now });
  return { member: result.holds, nextChangeAt: result.nextChangeAt };
}

function test(node: AudienceNode, inputs: Inputs): TestResult {
  if ("all" in node || "any" in node) {
    const children = "all" in node ? node.all : node.any;
    const results = children.map((child) => test(child, inputs));
    const holds = "all" in node ? results.every((r) => r.holds) : results.some((r) => r.holds);
    return { holds, nextChangeAt: earliest(...results.map((r) => r.nextChangeAt)) };
  }
  if ("not" in node) {
    const inner = test(node.not, inputs);
    return { holds: !inner.holds, nextChangeAt: inner.nextChangeAt };
  }
  if ("event" in node) return evaluateEventNode(node, inputs.facts, inputs.now);
  if ("trait" in node) {
    return { holds: compare(node.op, traitValue(inputs.facts.traits, node.trait), node.value), nextChangeAt: null };
  }
  if ("computed" in node) {
    const value = Object.hasOwn(inputs.computed, node.computed) ? inputs.computed[node.computed] : undefined;
    return { holds: compare(node.op, value, node.value), nextChangeAt: null };
  }
  return { holds: inputs.memberships.has(node.audience), nextChangeAt: null };
}

/** Every definition of a workspace, by key, as the DO caches them. */
export interface DefinitionSet {
  computed: Readonly<Record<string, ComputedTraitDefinition>>;
  audiences: Readonly<Record<string, AudienceDefinition>>;
}

/**
 * What an evaluation leaves for the next one of the same profile to build on: where the event log stood, and the
 * progress of each computed trait that can be carried forward (`carryTrait`), with the definition it was made for —
 * the very object: the ProfileDO evaluates with the definitions it caches, and new definitions are new objects, so a
 * changed one (or any, after a definitions change) is recomputed once.
 */
export interface EvaluationMemo {
  log: LogPosition;
  traits: Readonly<Record<string, { definition: ComputedTraitDefinition; progress: TraitProgress }>>;
  /** Some trait's progress was made from the whole log this time, not carried: worth keeping (see `trait-memo.ts`). */
  recomputed: boolean;
}

/** The profile's computed traits, the audiences it is in, and the earliest instant any of them can change. */
export interface Evaluation {
  computed: Record<string, unknown>;
  audiences: Set<string>;
  nextChangeAt: number | null;
  /** For the next evaluation; absent when there is nothing to carry, or the facts have no log. */
  memo?: EvaluationMemo;
}

/**
 * Evaluates every definition at `now`: computed traits first (audiences read them), then audiences in dependency
 * order (an audience that refers to another runs after it and sees its fresh membership). `nextChangeAt` is the
 * earliest over all of them: the DO's one alarm. Given the `memo` of this profile's last evaluation, a computed trait
 * that can be carried forward reads only the events stored since (and those that left its window since), instead of
 * its whole window again.
 *
 * @example
 * const { computed, audiences, nextChangeAt } = evaluateAll({ computed: {}, audiences: { lapsed: def } }, facts, now);
 */
export function evaluateAll(
  definitions: DefinitionSet,
  facts: ProfileFacts,
  now: number,
  memo: EvaluationMemo | null = null,
): Evaluation {
  const computed: Record<string, unknown> = {};
  let nextChangeAt: number | null = null;
  const log = facts.log;
  const appended = memo && log ? log.appendedSince(memo.log) : null;
  const since: LogSince | null =
    memo && log && appended ? { appended, earlier: (query) => log.storedBetween(memo.log, query) } : null;
  const carried: Record<string, { definition: ComputedTraitDefinition; progress: TraitProgress }> = {};
  let recomputed = false;
  for (const key of Object.keys(definitions.computed).sort()) {
    const def = definitions.computed[key];
    const before = memo?.traits[key];
    const carriedForward = since && before?.definition === def ? carryTrait(def, before.progress, since, now) : null;
    const trait = carriedForward ?? foldTrait(def, facts, now);
    computed[key] = trait.value;
    nextChangeAt = earliest(nextChangeAt, trait.nextChangeAt);
    if (!trait.progress) continue;
    carried[key] = { definition: def, progress: trait.progress };
    if (!carriedForward) recomputed = true;
  }
  const audiences = new Set<string>();
  for (const key of dependencyOrder(definitions.audiences)) {
    const result = evaluateAudience(definitions.audiences[key], facts, computed, audiences, now);
    if (result.member) audiences.add(key);
    nextChangeAt = earliest(nextChangeAt, result.nextChangeAt);
  }
  const position = log && Object.keys(carried).length > 0 ? log.position() : null;
  return position
    ? { computed, audiences, nextChangeAt, memo: { log: position, traits: carried, recomputed } }
    : { computed, audiences, nextChangeAt };
}
