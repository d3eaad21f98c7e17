/**
 * Merge undos racing new messages about the same people: a random history is sent, then every merge it made is
 * undone while a second history over the same identifiers arrives as many small requests (which can link again what
 * an undo is splitting). Once everything has answered, the identity graph and the profiles' objects must agree
 * (`expectGraphAndProfilesAgree`) and hold every event of both waves, each undo having answered 200 or a 409 that
 * says why. Seed 117966 lost an event 1 run in 8 before the survivor dropped only what the restore had read: a message
 * that followed the merged-away profile's redirect while the restore ran was dropped with the rest. The interleaving
 * is the runtime's, so this detects rather than reproduces; profile-split.test.ts reproduces it. Seed 252589 left a
 * profile live with no identifier about 1 run in 30 before the graph recorded each identifier's first profile (a
 * request that made and merged profiles had put one's identifiers on the profile above it); merge-undo.test.ts
 * reproduces that mechanism.
 */
import type { ProfileMerges } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import {
  expectGraphAndProfilesAgree,
  historyThenAnother,
  sendAsSmallRequests,
} from "../test-support/identity-histories";
import { bearer } from "../test-support/seed";
import { api } from "../test-support/store-messages";

const SEEDS = [117966, 125885, 228832, 252589];

describe("merge undos amid new messages", { timeout: 60_000 }, () => {
  it.each(SEEDS)("leave the graph and the profiles in agreement (seed %i)", async (seed) => {
    const { ws, first, firstMessages, secondMessages, held } = await historyThenAnother(`undo-amid-${seed}`, seed);

    const merges: string[] = [];
    for (const id of held) {
      const res = await api(`/v1/profiles/${id}/merges`, bearer(ws.secretKey));
      for (const m of (await res.json<ProfileMerges>()).data) if (m.undone_at === null) merges.push(m.id);
    }
    expect(merges.length, "the history merges").toBeGreaterThanOrEqual(3);
    const [undos] = await Promise.all([
      Promise.all(merges.map((id) => api(`/v1/merges/${id}/undo`, bearer(ws.secretKey), { method: "POST" }))),
      sendAsSmallRequests(ws.workspaceId, secondMessages),
    ]);
    const answers = await Promise.all(undos.map(async (r) => `${r.status} ${r.status === 200 ? "" : await r.text()}`));
    for (const answer of answers) expect(answer).toMatch(/^(200 |409 )/);
    await expectGraphAndProfilesAgree(
      ws.secretKey,
      first.identifiers,
      firstMessages.length + secondMessages.length,
      `undone amid new messages (${answers.join("; ")})`,
    );
  });
});
