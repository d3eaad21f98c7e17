import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { freshId, identify, ingestInput, track } from "../test-support/messages";
import type { ProfileDO } from "./profile-do";
import { profileStub } from "./profile-stub";

describe("ProfileDO.ingest", () => {
  it("answers missing before the first ingest", async () => {
    const stub = profileStub(env.PROFILE, freshId("prf"));
    expect(await stub.getProfile()).toEqual({ status: "missing" });
    expect(await stub.listEvents({ limit: 10 })).toEqual({ status: "missing" });
  });

  it("stores a duplicate messageId once, within a batch and across batches", async () => {
    const id = freshId("prf");
    const stub = profileStub(env.PROFILE, id);
    const a = track("Viewed", "2026-01-01T00:00:00.000Z");
    const b = track("Clicked", "2026-01-01T00:01:00.000Z");
    expect(await stub.ingest(ingestInput(id, [a, b, a]))).toEqual({ status: "stored", inserted: 2, duplicates: 1 });
    // A retried delivery gets a new receivedAt and even a different corrected timestamp: still the same event.
    const retry = { ...b, receivedAt: "2026-01-02T00:00:00.000Z", timestamp: "2026-01-01T00:02:00.000Z" };
    expect(await stub.ingest(ingestInput(id, [retry]))).toEqual({ status: "stored", inserted: 0, duplicates: 1 });
    const read = await stub.listEvents({ limit: 100 });
    if (read.status !== "ok") throw new Error(read.status);
    expect(read.page.data.map((e) => e.messageId)).toEqual([b.messageId, a.messageId]);
    const profile = await stub.getProfile();
    if (profile.status !== "ok") throw new Error(profile.status);
    expect(profile.profile.event_count).toBe(2);
    expect(profile.profile.last_seen).toBe("2026-01-01T00:01:00.000Z");
  });

  it("keeps counters, first/last seen by event time and created/updated by write time", async () => {
    const id = freshId("prf");
    const stub = profileStub(env.PROFILE, id);
    const before = Date.now();
    await stub.ingest(
      ingestInput(id, [track("A", "2026-03-05T10:00:00.000Z"), track("B", "2026-03-01T10:00:00.000Z")]),
    );
    // An older event arriving later (offline queue) moves first_seen back, not last_seen.
    await stub.ingest(ingestInput(id, [track("C", "2026-02-01T00:00:00.000Z")]));
    const read = await stub.getProfile();
    if (read.status !== "ok") throw new Error(read.status);
    const p = read.profile;
    expect(p.id).toBe(id);
    expect(p.event_count).toBe(3);
    expect(p.first_seen).toBe("2026-02-01T00:00:00.000Z");
    expect(p.last_seen).toBe("2026-03-05T10:00:00.000Z");
    expect(Date.parse(p.created_at)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(p.updated_at)).toBeGreaterThanOrEqual(Date.parse(p.created_at));
    expect(p.computed).toEqual({});
    expect(p.audiences).toEqual([]);
    expect(p.merged_from).toEqual([]);
  });

  it("attaches identifiers once and keeps the earliest first_seen", async () => {
    const id = freshId("prf");
    const stub = profileStub(env.PROFILE, id);
    const at = Date.parse("2026-01-10T00:00:00.000Z");
    await stub.ingest(ingestInput(id, [], [{ type: "anonymous_id", value: "a-1", firstSeen: at }]));
    await stub.ingest(
      ingestInput(
        id,
        [identify({ name: "Jane" }, "2026-01-11T00:00:00.000Z")],
        [
          { type: "anonymous_id", value: "a-1", firstSeen: at + 5000 },
          { type: "email", value: "jane@example.com", firstSeen: at + 1000 },
        ],
      ),
    );
    await stub.ingest(ingestInput(id, [], [{ type: "email", value: "jane@example.com", firstSeen: at - 1000 }]));
    const read = await stub.getProfile();
    if (read.status !== "ok") throw new Error(read.status);
    expect(read.profile.identifiers).toEqual([
      { type: "email", value: "jane@example.com", first_seen: "2026-01-09T23:59:59.000Z" },
      { type: "anonymous_id", value: "a-1", first_seen: "2026-01-10T00:00:00.000Z" },
    ]);
  });

  it("stores nothing from a batch that fails midway", async () => {
    const id = freshId("prf");
    const stub = profileStub(env.PROFILE, id);
    await stub.ingest(ingestInput(id, [track("Before", "2026-01-01T00:00:00.000Z")]));
    const broken = { ...track("Broken", "2026-01-01T00:00:00.000Z"), timestamp: "never", receivedAt: "never" };
    await runInDurableObject<ProfileDO, void>(env.PROFILE.getByName(id), async (instance) => {
      const batch = [identify({ plan: "pro" }, "2026-01-02T00:00:00.000Z"), broken];
      await expect(instance.ingest(ingestInput(id, batch))).rejects.toThrow(/timestamp/);
    });
    const read = await stub.getProfile();
    if (read.status !== "ok") throw new Error(read.status);
    expect(read.profile.event_count).toBe(1);
    expect(read.profile.traits).toEqual({});
  });

  it("creates a new profile's tables in its first write's transaction: a first batch that fails leaves none", async () => {
    const id = freshId("prf");
    const broken = { ...track("Broken", "2026-01-01T00:00:00.000Z"), timestamp: "never", receivedAt: "never" };
    const tables = await runInDurableObject<ProfileDO, string[]>(env.PROFILE.getByName(id), async (instance, state) => {
      await expect(instance.ingest(ingestInput(id, [broken]))).rejects.toThrow(/timestamp/);
      return state.storage.sql
        .exec<{ name: string }>(
          "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\'",
        )
        .toArray()
        .map((r) => r.name);
    });
    expect(tables).toEqual([]);
    const stub = profileStub(env.PROFILE, id);
    expect(await stub.getProfile()).toEqual({ status: "missing" });
    // The object knows its tables went with the failed write, and creates them again for the next one.
    expect(await stub.ingest(ingestInput(id, [track("After", "2026-01-01T00:00:00.000Z")]))).toMatchObject({
      status: "stored",
      inserted: 1,
    });
    const read = await stub.getProfile();
    if (read.status !== "ok") throw new Error(read.status);
    expect(read.profile.event_count).toBe(1);
  });

  it("refuses to act as a different profile than the one it was created as", async () => {
    const id = freshId("prf");
    const stub = profileStub(env.PROFILE, id);
    await stub.ingest(ingestInput(id, []));
    // Called on the instance: a bug is thrown, and through RPC the pool would report it as unhandled.
    await runInDurableObject<ProfileDO, void>(env.PROFILE.getByName(id), async (instance) => {
      await expect(instance.ingest(ingestInput("prf_other", []))).rejects.toThrow(/called as/);
    });
  });
});
