/**
 * Whether a definition may be saved (DESIGN §6), as a value the routes turn into `400 validation_error`.
 *
 * Two passes, each stopping at its first bad node in document order: the grammar (shapes, operators, durations and
 * the caps of `audience-limits.ts`: 50 nodes and conditions, depth 8, 10 event nodes, `count` ≤ 1000, `in` ≤ 100
 * values, windows ≤ 3650d, strings ≤ 1,000 characters, paths ≤ 10 segments), which is the same check the request
 * schemas make, then the references (unknown audiences or computed traits, cycles). So a route and this function
 * always name the same node. Messages read `definition.all[1].not.within: "60x" is not a duration`.
 */

import type { z } from "@hono/zod-openapi";
import { AudienceDefinition, type AudienceNode, ComputedTraitDefinition, type GrammarPath } from "@tessera/protocol";
import { fieldPath } from "../shared/validation-hook";
import { chainBetween, referencesOf } from "./audience-graph";

/** What the workspace already has, for reference checks. */
export interface DefinitionContext {
  /** The audience being created or updated: a reference back to it is a cycle. Left out for a preview. */
  key?: string;
  /** Every saved audience of the workspace → its definition. */
  audiences: ReadonlyMap<string, AudienceNode>;
  /** Every saved computed-trait key of the workspace. */
  computedTraits: ReadonlySet<string>;
}

export type DefinitionCheck<T> = { ok: true; value: T } | { ok: false; message: string };

const ROOT = "definition";

function failure(path: GrammarPath, message: string): { ok: false; message: string } {
  return { ok: false, message: `${fieldPath([ROOT, ...path])}: ${message}` };
}

function firstIssue(error: z.ZodError): { ok: false; message: string } {
  const [issue] = error.issues;
  return failure(issue.path as GrammarPath, issue.message);
}

/**
 * Checks an audience definition against the grammar and the workspace's audiences and computed traits.
 *
 * @example
 * validateAudienceDefinition({ not: { event: "Email Opened", within: "60x" } }, ctx)
 * // { ok: false, message: 'definition.not.within: "60x" is not a duration' }
 */
export function validateAudienceDefinition(
  definition: unknown,
  ctx: DefinitionContext,
): DefinitionCheck<AudienceDefinition> {
  const parsed = AudienceDefinition.safeParse(definition);
  if (!parsed.success) return firstIssue(parsed.error);
  for (const ref of referencesOf(parsed.data)) {
    if (ref.kind === "computed") {
      if (!ctx.computedTraits.has(ref.key)) return failure(ref.path, `unknown computed trait "${ref.key}"`);
      continue;
    }
    if (ref.key === ctx.key)
      return failure(ref.path, `"${ref.key}" is the audience being defined; it cannot contain itself`);
    if (!ctx.audiences.has(ref.key)) return failure(ref.path, `unknown audience "${ref.key}"`);
    if (ctx.key === undefined) continue;
    const chain = chainBetween(ref.key, ctx.key, (key) => ctx.audiences.get(key));
    if (chain) {
      const loop = [ctx.key, ...chain].join(" → ");
      return failure(ref.path, `"${ref.key}" refers back to "${ctx.key}" (${loop}); audiences cannot form a cycle`);
    }
  }
  return { ok: true, value: parsed.data };
}

/**
 * Checks a computed-trait definition. Computed traits refer to no other definition, so there is no context.
 *
 * @example
 * validateComputedTraitDefinition({ op: "sum", event: "Order Completed" })
 * // { ok: false, message: 'definition.property: is required for "sum"' }
 */
export function validateComputedTraitDefinition(definition: unknown): DefinitionCheck<ComputedTraitDefinition> {
  const parsed = ComputedTraitDefinition.safeParse(definition);
  return parsed.success ? { ok: true, value: parsed.data } : firstIssue(parsed.error);
}
