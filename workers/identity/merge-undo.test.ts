import { env } from "cloudflare:workers";
import type {
  AudienceMembersPage,
  MergeRecord,
  MergeUndone,
  Profile,
  ProfileEventsPage,
  ProfileMerges,
} from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { claimGraphRepairLock, releaseGraphRepairLock } from "../../d1/queries/graph-repair-locks";
import { type IngestDeps, ingestMessages, runJob } from "../ingest/pipeline";
import { ingestDepsFor } from "../ingest/pipeline-deps";
import { defineAll } from "../test-support/definitions";
import { expectGraphAndProfilesAgree } from "../test-support/identity-histories";
import { identify, track } from "../test-support/messages";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api, store } from "../test-support/store-messages";
import { uid } from "../test-support/worker-requests";
import { identityStoreFor } from "./cached-identity-store";
import { undoMerge } from "./merge-undo";

/**
 * Sam logs in (the older profile); an anonymous visitor adds to cart and says they are on the free plan (the newer
 * profile); then one checkout carries both ids, so the visitor's profile is merged into Sam's.
 */
async function wronglyMerged() {
  const ws = await seedWorkspace("merge-undo");
  await defineAll(ws.workspaceId, { audiences: { carted: { event: "Added to Cart" } } });
  const user = uid("u");
  const anon = uid("a");
  const login = identify({ name: "Sam" }, "2026-01-01T00:00:00.000Z", { userId: user });
  const cart = track("Added to Cart", "2026-01-02T00:00:00.000Z", { anonymousId: anon });
  const plan = identify({ plan: "free" }, "2026-01-02T00:01:00.000Z", { anonymousId: anon, userId: undefined });
  const checkout = track("Checkout", "2026-01-03T00:00:00.000Z", { anonymousId: anon, userId: user });
  const [sam, visitor, , survivor] = await store(ws.workspaceId, [login, cart, plan, checkout]);
  expect(survivor).toBe(sam);
  const call = async <T>(method: string, path: string, key = ws.secretKey) => {
    const res = await api(path, bearer(key), { method });
    return { status: res.status, body: await res.json<T>() };
  };
  const get = async <T>(path: string) => {
    const res = await call<T>("GET", path);
    expect(res.status, path).toBe(200);
    return res.body;
  };
  const { data } = await get<ProfileMerges>(`/v1/profiles/${sam}/merges`);
  expect(data).toMatchObject([{ from: visitor, into: sam, undone_at: null }]);
  return {
    ws,
    user,
    anon,
    sam: sam as string,
    visitor: visitor as string,
    merge: data[0] as MergeRecord,
    messages: { login, cart, plan, checkout },
    call,
    get,
  };
}

/**
 * A shopper known by email before Sam ever logged in (the older profile, which survives when they are linked), then
 * `wronglyMerged`'s visitor merged into Sam; `linking` is the message that shows Sam is the shopper.
 */
async function samAndAnOlderShopper(name: string) {
  const ws = await seedWorkspace(name);
  const [user, anon, shopper, email] = [uid("u"), uid("a"), uid("a"), `${uid("x")}@example.com`];
  const seen = identify({ email }, "2025-12-01T00:00:00.000Z", { anonymousId: shopper, userId: undefined });
  const login = identify({ name: "Sam" }, "2026-01-01T00:00:00.000Z", { userId: user });
  const cart = track("Added to Cart", "2026-01-02T00:00:00.000Z", { anonymousId: anon });
  const checkout = track("Checkout", "2026-01-03T00:00:00.000Z", { anonymousId: anon, userId: user });
  const [older, sam, visitor, survivor] = await store(ws.workspaceId, [seen, login, cart, checkout]);
  expect(survivor).toBe(sam);
  const [merge] = await identityStoreFor(env).mergesInto(ws.workspaceId, sam as string);
  expect(merge).toMatchObject({ from: visitor, into: sam });
  return {
    ws,
    anon,
    older: older as string,
    sam: sam as string,
    visitor: visitor as string,
    merge: merge as MergeRecord,
    cart,
    linking: identify({ email }, "2026-01-04T00:00:00.000Z", { userId: user, anonymousId: undefined }),
    /** Every identifier of the three, as profile refs. */
    refs: [`anonymous_id:${anon}`, `user_id:${user}`, `anonymous_id:${shopper}`, `email:${email}`],
  };
}

