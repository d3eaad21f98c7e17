import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { Identifier } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { freshId, identify, ingestInput, track } from "../test-support/messages";
import { profileOf, storedEventsOf } from "../test-support/profile-reads";
import type { ProfileDO } from "./profile-do";
import { markRedirect } from "./profile-meta";
import type { ExportMark } from "./profile-rpc";
import { profileStub } from "./profile-stub";

const T0 = Date.parse("2026-04-01T00:00:00.000Z");
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

async function eventsOf(id: string): Promise<string[]> {
  return (await storedEventsOf(id)).map((e) => (e.type === "track" ? e.event : e.type)).sort();
}

/**
 * Two people's profiles with one message both received: a merge stores it once (the survivor's copy), an undo gives
 * each side its copy again.
 */
async function twoProfiles() {
  const survivor = freshId("prf");
  const loser = freshId("prf");
  const shared = track("Shared", at(5));
  await profileStub(env.PROFILE, survivor).ingest(
    ingestInput(
      survivor,
      [track("S1", at(10)), identify({ plan: "pro", name: "Jane" }, at(20)), shared],
      [{ type: "user_id", value: "u1", firstSeen: T0 }],
    ),
  );
  await profileStub(env.PROFILE, loser).ingest(
    ingestInput(
      loser,
      [track("L1", at(1)), identify({ plan: "free", city: "Oslo" }, at(15)), shared],
      [{ type: "anonymous_id", value: "a1", firstSeen: T0 }],
    ),
  );
  // How far the last restore read the survivor: what the survivor may drop.
  let through: ExportMark | undefined;
  const restore = async () => {
    const outcome = await profileStub(env.PROFILE, loser).restoreFrom({
      profileId: loser,
      workspaceId: "ws_test",
      createdAt: T0,
      survivorId: survivor,
      origins: [loser],
      definitionsVersion: 0,
    });
    if (outcome.status === "restored") through = outcome.through;
    return outcome;
  };
  const catchUp = async () => {
    const outcome = await profileStub(env.PROFILE, loser).catchUp({
      profileId: loser,
      workspaceId: "ws_test",
      origins: [loser],
      after: through as ExportMark,
      definitionsVersion: 0,
    });
    if (outcome.status === "caught-up") through = outcome.through;
    return outcome;
  };
  const drop = (departed?: Identifier[]) =>
    profileStub(env.PROFILE, survivor).dropOrigins({
      workspaceId: "ws_test",
      definitionsVersion: 0,
      origins: [loser],
      through,
      departed,
    });
  return { survivor, loser, restore, catchUp, drop };
}

