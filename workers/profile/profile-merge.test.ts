import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { freshId, identify, ingestInput, track } from "../test-support/messages";
import { profileOf, storedEventsOf } from "../test-support/profile-reads";
import type { ProfileDO } from "./profile-do";
import { markRedirect } from "./profile-meta";
import type { ProfileExport } from "./profile-rpc";
import { profileStub } from "./profile-stub";

const T0 = Date.parse("2026-04-01T00:00:00.000Z");
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

async function eventIdsOf(id: string): Promise<string[]> {
  return (await storedEventsOf(id)).map((e) => e.messageId);
}

/** Two profiles of one person: the loser is newer-created but holds the older events. */
async function twoProfiles() {
  const survivor = freshId("prf");
  const loser = freshId("prf");
  const shared = track("Shared", at(5));
  const s = [track("S1", at(10)), identify({ plan: "pro", name: "Jane" }, at(20)), shared];
  const l = [track("L1", at(1)), identify({ plan: "free", city: "Oslo" }, at(15)), shared];
  await profileStub(env.PROFILE, survivor).ingest(
    ingestInput(survivor, s, [{ type: "user_id", value: "u1", firstSeen: T0 + 600_000 }]),
  );
  await profileStub(env.PROFILE, loser).ingest(
    ingestInput(loser, l, [{ type: "anonymous_id", value: "a1", firstSeen: T0 + 60_000 }]),
  );
  return { survivor, loser, ids: [...new Set([...s, ...l].map((m) => m.messageId))] };
}

