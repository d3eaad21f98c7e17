import { describe, expect, it } from "vitest";
import { GroupCommit, type Linger } from "./group-commit";

/** A `work` function whose calls wait until released, recording what each was given. */
function gatedWork() {
  const calls: number[][] = [];
  const gates: Array<() => void> = [];
  const work = async (all: number[]) => {
    calls.push(all);
    await new Promise<void>((r) => gates.push(r));
    if (all.includes(-1)) throw new Error("bad item");
    return all.map((x) => x * 10);
  };
  const openNext = async () => {
    while (gates.length === 0) await new Promise((r) => setTimeout(r, 0));
    gates.shift()?.();
  };
  const running = async (n: number) => {
    while (calls.length < n) await new Promise((r) => setTimeout(r, 0));
  };
  /** Opens every gate, as calls come, until `done` settles. */
  const openUntil = async <T>(done: Promise<T>): Promise<T> => {
    let settled = false;
    void done.finally(() => {
      settled = true;
    });
    while (!settled) {
      gates.shift()?.();
      await new Promise((r) => setTimeout(r, 0));
    }
    return done;
  };
  return { calls, work, openNext, running, openUntil };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const NO_LINGER: Linger = { ms: 0, burstGapMs: 0 };

describe("GroupCommit", () => {
  it("hands every group to the runtime to finish, until its work and the groups queued before it are done", async () => {
    const { work, openNext, running } = gatedWork();
    const kept: Promise<unknown>[] = [];
    const commit = new GroupCommit<number, number>(
      5_000,
      NO_LINGER,
      () => 1,
      (p) => kept.push(p),
    );
    const first = commit.run("ws", [1], work);
    await running(1);
    const second = commit.run("ws", [2], work);
    // One per group, each from its leader's request: the second's waits for the first's group as well as its own.
    expect(kept).toHaveLength(2);
    const done = kept.map(() => false);
    kept.forEach((p, i) => void p.then(() => (done[i] = true)));
    await sleep(5);
    expect(done).toEqual([false, false]);
    await openNext();
    expect(await first).toEqual([10]);
    await sleep(5);
    expect(done).toEqual([true, false]);
    await openNext();
    expect(await second).toEqual([20]);
    await sleep(5);
    expect(done).toEqual([true, true]);
  });

  it("runs the first call at once and the calls that arrive meanwhile as one, each getting its own outputs", async () => {
    const commit = new GroupCommit<number, number>();
    const { calls, work, openNext, running } = gatedWork();
    const first = commit.run("k", [1], work);
    await running(1);
    const second = commit.run("k", [2, 3], work);
    const third = commit.run("k", [4], work);
    await openNext();
    await openNext();
    expect(await first).toEqual([10]);
    expect(await second).toEqual([20, 30]);
    expect(await third).toEqual([40]);
    expect(calls).toEqual([[1], [2, 3, 4]]);
  });

  it("lets calls made in the same turn as the first join it", async () => {
    const commit = new GroupCommit<number, number>();
    const { calls, work, openNext } = gatedWork();
    const runs = [commit.run("k", [1], work), commit.run("k", [2], work)];
    await openNext();
    expect(await Promise.all(runs)).toEqual([[10], [20]]);
    expect(calls).toEqual([[1, 2]]);
  });

  it("keeps keys apart, and caps a waiting group's size", async () => {
    const commit = new GroupCommit<number, number>(2);
    const { calls, work, openNext } = gatedWork();
    const runs = [
      commit.run("a", [1], work),
      commit.run("b", [2], work),
      commit.run("a", [3, 4], work),
      commit.run("a", [5], work),
    ];
    for (let i = 0; i < 4; i++) await openNext();
    expect(await Promise.all(runs)).toEqual([[10], [20], [30, 40], [50]]);
    expect(calls).toEqual([[1], [2], [3, 4], [5]]);
  });

  it("weighs items when told to: a group takes calls while their weight fits, a heavy call runs alone", async () => {
    const commit = new GroupCommit<number, number>(10, NO_LINGER, (n) => n);
    const { calls, work, openNext } = gatedWork();
    const runs = [
      commit.run("a", [5], work),
      commit.run("a", [4], work),
      commit.run("a", [3, 2], work),
      commit.run("a", [6], work),
      commit.run("a", [12], work),
    ];
    for (let i = 0; i < 4; i++) await openNext();
    await Promise.all(runs);
    // By count all four waiting calls would be one group; by weight: 5+4, then 3+2 (6 more would pass 10), 6, 12.
    expect(calls).toEqual([[5, 4], [3, 2], [6], [12]]);
  });

  it("fails every call of a failing group, and serves the next group normally", async () => {
    const commit = new GroupCommit<number, number>();
    const { work, openNext, running } = gatedWork();
    const first = commit.run("k", [1], work);
    await running(1);
    const settled = Promise.allSettled([commit.run("k", [-1], work), commit.run("k", [2], work)]);
    await openNext();
    await openNext();
    expect(await first).toEqual([10]);
    const [bad, sameGroup] = await settled;
    expect(bad).toMatchObject({ status: "rejected", reason: new Error("bad item") });
    expect(sameGroup).toMatchObject({ status: "rejected", reason: new Error("bad item") });
    const later = commit.run("k", [3], work);
    await openNext();
    expect(await later).toEqual([30]);
  });

  it("in a burst, lingers so that calls arriving just after the previous group ended join one group", async () => {
    const grouped = async (linger: Linger) => {
      const commit = new GroupCommit<number, number>(5_000, linger);
      const { calls, work, openUntil } = gatedWork();
      await openUntil(commit.run("k", [1], work));
      // Right after a group ended: two calls a few milliseconds apart, as a burst's next requests arrive.
      const second = commit.run("k", [2], work);
      await sleep(5);
      const third = commit.run("k", [3], work);
      expect(await openUntil(Promise.all([second, third]))).toEqual([[20], [30]]);
      return calls;
    };
    // Generous times: a loaded machine may fire the 5 ms sleep late.
    expect(await grouped({ ms: 1_000, burstGapMs: 60_000 })).toEqual([[1], [2, 3]]);
    expect(await grouped(NO_LINGER)).toEqual([[1], [2], [3]]);
  });

  it("does not linger with a group that is already full", async () => {
    const commit = new GroupCommit<number, number>(2, { ms: 60_000, burstGapMs: 60_000 });
    const { calls, work, openUntil, running } = gatedWork();
    await openUntil(commit.run("k", [1], work));
    const full = commit.run("k", [2, 3], work);
    await Promise.race([running(2), sleep(2_000).then(() => expect.fail("a full group lingered"))]);
    expect(await openUntil(full)).toEqual([20, 30]);
    expect(calls).toEqual([[1], [2, 3]]);
  });

  it("runs at once when the key has been idle longer than the burst gap", async () => {
    const commit = new GroupCommit<number, number>(5_000, { ms: 60_000, burstGapMs: 20 });
    const { calls, work, openNext, running } = gatedWork();
    const first = commit.run("k", [1], work);
    await openNext();
    await first;
    await sleep(50);
    const later = commit.run("k", [2], work);
    // A group that lingered would not call `work` for a minute.
    await Promise.race([running(2), sleep(2_000).then(() => expect.fail("the group lingered on an idle key"))]);
    await openNext();
    expect(await later).toEqual([20]);
    expect(calls).toEqual([[1], [2]]);
  });
});
