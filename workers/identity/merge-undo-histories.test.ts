/**
 * Merges and their undo over random histories (`identityHistory`): through the production pipeline, then every
 * merge is undone, in a random order. At each stage the identity graph and the profiles' objects must agree
 * (`expectGraphAndProfilesAgree`): every identifier a profile lists resolves to that profile and no other lists it,
 * every identifier the graph knows is listed, `merged_from` matches the live journal, and every event is on exactly
 * one profile. Seeded, so a failure names its history.
 */
import { env } from "cloudflare:workers";
import type { ProfileMerges } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { ingestMessages } from "../ingest/pipeline";
import { ingestDepsFor } from "../ingest/pipeline-deps";
import { expectGraphAndProfilesAgree, identityHistory } from "../test-support/identity-histories";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api } from "../test-support/store-messages";

/** Histories with three or four merges each (of 40 tried), chains and merges within one request among them. */
const SEEDS = [72271, 96028, 103947, 111866, 198975, 222732, 230651, 246489, 254408];

describe("merge undo over random histories", { timeout: 60_000 }, () => {
  it.each(SEEDS)("keeps the graph and the profiles in agreement, merged and undone (seed %i)", async (seed) => {
    const ws = await seedWorkspace(`merge-histories-${seed}`);
    const { batches, identifiers, shuffle } = identityHistory(seed, crypto.randomUUID().slice(0, 8));
    for (const batch of batches) {
      const items = batch.map((message, index) => ({ index, message }));
      const report = await ingestMessages(ingestDepsFor(env), ws.workspaceId, items);
      expect(report.failed).toEqual([]);
      expect(report.rejected).toEqual([]);
    }
    const sent = batches.flat().length;
    const agree = (stage: string) => expectGraphAndProfilesAgree(ws.secretKey, identifiers, sent, stage);

    const profiles = await agree("merged");
    const merges = new Map<string, string>();
    for (const id of profiles) {
      const res = await api(`/v1/profiles/${id}/merges`, bearer(ws.secretKey));
      for (const m of (await res.json<ProfileMerges>()).data) {
        if (m.undone_at === null) merges.set(m.id, m.from);
      }
    }
    for (const mergeId of shuffle([...merges.keys()])) {
      const res = await api(`/v1/merges/${mergeId}/undo`, bearer(ws.secretKey), { method: "POST" });
      expect(res.status, `undo ${mergeId}`).toBe(200);
    }
    expect(merges.size, "the history merges").toBeGreaterThanOrEqual(3);
    const split = await agree("undone");
    expect(split.size).toBe(profiles.size + merges.size);
  });
});
