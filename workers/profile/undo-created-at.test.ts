/**
 * A merge gives the survivor the earlier `created_at` of the two; undoing it gives each profile back the creation time
 * it would have had without that merge.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { freshId, ingestInput, track } from "../test-support/messages";
import { undoAtObjects } from "../test-support/object-undo";
import { profileOf } from "../test-support/profile-reads";
import type { ProfileDO } from "./profile-do";
import { profileStub } from "./profile-stub";

const DAY = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** A profile created `daysAgo` days ago, with one event. */
async function profileFrom(daysAgo: number): Promise<{ id: string; createdAt: number }> {
  const id = freshId("prf");
  await profileStub(env.PROFILE, id).ingest(ingestInput(id, [track("Visited", iso(Date.now() - daysAgo * DAY))]));
  if (daysAgo === 0) return { id, createdAt: Date.parse((await profileOf(id)).created_at) };
  const createdAt = Date.now() - daysAgo * DAY;
  await runInDurableObject<ProfileDO, void>(env.PROFILE.getByName(id), (_i, state) => {
    state.storage.sql.exec("UPDATE profile_meta SET created_at = ?", createdAt);
  });
  return { id, createdAt };
}

const createdAt = async (id: string) => Date.parse((await profileOf(id)).created_at);

describe("created_at after a merge undo", () => {
  it("is the survivor's own again, and the restored profile's own", async () => {
    const survivor = await profileFrom(0);
    const loser = await profileFrom(3);
    await profileStub(env.PROFILE, loser.id).mergeInto(survivor.id);
    expect(await createdAt(survivor.id)).toBe(loser.createdAt);

    await undoAtObjects(loser.id, survivor.id, loser.createdAt);
    expect(await createdAt(survivor.id)).toBe(survivor.createdAt);
    expect(await createdAt(loser.id)).toBe(loser.createdAt);
  });

  it("is when the fold created the survivor's object, for a survivor that had stored nothing before", async () => {
    const loser = await profileFrom(3);
    const survivor = freshId("prf");
    const beforeMerge = Date.now();
    await profileStub(env.PROFILE, loser.id).mergeInto(survivor);
    expect(await createdAt(survivor)).toBe(loser.createdAt);

    await undoAtObjects(loser.id, survivor, loser.createdAt);
    expect(await createdAt(survivor)).toBeGreaterThanOrEqual(beforeMerge);
  });

  it("keeps the earliest creation among the merges that still stand", async () => {
    const survivor = await profileFrom(0);
    const oldest = await profileFrom(3);
    const older = await profileFrom(2);
    await profileStub(env.PROFILE, oldest.id).mergeInto(survivor.id);
    await profileStub(env.PROFILE, older.id).mergeInto(survivor.id);
    expect(await createdAt(survivor.id)).toBe(oldest.createdAt);

    await undoAtObjects(oldest.id, survivor.id, oldest.createdAt);
    expect(await createdAt(survivor.id)).toBe(older.createdAt);
    await undoAtObjects(older.id, survivor.id, older.createdAt);
    expect(await createdAt(survivor.id)).toBe(survivor.createdAt);
  });
});
