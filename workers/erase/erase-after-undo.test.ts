/**
 * A GDPR erase of one of two people a merge undo split apart: Sam logs in; an anonymous visitor adds to cart and says
 * they are on the free plan; a checkout carrying both ids merges the visitor into Sam; the merge is then undone.
 * Whichever of the two the DELETE named is erased, and the other is left whole, though the undo ran after the request
 * was recorded and before its graph step.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import type {
  Deletion,
  MergeRecord,
  Profile,
  ProfileErased,
  ProfileEventsPage,
  ProfileMerges,
} from "@tessera/protocol";
import { afterEach, describe, expect, it, vi } from "vitest";
import { type DeletionRow, findDeletion } from "../../d1/queries/deletions";
import { claimGraphRepairLock, releaseGraphRepairLock } from "../../d1/queries/graph-repair-locks";
import type { ProfileDO } from "../profile/profile-do";
import { identify, track } from "../test-support/messages";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api, store } from "../test-support/store-messages";
import { uid } from "../test-support/worker-requests";
import { runDeletion } from "./deletion-job";

/**
 * Sam and the visitor merged by one checkout, as in `merge-undo.test.ts` (the visitor also gave an email);
 * `shopper` is the anonymous id of an older profile, seen before Sam logged in, that a later message can link Sam to.
 */
async function wronglyMerged() {
  const ws = await seedWorkspace("erase-after-undo");
  const [user, anon, shopper] = [uid("u"), uid("a"), uid("a")];
  const email = `${uid("visitor")}@example.com`;
  const [, sam, visitor, , survivor] = await store(ws.workspaceId, [
    track("Product Viewed", "2025-12-01T00:00:00.000Z", { anonymousId: shopper }),
    identify({ name: "Sam" }, "2026-01-01T00:00:00.000Z", { userId: user }),
    track("Added to Cart", "2026-01-02T00:00:00.000Z", { anonymousId: anon }),
    identify({ plan: "free", email }, "2026-01-02T00:01:00.000Z", { anonymousId: anon, userId: undefined }),
    track("Checkout", "2026-01-03T00:00:00.000Z", { anonymousId: anon, userId: user }),
  ]);
  expect(survivor).toBe(sam);
  const call = (method: string, path: string) => api(path, bearer(ws.secretKey), { method });
  const { data } = await (await call("GET", `/v1/profiles/${sam}/merges`)).json<ProfileMerges>();
  expect(data).toMatchObject([{ from: visitor, into: sam, undone_at: null }]);
  const merge = data[0] as MergeRecord;
  return { ws, user, anon, email, shopper, sam: sam as string, visitor: visitor as string, merge, call };
}

/**
 * Sends the DELETE while another repair holds the workspace's lock past the erase's wait, so its first run stops
 * before the graph step; answers the recorded job.
 */
async function eraseStoppedBeforeGraph(workspaceId: string, send: () => Promise<Response>): Promise<DeletionRow> {
  const held = Date.now();
  expect(await claimGraphRepairLock(env.DB, workspaceId, "mrg_other", held, 0)).toBe(true);
  const res = await send();
  await releaseGraphRepairLock(env.DB, workspaceId, "mrg_other", held);
  expect(res.status).toBe(202);
  const { deletion_id } = await res.json<ProfileErased>();
  const row = (await findDeletion(env.DB, workspaceId, deletion_id)) as DeletionRow;
  expect(row.graphAt).toBeNull();
  return row;
}

