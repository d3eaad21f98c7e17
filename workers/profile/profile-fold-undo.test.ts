/**
 * A fold retry still shipping chunks when a merge undo splits the two profiles: the undo lands between two chunks
 * (the fold awaits the survivor's answer, and the object serves the undo's calls meanwhile).
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { freshId, ingestInput, track } from "../test-support/messages";
import { undoAtObjects } from "../test-support/object-undo";
import { profilesCalling } from "../test-support/profile-calls";
import type { ProfileDO } from "./profile-do";
import { markRedirect } from "./profile-meta";
import { profileStub } from "./profile-stub";

const T0 = Date.parse("2026-04-01T00:00:00.000Z");
const at = (minutes: number) => new Date(T0 + minutes * 60_000).toISOString();

/** The messageIds object `id` stores, sorted (read in SQL: a page of the timeline holds only 4 MB of these events). */
const storedIds = (id: string) =>
  runInDurableObject<ProfileDO, string[]>(env.PROFILE.getByName(id), (_i, state) =>
    state.storage.sql
      .exec<{ id: string }>("SELECT message_id AS id FROM events ORDER BY message_id")
      .toArray()
      .map((r) => r.id),
  );

/**
 * `real`, with `absorb` calls running `afterAbsorb` once the survivor answered the first of them, before the caller
 * hears it: what happens in the world while a fold waits for its first chunk's answer.
 */
function afterFirstAbsorb(real: Env["PROFILE"], afterAbsorb: () => Promise<void>): Env["PROFILE"] {
  let first = true;
  return profilesCalling(real, "absorb", (absorb) => async (from, opts) => {
    const outcome = await absorb(from, opts);
    if (first) {
      first = false;
      await afterAbsorb();
    }
    return outcome;
  });
}

describe("a fold retry during a merge undo", () => {
  it("ships nothing more once the undo restored the profile between two chunks", async () => {
    const [loser, survivor] = [freshId("prf"), freshId("prf")];
    const own = track("S1", at(0));
    await profileStub(env.PROFILE, survivor).ingest(ingestInput(survivor, [own]));
    // Two export chunks: 4 MB of events, then the rest.
    const padding = "x".repeat(900_000);
    const events = Array.from({ length: 6 }, (_, i) =>
      track(`L${i}`, at(i + 1), { properties: { padding } } as Partial<ReturnType<typeof track>>),
    );
    for (const event of events) await profileStub(env.PROFILE, loser).ingest(ingestInput(loser, [event]));
    // Merged away; the first fold failed, so its retry is pending (the alarm's, or a queued merge job's).
    await runInDurableObject<ProfileDO, void>(env.PROFILE.getByName(loser), (_i, state) =>
      markRedirect(state.storage.sql, survivor, true, Date.now()),
    );

    // The undo, as the objects see it: the merged-away profile pulls back what arrived on it, then the survivor drops
    // what was read.
    const undo = () => undoAtObjects(loser, survivor, T0);
    await runInDurableObject<ProfileDO, void>(env.PROFILE.getByName(loser), async (instance) => {
      const object = instance as unknown as { env: Env };
      const ownEnv = object.env;
      object.env = { ...ownEnv, PROFILE: afterFirstAbsorb(ownEnv.PROFILE, undo) };
      try {
        await instance.alarm();
      } finally {
        object.env = ownEnv;
      }
    });

    expect(await storedIds(survivor)).toEqual([own.messageId]);
    expect(await storedIds(loser)).toEqual(events.map((e) => e.messageId).sort());
    expect(await profileStub(env.PROFILE, loser).getProfile()).toMatchObject({ status: "ok" });
  });
});