/**
 * The production pipeline's dependencies, with the profile calls of one kind (a delivery's `ingest`, a fold's
 * `mergeInto`) let through first and the others held until one of them has finished: the two race in a request.
 */
function oneCallFirst(first: "ingest" | "mergeInto"): IngestDeps {
  const real = ingestDepsFor(env);
  let finished!: () => void;
  const firstDone = new Promise<void>((resolve) => {
    finished = resolve;
  });
  const inTurn = async <T>(kind: typeof first, call: () => Promise<T>): Promise<T> => {
    if (kind !== first) await firstDone;
    const result = await call();
    if (kind === first) finished();
    return result;
  };
  return {
    ...real,
    profile: (id) => ({
      ingest: (input) => inTurn("ingest", () => real.profile(id).ingest(input)),
      mergeInto: (into, self) => inTurn("mergeInto", () => real.profile(id).mergeInto(into, self)),
    }),
  };
}

/** Sam logged in; a visitor browsed on another device, in a request of its own: two profiles, not yet linked. */
async function separateVisitor() {
  const ws = await seedWorkspace("merge-undo-order");
  const [user, anon] = [uid("u"), uid("a")];
  const login = identify({ name: "Sam" }, "2026-01-01T00:00:00.000Z", { userId: user });
  const cart = track("Added to Cart", "2026-01-02T00:00:00.000Z", { anonymousId: anon });
  const checkout = track("Checkout", "2026-01-03T00:00:00.000Z", { anonymousId: anon, userId: user });
  const [sam, visitor] = await store(ws.workspaceId, [login, cart]);
  expect(sam).not.toBe(visitor);
  return { ws, user, anon, sam: sam as string, visitor: visitor as string, messages: { login, cart, checkout } };
}

// D1's member list is written by the profile's outbox after its commit (the alarm delivers it), so it is read until
// it settles rather than at one instant.
const POLL = { timeout: 5_000, interval: 50 };

const eventIds = (page: ProfileEventsPage) => page.data.map((e) => e.messageId).sort();

