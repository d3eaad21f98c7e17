/**
 * Connected components of a resolve: inputs that share an identifier, or whose identifiers belong to the same
 * profile, must be planned together (a later one sees what an earlier one attached or merged). Inputs in different
 * components cannot affect each other, so each component is planned, guarded and written on its own: a conflict
 * with another writer re-plans only its component, and new people never wait for each other.
 */
import type { Identifier } from "@tessera/protocol";
import { type GraphSnapshot, keyOf } from "./graph-snapshot";
import type { ResolveInput } from "./identity-store";

/** Every key an input may touch: its identifiers, and its alias's `previousId` as a user id. */
export function keysOf(input: ResolveInput): Identifier[] {
  if (input.previousId === undefined) return input.identifiers;
  return [...input.identifiers, { type: "user_id", value: input.previousId }];
}

/**
 * The inputs' indices grouped by component, each group in input order, groups ordered by their first input.
 *
 * @example connectedComponents([input("m1", "anonymous_id:a"), input("m2", "anonymous_id:b")], snapshot) // [[0], [1]]
 */
export function connectedComponents(inputs: readonly ResolveInput[], snapshot: GraphSnapshot): number[][] {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    let root = x;
    for (let up = parent.get(root); up !== undefined && up !== root; up = parent.get(root)) root = up;
    // Path compression keeps later finds flat.
    for (let cur = x; cur !== root; ) {
      const next = parent.get(cur) as string;
      parent.set(cur, root);
      cur = next;
    }
    return root;
  };
  const union = (a: string, b: string) => {
    const ra = find(a);
    const rb = find(b);
    if (ra !== rb) parent.set(rb, ra);
  };
  const nodeOf = (id: Identifier) => {
    const key = `k${keyOf(id)}`;
    if (!parent.has(key)) parent.set(key, key);
    const owner = snapshot.owners.get(keyOf(id));
    if (owner !== undefined) {
      const profileNode = `p${owner}`;
      if (!parent.has(profileNode)) parent.set(profileNode, profileNode);
      union(profileNode, key);
    }
    return key;
  };
  const firstKey = inputs.map((input) => {
    const keys = keysOf(input).map(nodeOf);
    for (const k of keys.slice(1)) union(keys[0], k);
    return keys[0];
  });
  const groups = new Map<string, number[]>();
  for (const [i, key] of firstKey.entries()) {
    // An input without identifiers never reaches the store; keep it alone rather than fail.
    const root = key === undefined ? `input${i}` : find(key);
    const group = groups.get(root);
    if (group) group.push(i);
    else groups.set(root, [i]);
  }
  return [...groups.values()];
}

/** The part of `snapshot` that `inputs` (one component) can see. */
export function snapshotFor(snapshot: GraphSnapshot, inputs: readonly ResolveInput[]): GraphSnapshot {
  // Suppressions are few (only those among the keys read) and only ever looked up: shared as they are.
  const part: GraphSnapshot = { owners: new Map(), suppressed: snapshot.suppressed, profiles: new Map() };
  for (const input of inputs)
    for (const id of keysOf(input)) {
      const key = keyOf(id);
      const owner = snapshot.owners.get(key);
      if (owner !== undefined) {
        part.owners.set(key, owner);
        const profile = snapshot.profiles.get(owner);
        if (profile) part.profiles.set(owner, profile);
      }
    }
  return part;
}
