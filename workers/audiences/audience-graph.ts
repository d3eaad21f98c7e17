/**
 * How definitions refer to each other: an audience node may name another audience or a computed trait. Validation
 * uses this to reject unknown names and cycles; evaluation to run audiences after the ones they depend on.
 */
import type { AudienceNode, GrammarPath } from "@tessera/protocol";

/** A name a definition uses, and where (relative to the definition's root). */
export interface Reference {
  kind: "audience" | "computed";
  key: string;
  path: GrammarPath;
}

/**
 * Every reference in `node`, in document order.
 *
 * @example referencesOf({ all: [{ audience: "vip" }] }) // [{ kind: "audience", key: "vip", path: ["all", 0, "audience"] }]
 */
export function referencesOf(node: AudienceNode, path: GrammarPath = []): Reference[] {
  if ("all" in node) return node.all.flatMap((child, i) => referencesOf(child, [...path, "all", i]));
  if ("any" in node) return node.any.flatMap((child, i) => referencesOf(child, [...path, "any", i]));
  if ("not" in node) return referencesOf(node.not, [...path, "not"]);
  if ("audience" in node) return [{ kind: "audience", key: node.audience, path: [...path, "audience"] }];
  if ("computed" in node) return [{ kind: "computed", key: node.computed, path: [...path, "computed"] }];
  return [];
}

/** The audiences `node` refers to, each once. */
export function audiencesReferenced(node: AudienceNode): string[] {
  return [...new Set(referencesOf(node).flatMap((ref) => (ref.kind === "audience" ? [ref.key] : [])))];
}

/**
 * A chain of references from audience `from` to audience `to` (`[from, …, to]`), or undefined when there is none.
 * Unknown audiences on the way end their branch: they are reported elsewhere.
 */
export function chainBetween(
  from: string,
  to: string,
  definitionOf: (key: string) => AudienceNode | undefined,
): string[] | undefined {
  const visited = new Set<string>();
  const walk = (key: string): string[] | undefined => {
    if (key === to) return [key];
    if (visited.has(key)) return undefined;
    visited.add(key);
    const node = definitionOf(key);
    if (!node) return undefined;
    for (const next of audiencesReferenced(node)) {
      const rest = walk(next);
      if (rest) return [key, ...rest];
    }
    return undefined;
  };
  return walk(from);
}

/**
 * Audience keys ordered so each comes after every audience it refers to (ties alphabetical, so the order is
 * stable). References to audiences not in `audiences` are ignored (they evaluate as "not a member").
 * A cycle can only come from a definition that skipped validation: that is a bug, and it throws.
 */
export function dependencyOrder(audiences: Readonly<Record<string, AudienceNode>>): string[] {
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (key: string, trail: string[]) => {
    const seen = state.get(key);
    if (seen === "done") return;
    if (seen === "visiting") throw new Error(`audience cycle: ${[...trail, key].join(" → ")}`);
    state.set(key, "visiting");
    for (const next of audiencesReferenced(audiences[key])) {
      if (Object.hasOwn(audiences, next)) visit(next, [...trail, key]);
    }
    state.set(key, "done");
    order.push(key);
  };
  for (const key of Object.keys(audiences).sort()) visit(key, []);
  return order;
}