describe("POST /v1/merges/:id/undo", () => {
  it("gives the merged-away profile back its identifiers, events, traits and audiences", async () => {
    const { ws, user, anon, sam, visitor, merge, messages, call, get } = await wronglyMerged();
    const cartedMembers = async () => (await get<AudienceMembersPage>("/v1/audiences/carted/members")).data;
    await expect.poll(cartedMembers, POLL).toMatchObject([{ profile_id: sam }]);

    const undone = await call<MergeUndone>("POST", `/v1/merges/${merge.id}/undo`);
    expect(undone.status).toBe(200);
    expect(undone.body).toMatchObject({
      merge: { id: merge.id, from: visitor, into: sam, undone_at: expect.any(String) },
      restored_profile: visitor,
      survivor: sam,
      events: 2,
    });
    expect(undone.body.identifiers).toBe(1);

    const restored = await get<Profile>(`/v1/profiles/anonymous_id:${encodeURIComponent(anon)}`);
    expect(restored).toMatchObject({ id: visitor, event_count: 2, traits: { plan: "free" }, merged_from: [] });
    expect(restored.identifiers.map((i) => `${i.type}:${i.value}`)).toEqual([`anonymous_id:${anon}`]);
    expect(restored.audiences.map((a) => a.key)).toEqual(["carted"]);
    expect(eventIds(await get<ProfileEventsPage>(`/v1/profiles/${visitor}/events`))).toEqual(
      [messages.cart.messageId, messages.plan.messageId].sort(),
    );

    // The checkout arrived on Sam's profile (it resolved there), so it stays there.
    const kept = await get<Profile>(`/v1/profiles/user_id:${encodeURIComponent(user)}`);
    expect(kept).toMatchObject({ id: sam, event_count: 2, traits: { name: "Sam" }, merged_from: [], audiences: [] });
    expect(kept.traits).not.toHaveProperty("plan");
    expect(kept.identifiers.map((i) => i.type)).toEqual(["user_id"]);
    expect(eventIds(await get<ProfileEventsPage>(`/v1/profiles/${sam}/events`))).toEqual(
      [messages.login.messageId, messages.checkout.messageId].sort(),
    );

    // Membership changes flowed as usual: D1's member list follows the split.
    await expect.poll(cartedMembers, POLL).toMatchObject([{ profile_id: visitor }]);
    // The journal keeps the entry, with undone_at; a second undo is refused; another workspace sees nothing.
    const journal = await get<ProfileMerges>(`/v1/profiles/${sam}/merges`);
    expect(journal.data).toEqual([{ ...merge, undone_at: undone.body.merge.undone_at }]);
    const again = await call<{ error: { code: string; message: string } }>("POST", `/v1/merges/${merge.id}/undo`);
    expect(again).toEqual({
      status: 409,
      body: { error: { code: "conflict", message: expect.stringMatching(/was already undone at/) } },
    });
    const other = await seedWorkspace("merge-undo-other");
    const foreign = await call("POST", `/v1/merges/${merge.id}/undo`, other.secretKey);
    expect(foreign.status).toBe(404);
    expect((await call("POST", "/v1/merges/mrg_unknown/undo")).status).toBe(404);

    // A fold of the undone merge still waiting in the retry queue does not merge the profiles again.
    await runJob(ingestDepsFor(env), { kind: "merge", workspaceId: ws.workspaceId, from: visitor, into: sam });
    expect((await get<Profile>(`/v1/profiles/${visitor}`)).id).toBe(visitor);

    // A new message linking both ids merges them again, as a new journal entry.
    await store(ws.workspaceId, [track("Checkout", "2026-01-04T00:00:00.000Z", { anonymousId: anon, userId: user })]);
    const remerged = await get<ProfileMerges>(`/v1/profiles/${sam}/merges`);
    expect(remerged.data).toHaveLength(2);
    expect(remerged.data[1]).toMatchObject({ from: visitor, into: sam, undone_at: null });
    expect((await get<Profile>(`/v1/profiles/anonymous_id:${encodeURIComponent(anon)}`)).id).toBe(sam);
  });

  it("sends the restored person's later events home though another isolate's cache still names the survivor", async () => {
    const { ws, anon, sam, visitor, merge, call, get } = await wronglyMerged();
    expect((await call("POST", `/v1/merges/${merge.id}/undo`)).status).toBe(200);
    // An isolate that learned anon → sam while they were merged and never heard of the undo (a visitor's profile
    // cookie vouching for sam lands in the cache the same way).
    const cache = identityStoreFor(env).cache;
    const anonId = { type: "anonymous_id", value: anon } as const;
    cache.set(ws.workspaceId, anonId, sam);

    const later = track("Viewed Product", "2026-01-04T00:00:00.000Z", { anonymousId: anon, userId: undefined });
    const report = await ingestMessages(ingestDepsFor(env), ws.workspaceId, [{ index: 0, message: later }]);
    expect(report).toEqual({
      rejected: [],
      failed: [],
      profileIds: [visitor],
      dropped: [],
      erased: [],
      duplicates: 0,
      overloaded: false,
    });
    expect(cache.get(ws.workspaceId, anonId)).toBe(visitor);
    expect(eventIds(await get<ProfileEventsPage>(`/v1/profiles/${visitor}/events`))).toContain(later.messageId);
    expect(eventIds(await get<ProfileEventsPage>(`/v1/profiles/${sam}/events`))).not.toContain(later.messageId);
  });

  it("merges nothing again for a redelivery of the message whose merge was undone; a later message may", async () => {
    const { ws, anon, user, sam, visitor, merge, messages, call, get } = await wronglyMerged();
    expect((await call("POST", `/v1/merges/${merge.id}/undo`)).status).toBe(200);
    // An SDK's retry of the checkout: the same message, stored once, and its merge stays undone.
    const again = await ingestMessages(ingestDepsFor(env), ws.workspaceId, [{ index: 0, message: messages.checkout }]);
    expect(again.failed).toEqual([]);
    const { data, dropped_links } = await get<ProfileMerges>(`/v1/profiles/${sam}/merges`);
    expect(data).toMatchObject([{ id: merge.id, undone_at: expect.any(String) }]);
    expect(dropped_links).toContainEqual(
      expect.objectContaining({ message_id: messages.checkout.messageId, rule: "undone:merge" }),
    );
    expect((await get<Profile>(`/v1/profiles/anonymous_id:${encodeURIComponent(anon)}`)).id).toBe(visitor);
    // A later message carrying both ids is a new decision: it merges them again, as a new journal entry.
    const later = track("Checkout", "2026-01-05T00:00:00.000Z", { anonymousId: anon, userId: user });
    await store(ws.workspaceId, [later]);
    const after = await get<ProfileMerges>(`/v1/profiles/${sam}/merges`);
    expect(after.data).toHaveLength(2);
  });

  it("keeps nothing of the restored person in the journal once they are erased, though the merge was into another", async () => {
    const { ws, anon, sam, visitor, merge, messages, call } = await wronglyMerged();
    expect((await call("POST", `/v1/merges/${merge.id}/undo`)).status).toBe(200);
    // A redelivered checkout: its link back to Sam is refused and journalled on Sam's profile.
    await ingestMessages(ingestDepsFor(env), ws.workspaceId, [{ index: 0, message: messages.checkout }]);
    const naming = async () => {
      const rows = await env.DB.prepare(
        `SELECT 'merge' AS kind, detail AS text FROM merges WHERE workspace_id = ?1
         UNION ALL SELECT 'refused link', value FROM dropped_links WHERE workspace_id = ?1`,
      )
        .bind(ws.workspaceId)
        .all<{ kind: string; text: string | null }>();
      return rows.results.filter((r) => r.text?.includes(anon)).map((r) => r.kind);
    };
    expect(await naming()).toEqual(["merge", "refused link"]);

    expect((await call("DELETE", `/v1/profiles/${visitor}`)).status).toBe(202);
    expect(await naming()).toEqual([]);
    // Sam is untouched, and the journal still says the merge happened and was undone.
    expect((await call<Profile>("GET", `/v1/profiles/${sam}`)).status).toBe(200);
    const journal = await call<ProfileMerges>("GET", `/v1/profiles/${sam}/merges`);
    expect(journal.body.data).toMatchObject([{ id: merge.id, from: visitor, undone_at: expect.any(String) }]);
  });

  it("undoes a merge made by the request that created the merged-away profile, though its fold came first", async () => {
    const ws = await seedWorkspace("merge-undo-one-request");
    const [user, anon] = [uid("u"), uid("a")];
    const [sam] = await store(ws.workspaceId, [
      identify({ name: "Sam" }, "2026-01-01T00:00:00.000Z", { userId: user }),
    ]);
    // One SDK batch: the visitor browses (a new profile), then logs in as Sam (merged into Sam's, same request).
    const cart = identify({ email: `${anon}@example.com` }, "2026-01-02T00:00:00.000Z", {
      anonymousId: anon,
      userId: undefined,
    });
    const checkout = track("Checkout", "2026-01-02T00:01:00.000Z", { anonymousId: anon, userId: user });
    // The fold of the new profile reaches it before its own messages do (the two run at once): they are stored on
    // the survivor, and must still say they arrived on the visitor's profile.
    const deps = oneCallFirst("mergeInto");
    const items = [cart, checkout].map((message, index) => ({ index, message }));
    expect((await ingestMessages(deps, ws.workspaceId, items)).failed).toEqual([]);
    const headers = bearer(ws.secretKey);
    const { data } = await (await api(`/v1/profiles/${sam}/merges`, headers)).json<ProfileMerges>();
    expect(data).toMatchObject([{ into: sam, message_id: checkout.messageId }]);
    const visitor = data[0].from;
    expect((await (await api(`/v1/profiles/${sam}`, headers)).json<Profile>()).merged_from).toEqual([visitor]);

    const res = await api(`/v1/merges/${data[0].id}/undo`, headers, { method: "POST" });
    expect(await res.json<MergeUndone>()).toMatchObject({ restored_profile: visitor, identifiers: 2, events: 1 });
    const restored = await (await api(`/v1/profiles/email:${anon}%40example.com`, headers)).json<Profile>();
    expect(restored).toMatchObject({ id: visitor, event_count: 1, traits: { email: `${anon}@example.com` } });
    expect(restored.identifiers.map((i) => i.type).sort()).toEqual(["anonymous_id", "email"]);
    const survivor = await (await api(`/v1/profiles/user_id:${user}`, headers)).json<Profile>();
    expect(survivor.identifiers.map((i) => i.type)).toEqual(["user_id"]);
    expect(survivor).toMatchObject({ event_count: 2, merged_from: [] });
  });

  it("takes the merged-away profile's ids off the survivor though the merging message put them there first", async () => {
    const { ws, user, anon, sam, visitor, messages } = await separateVisitor();
    // The checkout links both ids; it reaches Sam's object before the visitor's fold does, so Sam's object first
    // hears the visitor's anonymous id from it (as its own).
    const deps = oneCallFirst("ingest");
    const items = [{ index: 0, message: messages.checkout }];
    expect((await ingestMessages(deps, ws.workspaceId, items)).failed).toEqual([]);
    const headers = bearer(ws.secretKey);
    const { data } = await (await api(`/v1/profiles/${sam}/merges`, headers)).json<ProfileMerges>();
    expect(data).toMatchObject([{ from: visitor, into: sam }]);

    expect((await api(`/v1/merges/${data[0].id}/undo`, headers, { method: "POST" })).status).toBe(200);
    const kept = await (await api(`/v1/profiles/user_id:${user}`, headers)).json<Profile>();
    expect(kept.identifiers.map((i) => `${i.type}:${i.value}`)).toEqual([`user_id:${user}`]);
    const restored = await (await api(`/v1/profiles/anonymous_id:${anon}`, headers)).json<Profile>();
    expect(restored).toMatchObject({ id: visitor, event_count: 1 });
    expect(restored.identifiers.map((i) => `${i.type}:${i.value}`)).toEqual([`anonymous_id:${anon}`]);
  });

  it("leaves each profile listing exactly what the graph gives it, after undoing merges of one request", async () => {
    const ws = await seedWorkspace("merge-undo-agree");
    const [user, a, b] = [uid("u"), uid("a"), uid("b")];
    const email = `${b}@example.com`;
    await store(ws.workspaceId, [identify({ name: "Sam" }, "2026-01-01T00:00:00.000Z", { userId: user })]);
    // One request: two visitors, the second one's email claimed first, then the first one identifies with it (the
    // two merge), then the second logs in as Sam (both merge into Sam). The email arrives on both visitors' sides.
    const at = (minute: number) => `2026-01-02T00:0${minute}:00.000Z`;
    const batch = [
      track("Viewed", at(0), { anonymousId: a }),
      track("Viewed", at(1), { anonymousId: b, context: { traits: { email } } }),
      identify({ email }, at(2), { anonymousId: a, userId: undefined }),
      identify({}, at(3), { anonymousId: b, userId: user }),
    ];
    const items = batch.map((message, index) => ({ index, message }));
    expect((await ingestMessages(ingestDepsFor(env), ws.workspaceId, items)).failed).toEqual([]);
    const headers = bearer(ws.secretKey);
    const read = async <T>(path: string) => (await api(path, headers)).json<T>();
    const { data } = await read<ProfileMerges>(`/v1/profiles/user_id:${user}/merges`);
    expect(data).toHaveLength(2);

    for (const merge of data) {
      const res = await api(`/v1/merges/${merge.id}/undo`, headers, { method: "POST" });
      expect(res.status, merge.id).toBe(200);
    }
    const profiles = [...new Set(data.flatMap((m) => [m.from, m.into]))];
    expect(profiles).toHaveLength(3);
    const listed = new Map<string, string>();
    for (const id of profiles) {
      const profile = await read<Profile>(`/v1/profiles/${id}`);
      expect(profile.id).toBe(id);
      for (const i of profile.identifiers) {
        expect(listed.get(`${i.type}:${i.value}`), `${i.type}:${i.value} listed twice`).toBeUndefined();
        listed.set(`${i.type}:${i.value}`, id);
        const owner = await read<Profile>(`/v1/profiles/${i.type}:${encodeURIComponent(i.value)}`);
        expect(owner.id, `${i.type}:${i.value} is listed on ${id}`).toBe(id);
      }
    }
    expect([...listed.keys()].sort()).toEqual(
      [`anonymous_id:${a}`, `anonymous_id:${b}`, `email:${email}`, `user_id:${user}`].sort(),
    );
  });

  it("undoes a merge whose survivor has since merged into an older profile", async () => {
    const ws = await seedWorkspace("merge-undo-chain");
    const [elder, user, anon] = [uid("elder"), uid("u"), uid("a")];
    const first = track("Store Visit", "2026-01-01T00:00:00.000Z", { anonymousId: elder });
    const login = identify({ name: "Sam" }, "2026-01-02T00:00:00.000Z", { userId: user });
    const cart = track("Added to Cart", "2026-01-03T00:00:00.000Z", { anonymousId: anon });
    const link = track("Checkout", "2026-01-04T00:00:00.000Z", { anonymousId: anon, userId: user });
    const later = track("Receipt", "2026-01-05T00:00:00.000Z", { anonymousId: elder, userId: user });
    const [oldest, sam, visitor] = await store(ws.workspaceId, [first, login, cart, link, later]);
    const headers = bearer(ws.secretKey);
    const journal = await (await api(`/v1/profiles/${oldest}/merges`, headers)).json<ProfileMerges>();
    const visitorMerge = journal.data.find((m) => m.from === visitor) as MergeRecord;
    expect(visitorMerge).toMatchObject({ into: sam });
    expect(journal.data.find((m) => m.from === sam)).toMatchObject({ into: oldest });

    const res = await api(`/v1/merges/${visitorMerge.id}/undo`, headers, { method: "POST" });
    expect(res.status).toBe(200);
    expect(await res.json<MergeUndone>()).toMatchObject({ restored_profile: visitor, survivor: oldest, events: 1 });

    const restored = await (await api(`/v1/profiles/anonymous_id:${anon}`, headers)).json<Profile>();
    expect(restored).toMatchObject({ id: visitor, event_count: 1 });
    const survivor = await (await api(`/v1/profiles/user_id:${user}`, headers)).json<Profile>();
    expect(survivor).toMatchObject({ id: oldest, event_count: 4, merged_from: [sam] });
    expect(survivor.identifiers.map((i) => i.value).sort()).toEqual([elder, user].sort());
    const events = await (await api(`/v1/profiles/${oldest}/events`, headers)).json<ProfileEventsPage>();
    expect(events.data.map((e) => e.messageId).sort()).toEqual(
      [first.messageId, login.messageId, link.messageId, later.messageId].sort(),
    );
  });

  it("waits for the repair running in the workspace, and takes over one abandoned by a dead isolate", async () => {
    const { ws, merge, visitor } = await wronglyMerged();
    // Another undo or erase of this workspace holds the lock, and finishes 300 ms from now.
    const held = Date.now();
    expect(await claimGraphRepairLock(env.DB, ws.workspaceId, "mrg_other", held, 0)).toBe(true);
    setTimeout(() => void releaseGraphRepairLock(env.DB, ws.workspaceId, "mrg_other", held), 300);
    const started = Date.now();
    const res = await api(`/v1/merges/${merge.id}/undo`, bearer(ws.secretKey), { method: "POST" });
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(await res.json<MergeUndone>()).toMatchObject({ restored_profile: visitor });

    // A repair whose isolate died a minute ago still "holds" it: the next one goes ahead at once.
    const other = await wronglyMerged();
    expect(await claimGraphRepairLock(env.DB, other.ws.workspaceId, "mrg_dead", Date.now() - 61_000, 0)).toBe(true);
    const taken = await api(`/v1/merges/${other.merge.id}/undo`, bearer(other.ws.secretKey), { method: "POST" });
    expect(taken.status).toBe(200);
  });

  it("answers 409 with Retry-After when the running repair outlasts the wait", async () => {
    const { ws, merge, sam, get } = await wronglyMerged();
    expect(await claimGraphRepairLock(env.DB, ws.workspaceId, "mrg_other", Date.now(), 0)).toBe(true);
    const res = await api(`/v1/merges/${merge.id}/undo`, bearer(ws.secretKey), { method: "POST" });
    expect(res.status).toBe(409);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await res.json()).toEqual({
      error: {
        code: "conflict",
        message: "Another merge undo or erase is running in this workspace; try again in a moment.",
      },
    });
    // Nothing was undone.
    expect((await get<ProfileMerges>(`/v1/profiles/${sam}/merges`)).data).toMatchObject([
      { id: merge.id, undone_at: null },
    ]);
  });

  it("splits at the new end of the chain when a message merges the survivor on while the undo runs", async () => {
    const { ws, anon, older, visitor, merge, linking, refs } = await samAndAnOlderShopper("merge-undo-moved-on");

    // Sam turns out to be the shopper: the message arrives after the undo restored the visitor, before its split.
    let linked = false;
    const interleaved = {
      ...env,
      PROFILE: {
        getByName(name: string) {
          const stub = env.PROFILE.getByName(name);
          if (name !== visitor) return stub;
          const call = (method: string, input: unknown) =>
            (stub as unknown as Record<string, (input: unknown) => Promise<unknown>>)[method](input);
          return new Proxy(stub, {
            get: (_target, method: string) => async (input: unknown) => {
              const answer = await call(method, input);
              if (method === "restoreFrom" && !linked) {
                linked = true;
                expect(await store(ws.workspaceId, [linking])).toEqual([older]);
              }
              return answer;
            },
          });
        },
      },
    } as unknown as Env;
    const undone = await undoMerge(interleaved, ws.workspaceId, merge.id);
    expect(linked).toBe(true);
    expect(undone).toMatchObject({ restored_profile: visitor, survivor: older, identifiers: 1, events: 1 });

    // The visitor is found by its anonymous id again; Sam's user id and the shopper's email find the older profile.
    const live = await expectGraphAndProfilesAgree(ws.secretKey, refs, 5, "undone after the survivor moved on");
    expect([...live].sort()).toEqual([older, visitor].sort());
    const back = await api(`/v1/profiles/anonymous_id:${encodeURIComponent(anon)}`, bearer(ws.secretKey));
    expect(await back.json<Profile>()).toMatchObject({ id: visitor, event_count: 1 });
  });

  it("finishes a fold still on its way up the chain before it reads the survivor", async () => {
    const { ws, older, sam, visitor, merge, cart, linking, refs } =
      await samAndAnOlderShopper("merge-undo-fold-pending");

    // Sam turns out to be the shopper, but the fold of Sam's object into the shopper's fails (it waits for a retry):
    // the visitor's cart is still in Sam's object, not the survivor's.
    const real = ingestDepsFor(env);
    const foldFails: IngestDeps = {
      ...real,
      profile: (id) => ({
        ingest: (input) => real.profile(id).ingest(input),
        mergeInto: () => Promise.reject(new Error("object unavailable")),
      }),
    };
    const report = await ingestMessages(foldFails, ws.workspaceId, [{ index: 0, message: linking }], { quiet: true });
    expect(report.failed).toMatchObject([{ kind: "merge", from: sam, into: older }]);

    const res = await api(`/v1/merges/${merge.id}/undo`, bearer(ws.secretKey), { method: "POST" });
    expect(await res.json<MergeUndone>()).toMatchObject({ restored_profile: visitor, survivor: older, events: 1 });
    const live = await expectGraphAndProfilesAgree(ws.secretKey, refs, 5, "undone through a pending fold");
    expect([...live].sort()).toEqual([older, visitor].sort());
    const back = await api(`/v1/profiles/${visitor}/events`, bearer(ws.secretKey));
    expect((await back.json<ProfileEventsPage>()).data.map((e) => e.messageId)).toEqual([cart.messageId]);
  });

  it("gives back each identifier to the profile it was first attached to, though a message put it on another", async () => {
    const ws = await seedWorkspace("merge-undo-provenance");
    const [user, a, b] = [uid("u"), uid("a"), uid("b")];
    const [emailA, emailB] = [`${a}@example.com`, `${b}@example.com`];
    // Sam, then two shoppers, each with an anonymous id and an email: three profiles, oldest first.
    await store(ws.workspaceId, [identify({ name: "Sam" }, "2026-01-01T00:00:00.000Z", { userId: user })]);
    await store(ws.workspaceId, [
      identify({ email: emailA }, "2026-01-01T01:00:00.000Z", { anonymousId: a, userId: undefined }),
    ]);
    await store(ws.workspaceId, [
      identify({ email: emailB }, "2026-01-01T02:00:00.000Z", { anonymousId: b, userId: undefined }),
    ]);
    // One request: B's device gives A's email (B merges into A), A's device gives B's email (a message of A now),
    // then A's device logs in as Sam (A merges into Sam). The second message reaches Sam's object before B's fold,
    // so Sam's object records B's email as arriving on A; the journal names only B's anonymous id.
    const batch = [
      identify({ email: emailA }, "2026-01-02T00:00:00.000Z", { anonymousId: b, userId: undefined }),
      identify({ email: emailB }, "2026-01-02T00:01:00.000Z", { anonymousId: a, userId: undefined }),
      track("Checkout", "2026-01-02T00:02:00.000Z", { anonymousId: a, userId: user }),
    ];
    const items = batch.map((message, index) => ({ index, message }));
    expect((await ingestMessages(oneCallFirst("ingest"), ws.workspaceId, items)).failed).toEqual([]);
    const headers = bearer(ws.secretKey);
    const read = async <T>(path: string) => (await api(path, headers)).json<T>();
    const sam = (await read<Profile>(`/v1/profiles/user_id:${user}`)).id;
    const { data } = await read<ProfileMerges>(`/v1/profiles/${sam}/merges`);
    const upper = data.find((m) => m.into === sam);
    const deeper = data.find((m) => m.into === upper?.from);
    expect(data).toHaveLength(2);

    for (const merge of [upper, deeper]) {
      const res = await api(`/v1/merges/${merge?.id}/undo`, headers, { method: "POST" });
      expect(res.status, await res.clone().text()).toBe(200);
    }
    const refs = [`user_id:${user}`, `anonymous_id:${a}`, `anonymous_id:${b}`, `email:${emailA}`, `email:${emailB}`];
    const live = await expectGraphAndProfilesAgree(ws.secretKey, refs, 6, "both undone");
    expect(live.size).toBe(3);
    const shopperB = await read<Profile>(`/v1/profiles/anonymous_id:${b}`);
    expect(shopperB.id).toBe(deeper?.from);
    expect(shopperB.identifiers.map((i) => i.value).sort()).toEqual([b, emailB].sort());
  });

  it("gives a deeper merge's identifiers back with its parent, so undoing that merge next still finds them", async () => {
    const ws = await seedWorkspace("merge-undo-deeper");
    const [user, v, w] = [uid("u"), uid("v"), uid("w")];
    const login = identify({ name: "Sam" }, "2026-01-01T00:00:00.000Z", { userId: user });
    await store(ws.workspaceId, [login]);
    // One request: a visitor's two devices (v, then w), linked by the email given on each, then Sam's login on v: w
    // merges into v and v into Sam, before any of the request's messages is stored.
    const email = `${v}@example.com`;
    const batch = [
      track("Viewed", "2026-01-02T00:00:00.000Z", { anonymousId: v, userId: undefined }),
      track("Viewed", "2026-01-02T00:01:00.000Z", { anonymousId: w, userId: undefined }),
      identify({ email }, "2026-01-02T00:02:00.000Z", { anonymousId: w, userId: undefined }),
      identify({ email }, "2026-01-02T00:03:00.000Z", { anonymousId: v, userId: undefined }),
      track("Checkout", "2026-01-02T00:04:00.000Z", { anonymousId: v, userId: user }),
    ];
    const items = batch.map((message, index) => ({ index, message }));
    expect((await ingestMessages(ingestDepsFor(env), ws.workspaceId, items)).failed).toEqual([]);
    const headers = bearer(ws.secretKey);
    const sam = (await (await api(`/v1/profiles/user_id:${user}`, headers)).json<Profile>()).id;
    const { data } = await (await api(`/v1/profiles/${sam}/merges`, headers)).json<ProfileMerges>();
    const upper = data.find((m) => m.into === sam);
    const deeper = data.find((m) => m.into === upper?.from);
    expect(data).toHaveLength(2);
    expect(deeper).toBeDefined();

    // Undone from the top: the visitor's first device, then the second one merged into it.
    for (const merge of [upper, deeper]) {
      const res = await api(`/v1/merges/${merge?.id}/undo`, headers, { method: "POST" });
      expect(res.status, await res.clone().text()).toBe(200);
    }
    const refs = [`user_id:${user}`, `anonymous_id:${v}`, `anonymous_id:${w}`, `email:${email}`];
    const live = await expectGraphAndProfilesAgree(ws.secretKey, refs, 6, "both undone");
    expect([...live].sort()).toEqual([sam, deeper?.into, deeper?.from].sort());
    // Which device's profile survived their merge depends on the request's order of work; each has its own again.
    const ofDevice = async (anon: string) =>
      (await (await api(`/v1/profiles/anonymous_id:${anon}`, headers)).json<Profile>()).id;
    expect(new Set([await ofDevice(v), await ofDevice(w)])).toEqual(new Set([deeper?.from, deeper?.into]));
  });
});
