/**
 * The correctly rounded sum of doubles, whatever their order: Shewchuk's algorithm as Python's `math.fsum` runs it
 * (non-overlapping partials; the final rounding half-even). A `sum` or `avg` computed trait is carried forward by
 * adding a profile's new events to what it had (`running-trait.ts`) and recomputed from the whole log at other
 * times, in another order: with a plain `+=` the two could differ in the last bit, and a computed value that
 * flickers in its last bit is a change sent to every destination. Written here: a dozen lines of a well-known
 * algorithm, not worth a dependency.
 */

/** Adds `x` to `partials` (kept in increasing magnitude, none overlapping) without losing a bit. */
export function addExact(partials: number[], x: number): void {
  let i = 0;
  for (let j = 0; j < partials.length; j++) {
    let y = partials[j];
    if (Math.abs(x) < Math.abs(y)) [x, y] = [y, x];
    const hi = x + y;
    const lo = y - (hi - x);
    if (lo !== 0) partials[i++] = lo;
    x = hi;
  }
  partials.length = i;
  partials.push(x);
}

/** The sum the partials stand for, correctly rounded. @example exactSum(partialsOf([0.1, 0.2, -0.1])) // 0.2 */
export function exactSum(partials: readonly number[]): number {
  let n = partials.length;
  if (n === 0) return 0;
  let hi = partials[--n];
  let lo = 0;
  while (n > 0) {
    const x = hi;
    const y = partials[--n];
    hi = x + y;
    lo = y - (hi - x);
    if (lo !== 0) break;
  }
  // Half-even: when the rest of the partials push the same way as `lo`, the rounding of `hi` was a tie to undo.
  if (n > 0 && ((lo < 0 && partials[n - 1] < 0) || (lo > 0 && partials[n - 1] > 0))) {
    const y = lo * 2;
    const x = hi + y;
    if (y === x - hi) hi = x;
  }
  return hi;
}

/** The partials of `values`. */
export function partialsOf(values: Iterable<number>): number[] {
  const partials: number[] = [];
  for (const v of values) addExact(partials, v);
  return partials;
}
