import type { Message } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { failingStorage, memoryStorage } from "../test-support/fakes";
import { ITEM_TTL_MS, Queue } from "./queue";

const msg = (id: string): Message => ({ type: "track", event: "E", messageId: id, anonymousId: "a" });

describe("Queue", () => {
  it("writes each item to storage on enqueue and replays it in a new page", async () => {
    const store = memoryStorage();
    await new Queue(store, 1000).push({ m: msg("m1"), t: 1 });
    const replay = await new Queue(store, 1000).load(2);
    expect(replay.map(([k]) => k)).toEqual(["m1"]);
  });
  it("drops the oldest items beyond the cap", async () => {
    const store = memoryStorage();
    const q = new Queue(store, 3);
    for (let i = 0; i < 5; i++) await q.push({ m: msg(`m${i}`), t: i });
    expect((await q.load(10)).map(([k]) => k)).toEqual(["m2", "m3", "m4"]);
    expect((await store.entries()).length).toBe(3);
  });
  it("discards items older than the TTL on replay", async () => {
    const store = memoryStorage();
    await new Queue(store, 10).push({ m: msg("old"), t: 0 });
    await new Queue(store, 10).push({ m: msg("new"), t: ITEM_TTL_MS });
    expect((await new Queue(store, 10).load(ITEM_TTL_MS + 1)).map(([k]) => k)).toEqual(["new"]);
  });
  it("keeps items in memory when storage fails (quota) and never throws", async () => {
    const q = new Queue(failingStorage(), 10);
    await q.push({ m: msg("m1"), t: 1 });
    expect((await q.load(2)).map(([k]) => k)).toEqual(["m1"]);
    await expect(q.remove(["m1"])).resolves.toBeUndefined();
  });
  it("forgets persisted items another tab delivered", async () => {
    const store = memoryStorage();
    const mine = new Queue(store, 10);
    await mine.push({ m: msg("m1"), t: 1 });
    const other = new Queue(store, 10);
    await other.load(2);
    await other.remove(["m1"]);
    expect(await mine.load(3)).toEqual([]);
  });
});
