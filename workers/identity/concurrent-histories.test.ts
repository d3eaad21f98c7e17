/**
 * Random identity histories (`identityHistory`) sent as many small requests at once, then every merge they made
 * undone at once: concurrent first sightings, merges and folds, then concurrent undos of merges that form chains.
 * Once everything has answered, the identity graph and the profiles' objects must agree
 * (`expectGraphAndProfilesAgree`), merged and undone. Seeded histories; the interleaving is whatever the runtime makes
 * of them, and these seeds are among those where two undos of one chain met (before undos ran one at a time, C's
 * events were pulled back twice, or B still listed C as merged).
 */
import type { ProfileMerges } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { expectGraphAndProfilesAgree, identityHistory, sendAsSmallRequests } from "../test-support/identity-histories";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api } from "../test-support/store-messages";

const SEEDS = [72271, 103947, 198975, 238570];

describe("concurrent requests over random histories", { timeout: 60_000 }, () => {
  it.each(SEEDS)("leave the graph and the profiles in agreement, merged and undone (seed %i)", async (seed) => {
    const ws = await seedWorkspace(`concurrent-histories-${seed}`);
    const { batches, identifiers } = identityHistory(seed, crypto.randomUUID().slice(0, 8));
    const messages = batches.flat();
    await sendAsSmallRequests(ws.workspaceId, messages);
    const agree = (stage: string) => expectGraphAndProfilesAgree(ws.secretKey, identifiers, messages.length, stage);
    const profiles = await agree("merged");

    const merges: string[] = [];
    for (const id of profiles) {
      const res = await api(`/v1/profiles/${id}/merges`, bearer(ws.secretKey));
      for (const m of (await res.json<ProfileMerges>()).data) if (m.undone_at === null) merges.push(m.id);
    }
    expect(merges.length, "the history merges").toBeGreaterThanOrEqual(2);
    const undos = await Promise.all(
      merges.map((id) => api(`/v1/merges/${id}/undo`, bearer(ws.secretKey), { method: "POST" })),
    );
    expect(
      await Promise.all(undos.map(async (r) => (r.status === 200 ? 200 : `${r.status} ${await r.text()}`))),
    ).toEqual(merges.map(() => 200));
    const split = await agree("undone");
    expect(split.size).toBe(profiles.size + merges.length);
  });
});
