import { describe, expect, it } from "vitest";
import { AdaptiveConcurrency } from "./adaptive-concurrency";

/** Acquires `n` slots (each must be granted at once) and returns their tickets. */
async function take(window: AdaptiveConcurrency, n: number): Promise<number[]> {
  return Promise.all(Array.from({ length: n }, () => window.acquire()));
}

describe("AdaptiveConcurrency", () => {
  it("starts at its ceiling and halves on a refusal, down to one", async () => {
    const shrinks: string[] = [];
    const window = new AdaptiveConcurrency({ max: 8, onShrink: (limit, was) => shrinks.push(`${was}→${limit}`) });
    expect(window.limit).toBe(8);
    for (let i = 0; i < 5; i++) window.done(await window.acquire(), "refused");
    expect(window.limit).toBe(1);
    expect(shrinks).toEqual(["8→4", "4→2", "2→1"]);
  });

  it("shrinks once for the refusals of requests that were in flight together", async () => {
    const window = new AdaptiveConcurrency({ max: 8 });
    const tickets = await take(window, 8);
    for (const ticket of tickets) window.done(ticket, "refused");
    expect(window.limit).toBe(4);
    // A request sent after the shrink and refused too: the server is still overloaded.
    window.done(await window.acquire(), "refused");
    expect(window.limit).toBe(2);
    // Answers that say nothing about load change nothing.
    window.done(await window.acquire(), "other");
    expect(window.limit).toBe(2);
  });

  it("holds a request back until one in flight ends, retries included", async () => {
    const window = new AdaptiveConcurrency({ max: 2 });
    const [first, second] = await take(window, 2);
    let third = false;
    const waiting = window.acquire().then(() => {
      third = true;
    });
    await Promise.resolve();
    expect(third).toBe(false);
    window.done(first, "refused");
    // The window is now 1 and one request is still in flight: still no room.
    await Promise.resolve();
    expect(third).toBe(false);
    window.done(second, "refused");
    await waiting;
    expect(third).toBe(true);
    expect(window.limit).toBe(1);
  });

  it("grows by one request per window of answers, up to its ceiling", async () => {
    const window = new AdaptiveConcurrency({ max: 6 });
    window.done(await window.acquire(), "refused");
    expect(window.limit).toBe(3);
    for (let i = 0; i < 3; i++) window.done(await window.acquire(), "answered");
    expect(window.limit).toBe(4);
    for (let i = 0; i < 4; i++) window.done(await window.acquire(), "answered");
    expect(window.limit).toBe(5);
    for (let i = 0; i < 100; i++) window.done(await window.acquire(), "answered");
    expect(window.limit).toBe(6);
  });
});
