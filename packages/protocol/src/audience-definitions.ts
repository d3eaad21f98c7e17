/**
 * The definitions grammar of DESIGN §6 as schemas: audience NODEs, property conditions, durations and computed-trait
 * definitions. The two roots (`AudienceDefinition`, `ComputedTraitDefinition`) run the grammar walk
 * (`audience-grammar.ts`) before their structural check, so a bad definition fails with the path of its first bad node
 * and a reason a person can act on; the structural schemas give the types and the OpenAPI document.
 */
import { z } from "zod";
import { checkAudienceDefinition, checkComputedTraitDefinition, type GrammarIssue } from "./audience-grammar";
import {
  DEFINITION_KEY_PATTERN,
  MAX_COUNT_VALUE,
  MAX_DEFINITION_STRING,
  MAX_IN_VALUES,
  MAX_UNIQUE_LIST,
  MAX_UNIQUE_LIST_BYTES,
} from "./audience-limits";
import { COMPUTED_TRAIT_OPS, CONDITION_OPS, COUNT_OPS } from "./audience-ops";
import { DURATION_PATTERN, durationProblem } from "./durations";
import { MAX_EVENT_NAME_LENGTH } from "./limits";

const keyReason = "must be a key: lowercase letters, digits and _, starting with a letter, at most 64 characters";

/** The key of an audience or computed trait, in definitions and in the API. */
export const DefinitionKey = z.string({ error: keyReason }).regex(DEFINITION_KEY_PATTERN, { error: keyReason }).meta({
  id: "DefinitionKey",
  description: "Lowercase letters, digits and _, starting with a letter (at most 64): unique in the workspace.",
  example: "lapsed_store_buyers",
});
export type DefinitionKey = z.infer<typeof DefinitionKey>;

/** A duration: `"<n>s|m|h|d|w"`. @example Duration.parse("30d") */
export const Duration = z
  .string({ error: (issue) => durationProblem(issue.input) })
  .regex(DURATION_PATTERN, { error: (issue) => durationProblem(issue.input) })
  .superRefine((value, ctx) => {
    const problem = durationProblem(value);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  })
  .meta({
    id: "Duration",
    description: "A window: a whole number then s, m, h, d or w (at most 3650d).",
    example: "30d",
  });
export type Duration = z.infer<typeof Duration>;

export const ConditionOp = z.enum(CONDITION_OPS).meta({
  id: "ConditionOp",
  description: "`exists`/`not_exists` take no value, `in` an array; a missing value fails every op but `not_exists`.",
});
export type ConditionOp = z.infer<typeof ConditionOp>;

export const ConditionValue = z
  .union([z.string().max(MAX_DEFINITION_STRING), z.number(), z.boolean()])
  .meta({ id: "ConditionValue", description: "Numbers compare as numbers, strings as strings (case-sensitive)." });
export type ConditionValue = z.infer<typeof ConditionValue>;

const comparison = {
  op: ConditionOp,
  value: z.union([ConditionValue, z.array(ConditionValue).min(1).max(MAX_IN_VALUES)]).optional(),
};

/** @example PropertyCondition.parse({ property: "channel", op: "eq", value: "pos" }) */
export const PropertyCondition = z
  .strictObject({
    property: z.string().min(1).max(MAX_DEFINITION_STRING).meta({
      description:
        'A dotted path into the event\'s `properties`, or into the event itself after `$` ("$context.page.path").',
      example: "channel",
    }),
    ...comparison,
  })
  .meta({ id: "PropertyCondition", description: "A test of one property of an event." });
export type PropertyCondition = z.infer<typeof PropertyCondition>;

export const CountCondition = z
  .strictObject({ op: z.enum(COUNT_OPS), value: z.int().min(0).max(MAX_COUNT_VALUE) })
  .meta({ id: "CountCondition", description: "How many matching events an event node needs (default: gte 1)." });
export type CountCondition = z.infer<typeof CountCondition>;

const eventName = z
  .string()
  .min(1)
  .max(MAX_EVENT_NAME_LENGTH)
  .meta({ description: 'A track event name, or "*" for any track event.', example: "Order Completed" });
