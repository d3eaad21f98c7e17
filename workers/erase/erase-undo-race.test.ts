/**
 * A GDPR erase racing merge undos of the same person (`identityHistory` histories): the erase is sent a few random
 * milliseconds after the undos of every merge into the profile. Whichever runs first, the other sees what it did
 * (`oneRepairAtATime`): an undo answered 200 restored a profile the erase then left alone, one answered 409 names the
 * erase, and the profiles left agree with the graph with every event on one profile only. Before repairs ran one at a
 * time, such an undo answered 500, or 200 for a profile the erase then wiped.
 */
import { env } from "cloudflare:workers";
import type { MergeUndone, Profile, ProfileErased, ProfileEventsPage, ProfileMerges } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { type DeletionRow, findDeletion } from "../../d1/queries/deletions";
import { ingestMessages } from "../ingest/pipeline";
import { ingestDepsFor } from "../ingest/pipeline-deps";
import { expectGraphAndProfilesAgree, identityHistory } from "../test-support/identity-histories";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api } from "../test-support/store-messages";
import { runDeletion } from "./deletion-job";

/** Histories whose erased profile has one to three merges in; the erase lands before, between and after the undos. */
const SEEDS = [12919, 52514, 107947, 155461, 163380, 226732];

describe("a GDPR erase racing merge undos of the same person", { timeout: 60_000 }, () => {
  it.each(SEEDS)("leaves each undo's answer true, and the rest whole (seed %i)", async (seed) => {
    const ws = await seedWorkspace(`erase-undo-race-${seed}`);
    const history = identityHistory(seed, crypto.randomUUID().slice(0, 8));
    const call = (path: string, init?: RequestInit) => api(path, bearer(ws.secretKey), init);
    for (const batch of history.batches) {
      const items = batch.map((message, index) => ({ index, message }));
      const report = await ingestMessages(ingestDepsFor(env), ws.workspaceId, items);
      expect(report.failed).toEqual([]);
    }
    const sent = history.batches.flat().length;
    const held = await expectGraphAndProfilesAgree(ws.secretKey, history.identifiers, sent, "before");
    const profiles = await Promise.all([...held].map(async (id) => (await call(`/v1/profiles/${id}`)).json<Profile>()));
    const victim = profiles.find((p) => p.merged_from.length > 0) as Profile;
    expect(victim, "a profile with merges in").toBeDefined();
    const { data } = await (await call(`/v1/profiles/${victim.id}/merges`)).json<ProfileMerges>();

    const delay = Math.floor(history.random() * 60);
    const [erase, ...undos] = await Promise.all([
      new Promise((resolve) => setTimeout(resolve, delay)).then(() =>
        call(`/v1/profiles/${victim.id}`, { method: "DELETE" }),
      ),
      ...data.map((m) => call(`/v1/merges/${m.id}/undo`, { method: "POST" })),
    ]);
    expect(erase.status).toBe(202);
    // On a loaded machine the undos can hold the lock past the erase's wait: its run then stops before the graph
    // step, and the cron finishes it (as here, with the cron's own function).
    const { deletion_id } = await erase.json<ProfileErased>();
    let row = (await findDeletion(env.DB, ws.workspaceId, deletion_id)) as DeletionRow;
    while (row.graphAt === null || row.profilesAt === null) row = await runDeletion(env, row);
    const erased = new Set(JSON.parse(row.profileIds ?? "[]") as string[]);
    expect(erased.has(victim.id)).toBe(true);
    for (const [i, undo] of undos.entries()) {
      const merge = data[i];
      if (undo.status === 200) {
        const { restored_profile } = await undo.json<MergeUndone>();
        expect(erased.has(restored_profile), `${merge.id} undone, then erased`).toBe(false);
        expect((await call(`/v1/profiles/${restored_profile}`)).status).toBe(200);
      } else {
        expect(undo.status, await undo.clone().text()).toBe(409);
        expect((await undo.json<{ error: { message: string } }>()).error.message).toMatch(/erased/);
        expect(erased.has(merge.from), `${merge.id} refused, but not erased`).toBe(true);
      }
    }

    const live = await expectGraphAndProfilesAgree(ws.secretKey, history.identifiers, undefined, "after");
    const stored: string[] = [];
    for (const id of live) {
      expect(erased.has(id)).toBe(false);
      const page = await (await call(`/v1/profiles/${id}/events?limit=100`)).json<ProfileEventsPage>();
      stored.push(...page.data.map((e) => e.messageId));
    }
    expect(stored.length, "every event on one profile only").toBe(new Set(stored).size);
    expect(stored.length).toBeLessThan(sent);
  });
});
