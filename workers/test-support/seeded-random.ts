/** A deterministic generator in [0, 1) (Park–Miller), so a randomized test's failure names a reproducible history. */
export function seededRandom(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 16807) % 2147483647;
    return state / 2147483647;
  };
}
