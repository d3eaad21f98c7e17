/**
 * An event node (DESIGN §6): does the number of matching events, within the window when given, satisfy `count`?
 * And when will that answer flip with no new event: as in-window events age out (at `t + within` exactly, see
 * `windows.ts`), or as events dated in the future come due.
 */
import type { CountCondition, EventNode } from "@tessera/protocol";
import { matchesWhere } from "./conditions";
import type { ProfileFacts } from "./profile-facts";
import { windowMs, windowStart } from "./windows";

/** A boolean test's answer now, and the next instant it can change by time alone (`null`: never). */
export interface TestResult {
  holds: boolean;
  nextChangeAt: number | null;
}

const DEFAULT_COUNT: CountCondition = { op: "gte", value: 1 };

/** `count` compared with `count.value`. */
export function countHolds(count: CountCondition, n: number): boolean {
  switch (count.op) {
    case "eq":
      return n === count.value;
    case "neq":
      return n !== count.value;
    case "gt":
      return n > count.value;
    case "gte":
      return n >= count.value;
    case "lt":
      return n < count.value;
    case "lte":
      return n <= count.value;
  }
}

/**
 * Evaluates `node` at `now`. Reads events newest first and stops after `count.value + 1` that are due: every count
 * above `value` answers every comparison the same way, and the flip instants depend only on those newest events
 * (older ones leave the window first), which is what bounds an event node's cost (`MAX_COUNT_VALUE`).
 *
 * @example evaluateEventNode({ event: "Email Opened", within: "60d" }, facts, Date.now()) // { holds, nextChangeAt }
 */
export function evaluateEventNode(node: EventNode, facts: ProfileFacts, now: number): TestResult {
  const count = node.count ?? DEFAULT_COUNT;
  const window = windowMs(node.within);
  const since = windowStart(window, now);
  const due: number[] = [];
  const future: number[] = [];
  for (const event of facts.events({ event: node.event, since })) {
    if (since !== undefined && event.timestamp < since) continue;
    if (!matchesWhere(node.where, event)) continue;
    if (event.timestamp > now) {
      future.push(event.timestamp);
      continue;
    }
    due.push(event.timestamp);
    if (due.length > count.value) break;
  }
  const holds = countHolds(count, due.length);
  return { holds, nextChangeAt: flipInstant(count, holds, due, future, window) };
}

/**
 * Replays the count forward in time (due events leaving the window, future ones arriving and later leaving) and
 * returns the first instant the answer differs from `holds`. Simultaneous steps apply together, so an event leaving
 * as another arrives is no flip.
 */
function flipInstant(
  count: CountCondition,
  holds: boolean,
  due: number[],
  future: number[],
  window: number | undefined,
): number | null {
  const steps: [at: number, delta: number][] = [];
  if (window !== undefined) for (const t of due) steps.push([t + window, -1]);
  for (const t of future) {
    steps.push([t, 1]);
    if (window !== undefined) steps.push([t + window, -1]);
  }
  steps.sort((a, b) => a[0] - b[0]);
  let n = due.length;
  for (let i = 0; i < steps.length; ) {
    const at = steps[i][0];
    for (; i < steps.length && steps[i][0] === at; i++) n += steps[i][1];
    if (countHolds(count, n) !== holds) return at;
  }
  return null;
}
