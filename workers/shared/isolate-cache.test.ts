import { describe, expect, it } from "vitest";
import { isolateCache } from "./isolate-cache";

describe("isolateCache", () => {
  it("shares one load among concurrent misses and hands it to the runtime to finish, whoever started it", async () => {
    let release!: (value: { n: number }) => void;
    let loads = 0;
    const kept: Promise<unknown>[] = [];
    const cache = isolateCache(
      () => {
        loads++;
        return new Promise<{ n: number }>((resolve) => {
          release = resolve;
        });
      },
      { keepAlive: (p) => kept.push(p) },
    );
    const a = cache.fetch("k", { context: undefined });
    const b = cache.fetch("k", { context: undefined });
    expect(loads).toBe(1);
    expect(kept).toHaveLength(1);
    let finished = false;
    void kept[0].then(() => {
      finished = true;
    });
    await new Promise((r) => setTimeout(r, 5));
    expect(finished).toBe(false);
    release({ n: 7 });
    expect(await a).toEqual({ n: 7 });
    expect(await b).toEqual({ n: 7 });
    expect(finished).toBe(true);
  });
});
