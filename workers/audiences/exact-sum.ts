/**
 * The correctly rounded sum of doubles, whatever their order: Shewchuk's algorithm as Python's `math.fsum` runs it
 * (non-overlapping partials; the final rounding half-even). A `sum` or `avg` computed trait is carried forward by
 * adding a profile's new events to what it had (`compute-trait.ts`) and recomputed from the whole log at other
 * times, in another order: with a plain `+=` the two could differ in the last bit, and a computed value that
 * flickers in its last bit is a change sent to every destination. Written here: a dozen lines of a well-known
 * algorithm, not worth a dependency.
 *
 * The partials hold the values scaled by 2^-64 (exact: a power of two). Unscaled, two values whose sum passes the
 * largest double (1e308 twice) made infinite partials, and the sum NaN from then on: [1e308, 1e308, -1e308] summed to
 * 1e308 in one order and to NaN in another, so a sum carried forward and the same sum recomputed disagreed. Scaled, no
 * sum of fewer than 2^63 values overflows on the way; only the result, scaled back, is infinite when it is past the
 * largest double. The price is the bits below 2^-1010 of a value (1e-304: none in any data a profile holds).
 */

const SCALE_DOWN = 2 ** -64;
const SCALE_UP = 2 ** 64;

/** Adds `x` to `partials` (kept in increasing magnitude, none overlapping) without losing a bit. */
export function addExact(partials: number[], value: number): void {
  let x = value * SCALE_DOWN;
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

/**
 * The sum the partials stand for, correctly rounded, divided by `per` (an average: divided before it is scaled back,
 * so the mean of finite values is finite however large their sum). Past the largest double: ±Infinity.
 *
 * @example exactSum(partialsOf([0.1, 0.2, -0.1])) // 0.2
 */
export function exactSum(partials: readonly number[], per = 1): number {
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
  return (hi / per) * SCALE_UP;
}

/** The partials of `values`. */
export function partialsOf(values: Iterable<number>): number[] {
  const partials: number[] = [];
  for (const v of values) addExact(partials, v);
  return partials;
}
