/**
 * GDPR erase in the middle of random identity histories (`identityHistory`): part of a history goes through the
 * production pipeline, one person is erased through the API (with the profiles merged into theirs), then the rest
 * of the history arrives — messages naming the erased person among them. Afterwards the erased identifiers resolve
 * to nobody and say so, the rest of the graph and the profiles' objects still agree (`expectGraphAndProfilesAgree`),
 * and the events held are exactly those sent, less the erased person's and the later ones dropped for naming them.
 * Then every merge left is undone, and the graph and the objects agree again. Seeded, so a failure names its history.
 */
import { env } from "cloudflare:workers";
import type { AcceptedMessage, Profile, ProfileMerges } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { ingestMessages } from "../ingest/pipeline";
import { ingestDepsFor } from "../ingest/pipeline-deps";
import { expectGraphAndProfilesAgree, identityHistory } from "../test-support/identity-histories";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api } from "../test-support/store-messages";

const SEEDS = [111866, 198975];

describe("GDPR erase amid random histories", { timeout: 60_000 }, () => {
  it.each(SEEDS)("erases one person and keeps everyone else whole, merged and undone (seed %i)", async (seed) => {
    const ws = await seedWorkspace(`erase-histories-${seed}`);
    const history = identityHistory(seed, crypto.randomUUID().slice(0, 8));
    const call = (path: string, init?: RequestInit) => api(path, bearer(ws.secretKey), init);
    /** Sends `batch`; returns how many of its messages were dropped for naming an erased person. */
    const send = async (batch: AcceptedMessage[]) => {
      const report = await ingestMessages(
        ingestDepsFor(env),
        ws.workspaceId,
        batch.map((message, index) => ({ index, message })),
      );
      expect(report.failed).toEqual([]);
      expect(report.rejected).toEqual([]);
      return report.erased.length;
    };
    // Cut the history in two, inside a batch: before the erase and after it.
    const messages = history.batches.flat();
    const cut = 2 + Math.floor(history.random() * (messages.length - 3));
    const before = messages.slice(0, cut);
    const after = messages.slice(cut);
    expect(await send(before)).toBe(0);
    const held = await expectGraphAndProfilesAgree(ws.secretKey, history.identifiers, before.length, "before");

    const victim = history.shuffle([...held])[0];
    const profile = await (await call(`/v1/profiles/${victim}`)).json<Profile>();
    const erasedRefs = profile.identifiers.map(({ type, value }) => `${type}:${value}`);
    const erase = await call(`/v1/profiles/${victim}`, { method: "DELETE" });
    expect(erase.status).toBe(202);

    let dropped = 0;
    for (let i = 0; i < after.length; i += 5) dropped += await send(after.slice(i, i + 5));
    // Every later message naming the person was dropped, and no other.
    const namesErased = (m: AcceptedMessage) =>
      erasedRefs.some((ref) => JSON.stringify(m).includes(`"${ref.slice(ref.indexOf(":") + 1)}"`));
    expect(dropped).toBe(after.filter(namesErased).length);

    for (const ref of erasedRefs) {
      const res = await call(`/v1/profiles/${encodeURIComponent(ref)}`);
      expect(res.status, ref).toBe(404);
      expect((await res.json<{ error: { message: string } }>()).error.message, ref).toMatch(/erased/);
    }
    const left = history.identifiers.filter((ref) => !erasedRefs.includes(ref));
    const events = before.length - profile.event_count + after.length - dropped;
    const profiles = await expectGraphAndProfilesAgree(ws.secretKey, left, events, "erased");

    const merges: string[] = [];
    for (const id of profiles) {
      for (const m of (await (await call(`/v1/profiles/${id}/merges`)).json<ProfileMerges>()).data) {
        if (m.undone_at === null) merges.push(m.id);
      }
    }
    for (const mergeId of history.shuffle(merges)) {
      expect((await call(`/v1/merges/${mergeId}/undo`, { method: "POST" })).status, `undo ${mergeId}`).toBe(200);
    }
    const split = await expectGraphAndProfilesAgree(ws.secretKey, left, events, "erased, then undone");
    expect(split.size).toBe(profiles.size + merges.length);
  });
});
