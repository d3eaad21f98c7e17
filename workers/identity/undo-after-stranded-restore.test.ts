/**
 * A merge undo that stopped after the merged-away profile pulled its state back, before the graph's split: the
 * object is live again while the graph still shows it merged. Calling undo again must finish the job rather than
 * refuse it for good as "still being folded" (the object is no redirect, and nothing else would ever make it one).
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type { MergeUndone, Profile, ProfileEventsPage } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { profileStub } from "../profile/profile-stub";
import { lostAfterRestore, visitorMergedIntoSam } from "../test-support/merged-visitor";
import { identify, track } from "../test-support/messages";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api, store } from "../test-support/store-messages";
import { uid } from "../test-support/worker-requests";
import { identityStoreFor } from "./cached-identity-store";
import { undoMerge } from "./merge-undo";

describe("a merge undo called again after it stopped between the restore and the graph's split", () => {
  it("splits the merge out, each profile with its own events, identifiers and traits", async () => {
    const ws = await seedWorkspace("undo-stranded-restore");
    const [user, anon] = [uid("u"), uid("a")];
    const login = identify({ name: "Sam" }, "2026-01-01T00:00:00.000Z", { userId: user });
    const cart = track("Added to Cart", "2026-01-02T00:00:00.000Z", { anonymousId: anon });
    const plan = identify({ plan: "free" }, "2026-01-02T00:01:00.000Z", { anonymousId: anon, userId: undefined });
    const checkout = track("Checkout", "2026-01-03T00:00:00.000Z", { anonymousId: anon, userId: user });
    const [sam, visitor] = (await store(ws.workspaceId, [login, cart, plan, checkout])) as string[];
    const [merge] = await identityStoreFor(env).mergesInto(ws.workspaceId, sam);
    expect(merge).toMatchObject({ from: visitor, into: sam });

    const stopped = await undoMerge({ ...env, PROFILE: lostAfterRestore(env.PROFILE) }, ws.workspaceId, merge.id).then(
      () => "undone",
      (err: Error) => err.message,
    );
    expect(stopped).toBe("the isolate went away");
    // The visitor's object is live, the graph still has it merged into Sam.
    expect(await profileStub(env.PROFILE, visitor).getProfile()).toMatchObject({ status: "ok" });
    expect(await identityStoreFor(env).liveProfile(ws.workspaceId, visitor)).toBe(sam);

    const call = (method: string, path: string) => api(path, bearer(ws.secretKey), { method });
    // Asked before any alarm of the visitor's object could fold it back (the test below).
    const again = await call("POST", `/v1/merges/${merge.id}/undo`);
    expect(again.status, await again.clone().text()).toBe(200);
    expect(await again.json<MergeUndone>()).toMatchObject({ restored_profile: visitor, survivor: sam });

    const read = async (ref: string) => {
      const profile = await (await call("GET", `/v1/profiles/${ref}`)).json<Profile>();
      const page = await (await call("GET", `/v1/profiles/${ref}/events?limit=100`)).json<ProfileEventsPage>();
      return {
        id: profile.id,
        identifiers: profile.identifiers.map((i) => i.value),
        traits: profile.traits,
        mergedFrom: profile.merged_from,
        events: page.data.map((e) => e.messageId).sort(),
      };
    };
    expect(await read(`anonymous_id:${encodeURIComponent(anon)}`)).toEqual({
      id: visitor,
      identifiers: [anon],
      traits: { plan: "free" },
      mergedFrom: [],
      events: [cart.messageId, plan.messageId].sort(),
    });
    expect(await read(`user_id:${encodeURIComponent(user)}`)).toEqual({
      id: sam,
      identifiers: [user],
      traits: { name: "Sam" },
      mergedFrom: [],
      events: [login.messageId, checkout.messageId].sort(),
    });
  });

  it("folds the restored profile back into the survivor from its alarm when nobody calls undo again", async () => {
    const { ws, login, cart, checkout, sam, visitor, merge } = await visitorMergedIntoSam("undo-stranded-alarm");
    await undoMerge({ ...env, PROFILE: lostAfterRestore(env.PROFILE) }, ws.workspaceId, merge.id).catch(() => {});
    expect(await profileStub(env.PROFILE, visitor).getProfile()).toMatchObject({ status: "ok" });
    expect(await identityStoreFor(env).liveProfile(ws.workspaceId, visitor)).toBe(sam);

    // The undo is over (its repair lock released) and the graph still holds the merge: the object folds back.
    expect(await runDurableObjectAlarm(env.PROFILE.getByName(visitor))).toBe(true);
    expect(await profileStub(env.PROFILE, visitor).getProfile()).toEqual({ status: "redirect", to: sam });
    const call = (method: string, path: string) => api(path, bearer(ws.secretKey), { method });
    const page = await (await call("GET", `/v1/profiles/${sam}/events?limit=100`)).json<ProfileEventsPage>();
    expect(page.data.map((e) => e.messageId).sort()).toEqual(
      [login.messageId, cart.messageId, checkout.messageId].sort(),
    );

    // And the merge can be undone as any other.
    const undone = await call("POST", `/v1/merges/${merge.id}/undo`);
    expect(undone.status, await undone.clone().text()).toBe(200);
    expect(await profileStub(env.PROFILE, visitor).getProfile()).toMatchObject({ status: "ok" });
  });

  it("drops its note once the undo's split is committed: the restored profile stays live", async () => {
    const { ws, sam, visitor, merge } = await visitorMergedIntoSam("undo-split-alarm");
    expect(merge).toMatchObject({ from: visitor, into: sam });
    await undoMerge(env, ws.workspaceId, merge.id);

    const object = env.PROFILE.getByName(visitor);
    await runDurableObjectAlarm(object);
    expect(await profileStub(env.PROFILE, visitor).getProfile()).toMatchObject({ status: "ok" });
    // Nothing left to ask: no alarm is set for the note (a window boundary or the outbox would be the only reasons).
    expect(await runDurableObjectAlarm(object)).toBe(false);
  });
});
