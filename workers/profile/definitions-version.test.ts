/**
 * A profile's cached definitions only move forward: a call that loaded a version, then awaited other objects, must
 * not adopt it once another call brought a newer one meanwhile (the object serves other calls while it awaits).
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { defineAll } from "../test-support/definitions";
import { freshId, ingestInput, track } from "../test-support/messages";
import { profilesCalling } from "../test-support/profile-calls";
import { seedWorkspace } from "../test-support/seed";
import type { ProfileDO } from "./profile-do";
import { profileStub } from "./profile-stub";

const cachedVersion = (id: string) =>
  runInDurableObject<ProfileDO, number>(
    env.PROFILE.getByName(id),
    (_i, state) => state.storage.sql.exec<{ version: number }>("SELECT version FROM definitions_cache").one().version,
  );

describe("ProfileDO definitions version", () => {
  it("stays at the newer version when a catch-up that loaded an older one finishes after it", async () => {
    const { workspaceId } = await seedWorkspace();
    const [restored, survivor] = [freshId("prf"), freshId("prf")];
    const older = await defineAll(workspaceId, { computed: { orders: { op: "count", event: "Order Completed" } } });
    await profileStub(env.PROFILE, restored).ingest({
      ...ingestInput(restored, [track("Order Completed", new Date().toISOString())]),
      workspaceId,
    });
    await profileStub(env.PROFILE, survivor).ingest({
      ...ingestInput(survivor, [track("Viewed", new Date().toISOString())]),
      workspaceId,
    });

    // While the catch-up reads the survivor, the workspace's definitions change and the profile evaluates with them.
    let newer = 0;
    const definedMeanwhile = profilesCalling(env.PROFILE, "exportOrigins", (exportOrigins) => async (q) => {
      const chunk = await exportOrigins(q);
      if (newer === 0) {
        newer = await defineAll(workspaceId, { computed: { views: { op: "count", event: "Viewed" } } });
        await profileStub(env.PROFILE, restored).reevaluate({ workspaceId, definitionsVersion: newer });
      }
      return chunk;
    });
    await runInDurableObject<ProfileDO, void>(env.PROFILE.getByName(restored), async (instance) => {
      const object = instance as unknown as { env: Env };
      const ownEnv = object.env;
      object.env = { ...ownEnv, PROFILE: definedMeanwhile };
      try {
        const outcome = await instance.catchUp({
          profileId: restored,
          workspaceId,
          definitionsVersion: older,
          origins: [restored],
          after: { profileId: survivor, seq: 0 },
        });
        expect(outcome.status).toBe("caught-up");
      } finally {
        object.env = ownEnv;
      }
    });

    expect(newer).toBeGreaterThan(older);
    expect(await cachedVersion(restored)).toBe(newer);
    const read = await profileStub(env.PROFILE, restored).getProfile();
    if (read.status !== "ok") throw new Error(read.status);
    expect(read.profile.computed).toEqual({ views: 0 });
  });
});