const where = z.array(PropertyCondition).meta({ description: "Conditions on the event; all must hold." });

/**
 * One node of an audience definition: a boolean combination (all/any/not) of tests on traits, computed traits,
 * events and other audiences. Recursive (the getters defer the self-reference).
 */
export const AudienceNode = z
  .union([
    z.strictObject({
      get all(): z.ZodArray<typeof AudienceNode> {
        return z.array(AudienceNode).min(1);
      },
    }),
    z.strictObject({
      get any(): z.ZodArray<typeof AudienceNode> {
        return z.array(AudienceNode).min(1);
      },
    }),
    z.strictObject({
      get not(): typeof AudienceNode {
        return AudienceNode;
      },
    }),
    z.strictObject({ trait: z.string().min(1).max(MAX_DEFINITION_STRING), ...comparison }),
    z.strictObject({ computed: DefinitionKey, ...comparison }),
    z.strictObject({
      event: eventName,
      where: where.optional(),
      within: Duration.optional(),
      count: CountCondition.optional(),
    }),
    z.strictObject({ audience: DefinitionKey }),
  ])
  .meta({ id: "AudienceNode", description: "One node of an audience definition (DESIGN §6)." });
export type AudienceNode = z.infer<typeof AudienceNode>;
export type AllNode = Extract<AudienceNode, { all: unknown }>;
export type AnyNode = Extract<AudienceNode, { any: unknown }>;
export type NotNode = Extract<AudienceNode, { not: unknown }>;
export type TraitNode = Extract<AudienceNode, { trait: unknown }>;
export type ComputedNode = Extract<AudienceNode, { computed: unknown }>;
export type EventNode = Extract<AudienceNode, { event: unknown }>;
export type AudienceRefNode = Extract<AudienceNode, { audience: unknown }>;

/** zod's step that runs the grammar walk and reports its first issue at its path, before the structural check. */
function grammarGate(check: (input: unknown) => GrammarIssue | undefined) {
  return (input: unknown, ctx: { issues: z.core.$ZodRawIssue[] }) => {
    const issue = check(input);
    if (issue) ctx.issues.push({ code: "custom", message: issue.message, path: issue.path, input });
    return input;
  };
}

/**
 * An audience definition: the root NODE, checked by the grammar walk (first bad node, with its path).
 *
 * @example AudienceDefinition.parse({ all: [{ event: "Order Completed", within: "30d" }, { not: { event: "Email Opened", within: "60d" } }] })
 */
export const AudienceDefinition = z
  .preprocess(grammarGate(checkAudienceDefinition), AudienceNode)
  .meta({ id: "AudienceDefinition", description: "Who is in an audience: a NODE (DESIGN §6)." });
export type AudienceDefinition = z.infer<typeof AudienceDefinition>;

export const ComputedTraitOp = z.enum(COMPUTED_TRAIT_OPS).meta({ id: "ComputedTraitOp" });
export type ComputedTraitOp = z.infer<typeof ComputedTraitOp>;

/** @example ComputedTraitDefinition.parse({ op: "sum", event: "Order Completed", property: "revenue", within: "365d" }) */
export const ComputedTraitDefinition = z
  .preprocess(
    grammarGate(checkComputedTraitDefinition),
    z.strictObject({
      op: ComputedTraitOp,
      event: eventName,
      property: z.string().min(1).max(MAX_DEFINITION_STRING).optional().meta({
        description: "Dotted path into `properties` (or the event after `$`); required for every op but `count`.",
      }),
      where: where.optional(),
      within: Duration.optional(),
    }),
  )
  .meta({
    id: "ComputedTraitDefinition",
    description:
      "A value computed from a profile's matching events: numbers for count/sum/avg/min/max/unique_count (0 for an " +
      "empty count or sum, null otherwise and for a sum past the largest number), the value for " +
      "first/last/most_frequent (ties: most recent), and up to " +
      `${MAX_UNIQUE_LIST} values (and ${MAX_UNIQUE_LIST_BYTES} bytes of JSON), most recent first, for unique_list ` +
      "(a value too large for what room is left is skipped).",
  });
export type ComputedTraitDefinition = z.infer<typeof ComputedTraitDefinition>;
