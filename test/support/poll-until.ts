/** Options of {@link pollUntil}. */
export interface PollOptions {
  /** Give up after this many milliseconds. */
  within: number;
  /** Pause between attempts, in milliseconds (default 50). */
  every?: number;
}

/**
 * Calls `read` until `done` accepts its answer, and returns that answer; throws with the last answer once `within`
 * has passed. For what the platform makes true a little later (an alarm, a queue, a D1 write after a commit):
 * tests wait exactly as long as it takes and fail with what they last saw.
 *
 * @example
 * const profile = await pollUntil(() => readProfile(ref), (p) => p.audiences.length > 0, { within: 8_000 });
 */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  { within, every = 50 }: PollOptions,
): Promise<T> {
  const deadline = Date.now() + within;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`still not there after ${within} ms; last answer: ${JSON.stringify(value).slice(0, 1000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, every));
  }
}