describe("ProfileDO merge", () => {
  it("tombstones the loser and folds both timelines, traits and identifiers into the survivor", async () => {
    const { survivor, loser, ids } = await twoProfiles();
    const loserCreated = (await profileOf(loser)).created_at;
    const survivorCreated = (await profileOf(survivor)).created_at;
    await profileStub(env.PROFILE, loser).mergeInto(survivor);

    const redirect = { status: "redirect", to: survivor };
    expect(await profileStub(env.PROFILE, loser).getProfile()).toEqual(redirect);
    expect(await profileStub(env.PROFILE, loser).listEvents({ limit: 10 })).toEqual(redirect);
    expect(await profileStub(env.PROFILE, loser).ingest(ingestInput(loser, [track("X", at(30))]))).toEqual(redirect);

    const p = await profileOf(survivor);
    expect((await eventIdsOf(survivor)).sort()).toEqual([...ids].sort());
    expect(p.event_count).toBe(5);
    expect(p.traits).toEqual({ plan: "pro", name: "Jane", city: "Oslo" });
    expect(p.first_seen).toBe(at(1));
    expect(p.last_seen).toBe(at(20));
    expect(p.created_at).toBe([loserCreated, survivorCreated].sort()[0]);
    expect(p.identifiers.map((i) => `${i.type}:${i.value}`)).toEqual(["anonymous_id:a1", "user_id:u1"]);
    expect(p.merged_from).toEqual([loser]);
  });

  it("lets a newer trait from the loser win over an older one in the survivor", async () => {
    const survivor = freshId("prf");
    const loser = freshId("prf");
    await profileStub(env.PROFILE, survivor).ingest(ingestInput(survivor, [identify({ plan: "free" }, at(1))]));
    await profileStub(env.PROFILE, loser).ingest(ingestInput(loser, [identify({ plan: "pro" }, at(2))]));
    await profileStub(env.PROFILE, loser).mergeInto(survivor);
    expect((await profileOf(survivor)).traits).toEqual({ plan: "pro" });
  });

  it("changes nothing when mergeInto is called again after success", async () => {
    const { survivor, loser } = await twoProfiles();
    await profileStub(env.PROFILE, loser).mergeInto(survivor);
    const before = { profile: await profileOf(survivor), events: await eventIdsOf(survivor) };
    await profileStub(env.PROFILE, loser).mergeInto(survivor);
    expect({ profile: await profileOf(survivor), events: await eventIdsOf(survivor) }).toEqual(before);
    // The tombstone keeps only its redirect once the survivor confirmed.
    const left = await runInDurableObject<ProfileDO, number>(
      env.PROFILE.getByName(loser),
      (_i, state) => state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM events").one().n,
    );
    expect(left).toBe(0);
  });

  it("changes nothing when the same export is absorbed twice", async () => {
    const survivor = freshId("prf");
    await profileStub(env.PROFILE, survivor).ingest(ingestInput(survivor, [track("S", at(3))]));
    const from: ProfileExport = {
      profileId: "prf_gone",
      workspaceId: "ws_test",
      createdAt: T0,
      events: [track("L", at(1)), identify({ tier: "gold" }, at(2))],
      traits: [{ key: "tier", value: "gold", updatedAt: T0 + 120_000 }],
      identifiers: [{ type: "email", value: "j@example.com", firstSeen: T0 }],
      mergedFrom: ["prf_older"],
    };
    expect(await profileStub(env.PROFILE, survivor).absorb(from)).toEqual({ status: "absorbed", into: survivor });
    const before = { profile: await profileOf(survivor), events: await eventIdsOf(survivor) };
    expect(before.profile.event_count).toBe(3);
    expect(before.profile.merged_from).toEqual(["prf_gone", "prf_older"]);
    expect(before.profile.created_at).toBe(new Date(T0).toISOString());
    await profileStub(env.PROFILE, survivor).absorb(from);
    expect({ profile: await profileOf(survivor), events: await eventIdsOf(survivor) }).toEqual(before);
  });

  it("re-sends the fold when a previous mergeInto crashed after tombstoning", async () => {
    const { survivor, loser, ids } = await twoProfiles();
    // The state a crash leaves: tombstone committed, fold pending, nothing sent yet.
    await runInDurableObject<ProfileDO, void>(env.PROFILE.getByName(loser), (_i, state) => {
      markRedirect(state.storage.sql, survivor, true, Date.now());
    });
    expect(await profileStub(env.PROFILE, loser).getProfile()).toEqual({ status: "redirect", to: survivor });
    expect((await eventIdsOf(survivor)).length).toBe(3);
    await profileStub(env.PROFILE, loser).mergeInto(survivor);
    expect((await eventIdsOf(survivor)).sort()).toEqual([...ids].sort());
    expect((await profileOf(survivor)).merged_from).toEqual([loser]);
  });

  it("never writes a tombstone over a GDPR erase", async () => {
    const { survivor, loser } = await twoProfiles();
    await profileStub(env.PROFILE, loser).erase();
    // What a merge of the loser that was waiting on D1 while the erase ran would write next.
    await runInDurableObject<ProfileDO, void>(env.PROFILE.getByName(loser), (_i, state) => {
      markRedirect(state.storage.sql, survivor, true, Date.now());
    });
    expect(await profileStub(env.PROFILE, loser).getProfile()).toEqual({ status: "deleted" });
  });

  it("leaves everything in C after A merges into B and B into C", async () => {
    const [a, b, c] = [freshId("prf"), freshId("prf"), freshId("prf")];
    const events = { a: track("A", at(1)), b: track("B", at(2)), c: track("C", at(3)) };
    await profileStub(env.PROFILE, a).ingest(
      ingestInput(a, [events.a], [{ type: "anonymous_id", value: "x", firstSeen: T0 }]),
    );
    await profileStub(env.PROFILE, b).ingest(
      ingestInput(b, [events.b], [{ type: "email", value: "y@z.io", firstSeen: T0 }]),
    );
    await profileStub(env.PROFILE, c).ingest(
      ingestInput(c, [events.c], [{ type: "user_id", value: "u", firstSeen: T0 }]),
    );
    await profileStub(env.PROFILE, a).mergeInto(b);
    await profileStub(env.PROFILE, b).mergeInto(c);

    const p = await profileOf(c);
    expect((await eventIdsOf(c)).sort()).toEqual(
      Object.values(events)
        .map((m) => m.messageId)
        .sort(),
    );
    expect(p.merged_from).toEqual([b, a]);
    expect(p.identifiers).toHaveLength(3);
    expect(await profileStub(env.PROFILE, a).getProfile()).toEqual({ status: "redirect", to: b });
    expect(await profileStub(env.PROFILE, b).getProfile()).toEqual({ status: "redirect", to: c });
  });

  it("forwards a late fold through a survivor that was merged away meanwhile", async () => {
    const [a, b, c] = [freshId("prf"), freshId("prf"), freshId("prf")];
    const late = track("A-late", at(1));
    await profileStub(env.PROFILE, a).ingest(ingestInput(a, [late]));
    await profileStub(env.PROFILE, b).ingest(ingestInput(b, [track("B", at(2))]));
    await profileStub(env.PROFILE, c).ingest(ingestInput(c, [track("C", at(3))]));
    // A tombstoned towards B but crashed before sending; then B merged into C.
    await runInDurableObject<ProfileDO, void>(env.PROFILE.getByName(a), (_i, state) => {
      markRedirect(state.storage.sql, b, true, Date.now());
    });
    await profileStub(env.PROFILE, b).mergeInto(c);
    await profileStub(env.PROFILE, a).mergeInto(b);
    expect(await eventIdsOf(c)).toContain(late.messageId);
    expect((await profileOf(c)).merged_from).toEqual([b, a]);
  });

  it("ships a profile larger than one RPC chunk completely", async () => {
    const [loser, survivor] = [freshId("prf"), freshId("prf")];
    const padding = "x".repeat(16_000);
    const events = Array.from({ length: 320 }, (_, i) =>
      track("Big", at(i), { properties: { padding } } as Partial<ReturnType<typeof track>>),
    );
    for (let i = 0; i < events.length; i += 80) {
      await profileStub(env.PROFILE, loser).ingest(ingestInput(loser, events.slice(i, i + 80)));
    }
    await profileStub(env.PROFILE, loser).mergeInto(survivor);
    const p = await profileOf(survivor);
    expect(p.event_count).toBe(320);
    expect(p.first_seen).toBe(at(0));
    expect(p.last_seen).toBe(at(319));
  });

  it("creates the survivor from the fold when it never ingested anything itself", async () => {
    const loser = freshId("prf");
    const survivor = freshId("prf");
    await profileStub(env.PROFILE, loser).ingest(ingestInput(loser, [identify({ name: "Kim" }, at(1))]));
    await profileStub(env.PROFILE, loser).mergeInto(survivor);
    const p = await profileOf(survivor);
    expect(p.id).toBe(survivor);
    expect(p.traits).toEqual({ name: "Kim" });
    expect(p.event_count).toBe(1);
    expect(p.merged_from).toEqual([loser]);
  });

  it("leaves only a redirect when a profile that never ingested is merged away", async () => {
    const ghost = freshId("prf");
    const survivor = freshId("prf");
    await profileStub(env.PROFILE, survivor).ingest(ingestInput(survivor, [track("S", at(1))]));
    await profileStub(env.PROFILE, ghost).mergeInto(survivor);
    expect(await profileStub(env.PROFILE, ghost).getProfile()).toEqual({ status: "redirect", to: survivor });
    expect((await profileOf(survivor)).event_count).toBe(1);
  });
});
