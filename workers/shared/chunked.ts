/**
 * Consecutive chunks of `items` whose `weight`s add up to at most `size` each (an item heavier than that alone), and
 * of at most `maxItems` items when given: a vendor call's batch, a job within its count and byte limits.
 *
 * @example chunked(contacts, 100, () => 1) // batches of 100
 * @example chunked(profiles, 5_000_000, jsonBytes, 10_000) // ≤ 5 MB and ≤ 10,000 profiles each
 */
export function chunked<T>(items: T[], size: number, weight: (item: T) => number, maxItems = Infinity): T[][] {
  const chunks: T[][] = [];
  let current: T[] = [];
  let load = 0;
  for (const item of items) {
    const w = weight(item);
    if (current.length > 0 && (load + w > size || current.length >= maxItems)) {
      chunks.push(current);
      current = [];
      load = 0;
    }
    current.push(item);
    load += w;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
