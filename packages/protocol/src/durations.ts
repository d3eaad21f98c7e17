/** Durations of definition windows (`"90s"`, `"30d"`, DESIGN §6), read once into milliseconds. */
import { MAX_WINDOW_DAYS } from "./audience-limits";
import { describeValue } from "./json-object";

/** `<n><unit>`: a whole number and one of s, m, h, d, w. */
export const DURATION_PATTERN = /^([0-9]+)([smhdw])$/;

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 } as const;

/** The longest window, in milliseconds. */
export const MAX_WINDOW_MS = MAX_WINDOW_DAYS * UNIT_MS.d;

/**
 * Milliseconds of a duration, or undefined when `text` is not one. Zero and over-long windows are parsed (the
 * grammar refuses them with their own reasons).
 *
 * @example durationMs("30d") // 2_592_000_000
 */
export function durationMs(text: string): number | undefined {
  const match = DURATION_PATTERN.exec(text);
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

/** Why `input` is not a usable window, or undefined when it is one. */
export function durationProblem(input: unknown): string | undefined {
  const shown =
    typeof input === "string"
      ? JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}…` : input)
      : typeof input === "number"
        ? String(input)
        : describeValue(input);
  const ms = typeof input === "string" ? durationMs(input) : undefined;
  // The wording is DESIGN §6's own example, which clients may match on.
  if (ms === undefined) return `${shown} is not a duration`;
  if (ms === 0) return `${shown} is an empty window; it must be longer than zero`;
  if (ms > MAX_WINDOW_MS) return `${shown} is longer than the ${MAX_WINDOW_DAYS}d cap on windows`;
  return undefined;
}
