/**
 * A computed trait's value for one profile (DESIGN §6), and the next instant it can change with no new event:
 * when the oldest in-window event that feeds it leaves the window (at `t + within` exactly, see `windows.ts`), or
 * when an event dated in the future comes due. Only events with `timestamp <= now` count.
 */
import { type ComputedTraitDefinition, parsePropertyPath } from "@tessera/protocol";
import { matchesWhere } from "./conditions";
import { readEventPath } from "./paths";
import type { ProfileFacts } from "./profile-facts";
import { contributes, reduceTrait } from "./trait-ops";
import { earliest, windowMs, windowStart } from "./windows";

/** A computed value now, and when time alone may change it (`null`: never). */
export interface TraitResult {
  value: unknown;
  nextChangeAt: number | null;
}

/**
 * Computes `def` at `now` from the profile's matching events. `count` without a `property` counts matching events;
 * with one, the matching events where it is set. Other ops use the events where `property` is set (and, for
 * sum/avg/min/max, is a number).
 *
 * @example computeTrait({ op: "sum", event: "Order Completed", property: "revenue", within: "365d" }, facts, now)
 * // { value: 420.5, nextChangeAt: 1767225600000 }
 */
export function computeTrait(def: ComputedTraitDefinition, facts: ProfileFacts, now: number): TraitResult {
  const window = windowMs(def.within);
  const since = windowStart(window, now);
  const path = def.property === undefined ? undefined : parsePropertyPath(def.property);
  const values: unknown[] = [];
  let oldestDue: number | undefined;
  let firstFuture: number | null = null;
  for (const event of facts.events({ event: def.event, since })) {
    if (since !== undefined && event.timestamp < since) continue;
    if (!matchesWhere(def.where, event)) continue;
    const value = path ? readEventPath(event, path) : true;
    if (!contributes(def.op, value)) continue;
    if (event.timestamp > now) {
      firstFuture = earliest(firstFuture, event.timestamp);
      continue;
    }
    values.push(value);
    if (oldestDue === undefined || event.timestamp < oldestDue) oldestDue = event.timestamp;
  }
  const leaves = window !== undefined && oldestDue !== undefined ? oldestDue + window : null;
  return { value: reduceTrait(def.op, values), nextChangeAt: earliest(leaves, firstFuture) };
}