describe("a GDPR erase recorded before a merge undo of the person", { timeout: 30_000 }, () => {
  it.each(["the visitor's anonymous id", "the visitor's profile id"])(
    "erases the visitor and keeps Sam, when the DELETE named %s",
    async (named) => {
      const { ws, user, anon, sam, visitor, merge, call } = await wronglyMerged();
      const ref = named.includes("anonymous") ? `anonymous_id:${encodeURIComponent(anon)}` : visitor;
      const row = await eraseStoppedBeforeGraph(ws.workspaceId, () => call("DELETE", `/v1/profiles/${ref}`));
      expect((await call("POST", `/v1/merges/${merge.id}/undo`)).status).toBe(200);

      // The cron takes the job up again.
      expect((await runDeletion(env, row)).status).toBe("done");
      const deletion = await (await call("GET", `/v1/deletions/${row.id}`)).json<Deletion>();
      expect(deletion.profile_ids).toEqual([visitor]);
      for (const gone of [visitor, `anonymous_id:${encodeURIComponent(anon)}`]) {
        expect((await call("GET", `/v1/profiles/${gone}`)).status, gone).toBe(404);
      }
      const erased = await (await call("GET", `/v1/profiles/anonymous_id:${encodeURIComponent(anon)}`)).json<{
        error: { message: string };
      }>();
      expect(erased.error.message).toMatch(/erased \(GDPR delete\), and events carrying it are dropped/);
      const kept = await call("GET", `/v1/profiles/user_id:${encodeURIComponent(user)}`);
      expect(kept.status).toBe(200);
      expect(await kept.json<Profile>()).toMatchObject({ id: sam, traits: { name: "Sam" } });
    },
  );

  it("erases Sam alone when the DELETE named Sam: the undo took the visitor out of Sam's merges", async () => {
    const { ws, anon, sam, visitor, merge, call } = await wronglyMerged();
    const row = await eraseStoppedBeforeGraph(ws.workspaceId, () => call("DELETE", `/v1/profiles/${sam}`));
    expect((await call("POST", `/v1/merges/${merge.id}/undo`)).status).toBe(200);

    expect((await runDeletion(env, row)).status).toBe("done");
    const deletion = await (await call("GET", `/v1/deletions/${row.id}`)).json<Deletion>();
    expect(deletion.profile_ids).toEqual([sam]);
    expect((await call("GET", `/v1/profiles/${sam}`)).status).toBe(404);
    const kept = await call("GET", `/v1/profiles/anonymous_id:${encodeURIComponent(anon)}`);
    expect(kept.status).toBe(200);
    expect(await kept.json<Profile>()).toMatchObject({ id: visitor, traits: { plan: "free" } });
  });

  it("leaves Sam alone when another DELETE erased the visitor first, though the ref found Sam when it came", async () => {
    const { ws, user, anon, sam, visitor, merge, call } = await wronglyMerged();
    const ref = `anonymous_id:${encodeURIComponent(anon)}`;
    const row = await eraseStoppedBeforeGraph(ws.workspaceId, () => call("DELETE", `/v1/profiles/${ref}`));
    expect(row.profileId).toBe(sam);
    expect((await call("POST", `/v1/merges/${merge.id}/undo`)).status).toBe(200);
    expect((await call("DELETE", `/v1/profiles/${visitor}`)).status).toBe(202);

    expect((await runDeletion(env, row)).status).toBe("done");
    const deletion = await (await call("GET", `/v1/deletions/${row.id}`)).json<Deletion>();
    expect(deletion.profile_ids).toEqual([]);
    const kept = await call("GET", `/v1/profiles/user_id:${encodeURIComponent(user)}`);
    expect(kept.status).toBe(200);
    expect(await kept.json<Profile>()).toMatchObject({ id: sam, traits: { name: "Sam" }, event_count: 2 });
  });
});

/** What profile `id`'s object keeps as departed (see `workers/profile/departed.ts`), and its status. */
function departedOf(id: string): Promise<{ status: string; departed: string | null }> {
  return runInDurableObject<ProfileDO, { status: string; departed: string | null }>(
    env.PROFILE.getByName(id),
    (_o, state) =>
      state.storage.sql
        .exec<{ status: string; departed: string | null }>("SELECT status, departed FROM profile_meta")
        .one(),
  );
}

describe("a GDPR erase of a person a merge undo split off", { timeout: 30_000 }, () => {
  it.each([false, true])(
    "leaves none of their identifiers on the profile they were split off (merged on since: %s)",
    async (mergedOn) => {
      const { ws, user, anon, shopper, sam, visitor, merge, call } = await wronglyMerged();
      expect((await call("POST", `/v1/merges/${merge.id}/undo`)).status).toBe(200);
      if (mergedOn) {
        // Sam turns out to be the older shopper: Sam's object becomes a tombstone that still keeps its meta.
        await store(ws.workspaceId, [
          track("Checkout", "2026-01-05T00:00:00.000Z", { anonymousId: shopper, userId: user }),
        ]);
      }
      const before = await departedOf(sam);
      expect(before.status).toBe(mergedOn ? "redirect" : "active");
      expect(before.departed).toContain(anon);

      const res = await call("DELETE", `/v1/profiles/${visitor}`);
      expect(res.status).toBe(202);
      const { deletion_id } = await res.json<ProfileErased>();
      expect((await findDeletion(env.DB, ws.workspaceId, deletion_id))?.status).toBe("done");
      expect((await departedOf(sam)).departed).toBeNull();
      // Sam's own data stays.
      const kept = await call("GET", `/v1/profiles/user_id:${encodeURIComponent(user)}`);
      expect(await kept.json<Profile>()).toMatchObject({ traits: { name: "Sam" } });
    },
  );
});

/** From now until the mocks are restored, survivor `profileId`'s cleanup fails (its isolate went away). */
function failCleanupOf(profileId: string): void {
  const getByName = env.PROFILE.getByName.bind(env.PROFILE);
  vi.spyOn(env.PROFILE, "getByName").mockImplementation((name) => {
    const stub = getByName(name);
    if (name !== profileId) return stub;
    const fail = () => Promise.reject(new Error("the isolate went away"));
    return new Proxy(stub, { get: (target, key) => (key === "dropOrigins" ? fail : Reflect.get(target, key)) });
  });
}