describe("ProfileDO split (merge undo)", () => {
  it("gives each side back its own events, identifiers and traits after a fold", async () => {
    const { survivor, loser, restore, drop } = await twoProfiles();
    await profileStub(env.PROFILE, loser).mergeInto(survivor);
    expect((await profileOf(survivor)).event_count).toBe(5);

    expect(await restore()).toMatchObject({ status: "restored", events: 3 });
    // Until the survivor drops them, both sides show what went back; a repeated restore changes nothing.
    expect(await restore()).toMatchObject({ status: "restored", events: 3 });
    expect(await drop()).toEqual({ status: "dropped", events: 2, identifiers: 1, left: 0 });
    expect(await drop()).toEqual({ status: "dropped", events: 0, identifiers: 0, left: 0 });

    const back = await profileOf(loser);
    expect(back).toMatchObject({ id: loser, event_count: 3, traits: { plan: "free", city: "Oslo" }, merged_from: [] });
    expect(back.identifiers.map((i) => `${i.type}:${i.value}`)).toEqual(["anonymous_id:a1"]);
    expect(await eventsOf(loser)).toEqual(["L1", "Shared", "identify"]);
    const kept = await profileOf(survivor);
    expect(kept).toMatchObject({ event_count: 3, traits: { plan: "pro", name: "Jane" }, merged_from: [] });
    expect(kept.traits).not.toHaveProperty("city");
    expect(kept.identifiers.map((i) => `${i.type}:${i.value}`)).toEqual(["user_id:u1"]);
    expect(await eventsOf(survivor)).toEqual(["S1", "Shared", "identify"]);
    expect(kept.first_seen).toBe(at(5));
  });

  it("drops only what the restore read: an event that followed the redirect meanwhile waits for the catch-up", async () => {
    const { survivor, loser, restore, catchUp, drop } = await twoProfiles();
    await profileStub(env.PROFILE, loser).mergeInto(survivor);
    expect(await restore()).toMatchObject({ status: "restored", events: 3, through: { profileId: survivor } });
    // A message resolved to the merged-away profile before it was live again, then followed its redirect.
    const late = ingestInput(survivor, [track("Late", at(30))], [{ type: "anonymous_id", value: "a1", firstSeen: T0 }]);
    expect(await profileStub(env.PROFILE, survivor).ingest({ ...late, arrivedOn: loser })).toMatchObject({
      status: "stored",
      inserted: 1,
    });

    expect(await drop()).toEqual({ status: "dropped", events: 2, identifiers: 1, left: 1 });
    expect(await eventsOf(survivor)).toEqual(["Late", "S1", "Shared", "identify"]);
    expect(await catchUp()).toMatchObject({ status: "caught-up", through: { profileId: survivor } });
    expect(await drop()).toEqual({ status: "dropped", events: 1, identifiers: 0, left: 0 });

    expect(await eventsOf(loser)).toEqual(["L1", "Late", "Shared", "identify"]);
    expect(await eventsOf(survivor)).toEqual(["S1", "Shared", "identify"]);
    expect(await profileOf(loser)).toMatchObject({ event_count: 4, last_seen: at(30) });
    expect((await profileOf(survivor)).event_count).toBe(3);
  });

  it("drops nothing that arrived on the origins without a mark, or with one of another object", async () => {
    const { survivor, loser } = await twoProfiles();
    await profileStub(env.PROFILE, loser).mergeInto(survivor);
    const dropWith = (through?: ExportMark) =>
      profileStub(env.PROFILE, survivor).dropOrigins({
        workspaceId: "ws_test",
        definitionsVersion: 0,
        origins: [loser],
        through,
      });
    expect(await dropWith()).toEqual({ status: "dropped", events: 0, identifiers: 1, left: 2 });
    expect(await dropWith({ profileId: freshId("prf"), seq: 1_000 })).toMatchObject({ events: 0, left: 2 });
    expect((await profileOf(survivor)).event_count).toBe(5);
  });

  it("cancels a fold still pending when the undo comes, keeping the profile's own state", async () => {
    const { survivor, loser, restore, drop } = await twoProfiles();
    // Merged away, but nothing shipped yet (the survivor was unreachable): the fold waits for the alarm.
    await runInDurableObject<ProfileDO, void>(env.PROFILE.getByName(loser), (_i, state) =>
      markRedirect(state.storage.sql, survivor, true, Date.now()),
    );
    expect(await restore()).toMatchObject({ status: "restored", events: 3 });
    await drop();
    await runDurableObjectAlarm(env.PROFILE.getByName(loser));
    expect(await eventsOf(loser)).toEqual(["L1", "Shared", "identify"]);
    expect(await eventsOf(survivor)).toEqual(["S1", "Shared", "identify"]);
    expect((await profileOf(loser)).traits).toEqual({ plan: "free", city: "Oslo" });
  });

  it("refuses, after the split, a delivery a stale cache routed by a departed identifier, until the graph vouches", async () => {
    const { survivor, loser, restore, drop } = await twoProfiles();
    await profileStub(env.PROFILE, loser).mergeInto(survivor);
    await restore();
    // The graph also moved an identifier the merging message brought straight to the survivor.
    const device = { type: "device_id", value: "d1" } as const;
    await drop([device]);

    const anon = { type: "anonymous_id", value: "a1", firstSeen: T0 } as const;
    const stale = ingestInput(survivor, [track("Stale", at(30))], [anon]);
    expect(await profileStub(env.PROFILE, survivor).ingest(stale)).toEqual({
      status: "departed",
      identifiers: [{ type: "anonymous_id", value: "a1" }],
    });
    const viaDevice = ingestInput(survivor, [track("Device", at(31))], [{ ...device, firstSeen: T0 }]);
    expect(await profileStub(env.PROFILE, survivor).ingest(viaDevice)).toMatchObject({ status: "departed" });
    // The survivor's own identifiers are not affected.
    const own = ingestInput(survivor, [track("Own", at(32))], [{ type: "user_id", value: "u1", firstSeen: T0 }]);
    expect(await profileStub(env.PROFILE, survivor).ingest(own)).toMatchObject({ status: "stored", inserted: 1 });
    expect(await eventsOf(survivor)).toEqual(["Own", "S1", "Shared", "identify"]);

    // The graph linked a1 to the survivor again (it read it, not a cache): stored, and a1 is the survivor's again.
    expect(await profileStub(env.PROFILE, survivor).ingest({ ...stale, graphChecked: true })).toMatchObject({
      status: "stored",
      inserted: 1,
    });
    expect(
      await profileStub(env.PROFILE, survivor).ingest({ ...stale, messages: [track("Later", at(40))] }),
    ).toMatchObject({ status: "stored", inserted: 1 });
    // A later merge that brings the device id to the survivor (its owner merged in) makes it the survivor's again.
    const owner = freshId("prf");
    await profileStub(env.PROFILE, owner).ingest(
      ingestInput(owner, [track("Owner", at(50))], [{ ...device, firstSeen: T0 }]),
    );
    await profileStub(env.PROFILE, owner).mergeInto(survivor);
    expect(await profileStub(env.PROFILE, survivor).ingest(viaDevice)).toMatchObject({ status: "stored", inserted: 1 });
  });
});
