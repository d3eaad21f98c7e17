/**
 * A `foldIfMerged` note is settled from the object's alarm: whatever else re-sets the alarm must keep the note's time.
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { changeSinkFor } from "../ingest/change-delivery";
import { defineAll } from "../test-support/definitions";
import { freshId, track } from "../test-support/messages";
import { outboxStateOf } from "../test-support/profile-reads";
import { seedWorkspace } from "../test-support/seed";
import type { ProfileDO } from "./profile-do";
import { profileStub } from "./profile-stub";

/** The object's `foldIfMerged` note, if it holds one. */
const foldNoteOf = (id: string) =>
  runInDurableObject<ProfileDO, unknown>(env.PROFILE.getByName(id), (_i, state) =>
    state.storage.kv.get("fold-if-merged"),
  );

describe("a foldIfMerged note and the alarm", () => {
  it("keeps the note's alarm when a request confirms the delivery of the object's handed-off changes", async () => {
    const { workspaceId } = await seedWorkspace();
    // An audience without a window: once its changes are out, the object has no boundary to wake up for.
    const definitionsVersion = await defineAll(workspaceId, { audiences: { visitors: { event: "*" } } });
    const id = freshId("prf");
    const stored = await profileStub(env.PROFILE, id).ingest({
      profileId: id,
      workspaceId,
      messages: [track("Page Loaded", new Date().toISOString(), { anonymousId: id })],
      identifiers: [],
      definitionsVersion,
      handOff: true,
    });
    if (!("outbox" in stored) || !stored.outbox) throw new Error("the ingest handed nothing back");
    // The request's graph write failed after the ingest: the object is asked to look at the graph later.
    await profileStub(env.PROFILE, id).foldIfMerged({ profileId: id, workspaceId });
    const asked = Date.now();
    // The request delivers the handed-off changes and confirms them.
    const sink = changeSinkFor(env);
    await sink.deliver(workspaceId, [stored.outbox]);
    await sink.confirm(id, stored.outbox.upTo);

    const { alarm, outbox } = await outboxStateOf(id);
    expect(outbox).toBe(0);
    expect(await foldNoteOf(id)).toMatchObject({ profileId: id, workspaceId });
    expect(alarm).not.toBeNull();
    expect(alarm).toBeLessThanOrEqual(asked + 10_000);
    // The alarm asks the graph, which holds no merge of this profile: the note is settled.
    expect(await runDurableObjectAlarm(env.PROFILE.getByName(id))).toBe(true);
    expect(await foldNoteOf(id)).toBeUndefined();
    expect(await outboxStateOf(id)).toEqual({ alarm: null, outbox: 0 });
  });
});