/** Undoes a merge into `survivor` whose cleanup fails: the graph and the restored profile have it undone, not `survivor`. */
async function undoStoppedBeforeCleanup(survivor: string, undo: () => Promise<Response>): Promise<void> {
  failCleanupOf(survivor);
  expect((await undo()).status).toBe(500);
  vi.restoreAllMocks();
}

describe("a GDPR erase after a merge undo that stopped before its cleanup", { timeout: 30_000 }, () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  /** What Sam's profile shows of the people in it. */
  async function held(call: (method: string, path: string) => Promise<Response>, sam: string) {
    const profile = await (await call("GET", `/v1/profiles/${sam}`)).json<Profile>();
    return {
      identifiers: profile.identifiers.map((i) => i.value),
      traits: profile.traits,
      events: profile.event_count,
      mergedFrom: profile.merged_from,
    };
  }

  it("takes the erased person off the survivor, with no undo called again", async () => {
    const { ws, user, anon, email, sam, visitor, merge, call } = await wronglyMerged();
    await undoStoppedBeforeCleanup(sam, () => call("POST", `/v1/merges/${merge.id}/undo`));
    expect(await held(call, sam)).toMatchObject({
      identifiers: expect.arrayContaining([anon, email]),
      traits: { plan: "free", email },
      mergedFrom: [visitor],
    });

    const res = await call("DELETE", `/v1/profiles/${visitor}`);
    expect(res.status).toBe(202);
    const { deletion_id } = await res.json<ProfileErased>();
    expect((await findDeletion(env.DB, ws.workspaceId, deletion_id))?.status).toBe("done");
    // Only Sam's own login and checkout are left, and nothing of the visitor is kept as departed.
    expect(await held(call, sam)).toEqual({ identifiers: [user], traits: { name: "Sam" }, events: 2, mergedFrom: [] });
    const page = await (await call("GET", `/v1/profiles/${sam}/events?limit=100`)).json<ProfileEventsPage>();
    expect(page.data.map((e) => ("event" in e ? e.event : e.type)).sort()).toEqual(["Checkout", "identify"]);
    expect((await departedOf(sam)).departed).toBeNull();
  });

  it("finishes that cleanup by a second request for the person, which finds no identifiers left to erase", async () => {
    const { ws, user, anon, sam, visitor, merge, call } = await wronglyMerged();
    await undoStoppedBeforeCleanup(sam, () => call("POST", `/v1/merges/${merge.id}/undo`));
    // A GDPR tool sends its DELETE twice, both recorded while another repair runs.
    const erase = () => call("DELETE", `/v1/profiles/${visitor}`);
    const [first, second] = [
      await eraseStoppedBeforeGraph(ws.workspaceId, erase),
      await eraseStoppedBeforeGraph(ws.workspaceId, erase),
    ];
    // The first erases the graph and the visitor's object, but Sam's cleanup fails: its profiles step is not done.
    failCleanupOf(sam);
    const stopped = await runDeletion(env, first);
    vi.restoreAllMocks();
    expect(stopped).toMatchObject({ status: "pending", profilesAt: null });
    expect(stopped.graphAt).not.toBeNull();
    expect((await held(call, sam)).identifiers).toContain(anon);

    // The second finds the visitor gone from the graph: it erases the object again, with no identifiers to go by.
    const done = await runDeletion(env, second);
    expect(done).toMatchObject({ status: "done", profileIds: JSON.stringify([visitor]) });
    const clean = { identifiers: [user], traits: { name: "Sam" }, events: 2, mergedFrom: [] };
    expect(await held(call, sam)).toEqual(clean);
    // The first one's retry runs the cleanup again, harmlessly.
    expect((await runDeletion(env, stopped)).status).toBe("done");
    expect(await held(call, sam)).toEqual(clean);
  });

  it("takes the erased person off the survivor when the undo is called again, as its repair says", async () => {
    const { user, sam, visitor, merge, call } = await wronglyMerged();
    await undoStoppedBeforeCleanup(sam, () => call("POST", `/v1/merges/${merge.id}/undo`));

    expect((await call("DELETE", `/v1/profiles/${visitor}`)).status).toBe(202);
    const again = await call("POST", `/v1/merges/${merge.id}/undo`);
    expect(again.status).toBe(409);
    expect((await again.json<{ error: { message: string } }>()).error.message).toMatch(/was already undone at/);
    expect(await held(call, sam)).toEqual({ identifiers: [user], traits: { name: "Sam" }, events: 2, mergedFrom: [] });
    expect((await departedOf(sam)).departed).toBeNull();
  });
});
