/**
 * Patterns a workspace configures (identity rules' `blocked_values`) run on every identifier of every message, so
 * they must not be able to stall the Worker: a backtracking engine takes 11 s on `^(a+)+$` against 31 `a`s and a
 * `!` (issue 10, finding 3). Custom patterns therefore run on RE2JS, which matches in linear time and refuses what
 * needs backtracking (backreferences, lookaround). Tessera's own default patterns are plain anchored literals and
 * classes, safe on V8's engine, which is ~25× faster: they stay there.
 */
import { RE2JS } from "re2js";
import { DEFAULT_BLOCKED_VALUES } from "./identifier-values";

/** A compiled, case-insensitive pattern. */
export interface SafePattern {
  /** Whether the pattern matches anywhere in `value`, like `RegExp.prototype.test`. */
  test(value: string): boolean;
}

/**
 * Compiles `source` case-insensitively; `trusted` sources (shipped with Tessera, reviewed) use V8's engine.
 * Throws `SyntaxError` naming the problem when RE2 cannot compile it.
 *
 * @example compileSafePattern("^(a+)+$").test("a".repeat(31) + "!") // false, in microseconds
 */
export function compileSafePattern(source: string, trusted: ReadonlySet<string> = new Set()): SafePattern {
  if (trusted.has(source)) return new RegExp(source, "i");
  let re: RE2JS;
  try {
    re = RE2JS.compile(source, RE2JS.CASE_INSENSITIVE);
  } catch (err) {
    throw new SyntaxError((err as Error).message.replace(/^error parsing regexp: /, ""));
  }
  return { test: (value) => re.matcher(value).find() };
}

/** Tessera's own blocked values: reviewed, so they may run on V8's faster engine. */
const SHIPPED_PATTERNS: ReadonlySet<string> = new Set(DEFAULT_BLOCKED_VALUES);

/**
 * Which of identity rules' `blocked_values` a normalised value matches (the source), or null: the sources compiled
 * once, Tessera's defaults on V8's engine, the rest on RE2. A source RE2 cannot compile goes to `onInvalid`, which
 * returns the pattern to use in its place (or throws to refuse the list; the default).
 *
 * @example blockedValueMatcher(DEFAULT_BLOCKED_VALUES)("NULL") // "^null$"
 */
export function blockedValueMatcher(
  sources: readonly string[],
  onInvalid: (source: string, err: SyntaxError) => SafePattern = (_source, err) => {
    throw err;
  },
): (value: string) => string | null {
  const patterns = sources.map((source) => {
    try {
      return compileSafePattern(source, SHIPPED_PATTERNS);
    } catch (err) {
      return onInvalid(source, err as SyntaxError);
    }
  });
  return (value) => {
    for (const [i, pattern] of patterns.entries()) if (pattern.test(value)) return sources[i];
    return null;
  };
}

/** Why `source` cannot be a pattern (RE2 syntax), or null when it can. */
export function patternProblem(source: string): string | null {
  try {
    compileSafePattern(source);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}
