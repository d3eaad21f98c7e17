/**
 * Time in definitions. Time is always the event's own timestamp, never when Tessera received it, so imported
 * history and live events mean the same. Windows are exact to the millisecond: an event at `t` counts for a window
 * `W` from `t` (events dated after `now` do not count yet) while `now < t + W`; at `t + W` it is out. A value that
 * can change with no new event reports the instant it can, and `null` means never.
 */
import { durationMs } from "@tessera/protocol";

/** A definition's window in ms; `undefined` (no `within`) is all history. Definitions are checked, so it parses. */
export function windowMs(within: string | undefined): number | undefined {
  return within === undefined ? undefined : durationMs(within);
}

/** The oldest timestamp still inside `window` at `now`: `t > now - W`, in whole milliseconds. */
export function windowStart(window: number | undefined, now: number): number | undefined {
  return window === undefined ? undefined : now - window + 1;
}

/** The earliest of `times`, ignoring `null`s; `null` when all are. @example earliest(null, 5, 3) // 3 */
export function earliest(...times: (number | null | undefined)[]): number | null {
  let first: number | null = null;
  for (const t of times) if (t != null && (first === null || t < first)) first = t;
  return first;
}
