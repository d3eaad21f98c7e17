import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { freshId, ingestInput, track } from "../test-support/messages";
import type { ProfileDO } from "./profile-do";
import { markRedirect } from "./profile-meta";
import { profileStub } from "./profile-stub";

const at = "2026-04-01T00:00:00.000Z";

describe("ProfileDO fold retry", () => {
  it("finishes a pending fold from its alarm, with no caller retrying", async () => {
    const [loser, survivor] = [freshId("prf"), freshId("prf")];
    const event = track("Pending", at);
    await profileStub(env.PROFILE, loser).ingest(ingestInput(loser, [event]));
    await runInDurableObject<ProfileDO, void>(env.PROFILE.getByName(loser), async (_i, state) => {
      markRedirect(state.storage.sql, survivor, true, Date.now());
      await state.storage.setAlarm(Date.now() + 60_000);
    });
    expect(await runDurableObjectAlarm(env.PROFILE.getByName(loser))).toBe(true);
    const read = await profileStub(env.PROFILE, survivor).listEvents({ limit: 10 });
    if (read.status !== "ok") throw new Error(read.status);
    expect(read.page.data.map((e) => e.messageId)).toEqual([event.messageId]);
  });

  it("keeps the fold pending and arms its alarm when the survivor cannot take it", async () => {
    const [a, b] = [freshId("prf"), freshId("prf")];
    await profileStub(env.PROFILE, a).ingest(ingestInput(a, [track("A", at)]));
    // A redirect cycle (B points back at A) makes every absorb bounce until the hop cap refuses it.
    await profileStub(env.PROFILE, b).mergeInto(a);
    const after = await runInDurableObject<ProfileDO, { pending: number; alarm: number | null; events: number }>(
      env.PROFILE.getByName(a),
      async (instance, state) => {
        await expect(instance.mergeInto(b)).rejects.toThrow(/redirect cycle/);
        const sql = state.storage.sql;
        const alarm = await state.storage.getAlarm();
        await state.storage.deleteAlarm();
        return {
          pending: sql.exec<{ p: number }>("SELECT fold_pending AS p FROM profile_meta").one().p,
          alarm,
          events: sql.exec<{ n: number }>("SELECT count(*) AS n FROM events").one().n,
        };
      },
    );
    expect(after.pending).toBe(1);
    expect(after.alarm).not.toBeNull();
    // Nothing was dropped: a later retry can still ship the event.
    expect(after.events).toBe(1);
  });
});
