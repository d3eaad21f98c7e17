import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import type { LiveEventsPage } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { D1IdentityStore } from "../identity/d1-identity-store";
import { DEFAULT_IDENTITY_RULES } from "../identity/rules";
import { type LiveEventsDO, liveEventsStub } from "../live-events/live-events-do";
import { input as idInput, profileOf } from "../test-support/identity-inputs";
import { bearer, seedWorkspace } from "../test-support/seed";
import { post, uid } from "../test-support/worker-requests";

function watch(secretKey: string, query = ""): Promise<Response> {
  return exports.default.fetch(`http://x/v1/events/live${query}`, { headers: { authorization: bearer(secretKey) } });
}

async function page(secretKey: string, query = ""): Promise<LiveEventsPage> {
  const res = await watch(secretKey, query);
  expect(res.status).toBe(200);
  return res.json<LiveEventsPage>();
}

/** Reads the feed until `done` holds (the collector records after its answer, in `waitUntil`). */
async function feedUntil(secretKey: string, done: (p: LiveEventsPage) => boolean): Promise<LiveEventsPage> {
  const deadline = Date.now() + 8_000;
  for (;;) {
    const p = await page(secretKey);
    if (done(p)) return p;
    if (Date.now() > deadline) throw new Error(`the feed never got there: ${JSON.stringify(p).slice(0, 800)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const sample = { at: new Date().toISOString(), status: "accepted" as const, error: null, type: "track" };
const input = (event: string) => ({
  ...sample,
  event,
  message_id: uid("m"),
  user_id: null,
  anonymous_id: "a",
  message: { type: "track", event },
});

describe("LiveEventsDO", () => {
  it("keeps the last 200 in order, recorded before anyone read the feed", async () => {
    const stub = env.LIVE_EVENTS.getByName(uid("ws"));
    await runInDurableObject<LiveEventsDO, void>(stub, async (feed) => {
      feed.record([input("Before")]);
      expect((await feed.read(0, 0)).data.map((e) => e.event)).toEqual(["Before"]);
      feed.record(Array.from({ length: 204 }, (_, i) => input(`E${i + 1}`)));
      const all = await feed.read(0, 0);
      expect(all.data).toHaveLength(200);
      expect(all.data[0]?.event).toBe("E5");
      expect(all.data.at(-1)?.event).toBe("E204");
      expect(all.cursor).toBe(all.data.at(-1)?.seq);
      expect((await feed.read(all.cursor, 0)).data).toEqual([]);
    });
  });

  it("holds a read with a wait open until something is recorded", async () => {
    const stub = env.LIVE_EVENTS.getByName(uid("ws"));
    await runInDurableObject<LiveEventsDO, void>(stub, async (feed) => {
      const first = await feed.read(0, 0);
      const waiting = feed.read(first.cursor, 20_000);
      feed.record([input("Arrived")]);
      const woken = await waiting;
      expect(woken.data.map((e) => e.event)).toEqual(["Arrived"]);
    });
  });

  it("answers a waiting read when it forgets someone, and counts the erasure", async () => {
    const stub = env.LIVE_EVENTS.getByName(uid("ws"));
    await runInDurableObject<LiveEventsDO, void>(stub, async (feed) => {
      feed.record([{ ...input("Hers"), user_id: "u-jane" }, input("Other")]);
      const first = await feed.read(0, 0);
      expect(first.erasures).toBe(0);
      // Not woken, this read would hold past the test's own timeout.
      const waiting = feed.read(first.cursor, 60_000);
      feed.forget([{ type: "user_id", value: "u-jane" }], DEFAULT_IDENTITY_RULES);
      expect(await waiting).toEqual({ data: [], cursor: first.cursor, erasures: 1 });
      expect((await feed.read(0, 0)).data.map((e) => e.event)).toEqual(["Other"]);
    });
  });

  it("reads from the start when the cursor is from before an eviction", async () => {
    const stub = env.LIVE_EVENTS.getByName(uid("ws"));
    await runInDurableObject<LiveEventsDO, void>(stub, async (feed) => {
      await feed.read(0, 0);
      feed.record([input("Only")]);
      expect((await feed.read(9_999, 0)).data.map((e) => e.event)).toEqual(["Only"]);
    });
  });
});

describe("GET /v1/events/live", () => {
  it("shows what the collector accepted and rejected, with the reason, though nobody watched when they came", async () => {
    const ws = await seedWorkspace();
    const anonymousId = uid("anon");
    const res = await post(
      "/v1/batch",
      {
        batch: [
          { type: "track", event: "Song Played", anonymousId },
          { type: "track", anonymousId },
        ],
      },
      { key: ws.writeKey },
    );
    expect(res.status).toBe(200);
    const feed = await feedUntil(ws.secretKey, (p) => p.data.length >= 2);
    const [accepted, rejected] = feed.data;
    expect(accepted).toMatchObject({
      status: "accepted",
      type: "track",
      event: "Song Played",
      anonymous_id: anonymousId,
    });
    expect(accepted?.message).toMatchObject({ event: "Song Played", anonymousId });
    expect(rejected).toMatchObject({ status: "rejected", type: "track", anonymous_id: anonymousId });
    expect(rejected?.error).toMatch(/event/);
  });

  it("shows an erased person's message as dropped, with nothing of hers", async () => {
    const ws = await seedWorkspace();
    const store = new D1IdentityStore(env.DB);
    const [gone] = await store.resolve(ws.workspaceId, DEFAULT_IDENTITY_RULES, [idInput("m0", "email:gone@x.io")]);
    await store.erase(ws.workspaceId, profileOf(gone));
    await page(ws.secretKey);
    const anonymousId = uid("anon");
    const identify = { type: "identify", messageId: uid("m"), anonymousId, traits: { email: "gone@x.io" } };
    const res = await post("/v1/batch", { batch: [identify] }, { key: ws.writeKey });
    expect(await res.json()).toMatchObject({ accepted: 1, rejected: [] });
    const feed = await feedUntil(ws.secretKey, (p) => p.data.length >= 1);
    expect(feed.data).toEqual([
      {
        seq: expect.any(Number),
        at: expect.any(String),
        status: "dropped",
        error: "names a person who was erased (GDPR delete): not stored",
        type: "identify",
        event: null,
        message_id: identify.messageId,
        user_id: null,
        anonymous_id: null,
        message: null,
      },
    ]);
  });

  it("forgets an erased person's messages, and those that reach it late, and keeps everyone else's", async () => {
    const ws = await seedWorkspace();
    await page(ws.secretKey);
    const [jane, janesDevice, email, bob] = [
      uid("u-jane"),
      uid("anon-jane"),
      `${uid("jane")}@example.com`,
      uid("u-bob"),
    ];
    const batch = [
      { type: "identify", messageId: uid("m"), userId: jane, anonymousId: janesDevice, traits: { email } },
      { type: "track", messageId: uid("m"), event: "Viewed", anonymousId: janesDevice },
      { type: "track", messageId: uid("m"), userId: jane }, // rejected (no event name): shown as sent
      { type: "track", messageId: uid("m"), event: "Viewed", userId: bob, context: { traits: { plan: "pro" } } },
    ];
    const res = await post("/v1/batch", { batch }, { key: ws.writeKey });
    expect(await res.json()).toMatchObject({ accepted: 3 });
    const before = await feedUntil(ws.secretKey, (p) => p.data.length === 4);
    // A console page waiting for news: the erase answers it, and the count it carries says to read again.
    const waiting = page(ws.secretKey, `?after=${before.cursor}&wait=20`);

    const erase = await exports.default.fetch(`http://x/v1/profiles/user_id:${jane}`, {
      method: "DELETE",
      headers: { authorization: bearer(ws.secretKey) },
    });
    expect(erase.status).toBe(202);
    const woken = await waiting;
    expect(woken).toMatchObject({ data: [], cursor: before.cursor, erasures: before.erasures + 1 });
    const after = await page(ws.secretKey);
    expect(after.data.map((e) => e.user_id)).toEqual([bob]);
    expect(JSON.stringify(after)).not.toContain(janesDevice);

    // A collector hands its messages over a moment after accepting them: one of hers accepted just before the erase.
    const late = { ...sample, event: "Late", message_id: uid("m"), user_id: null, anonymous_id: uid("a") };
    await liveEventsStub(env.LIVE_EVENTS, ws.workspaceId).record([
      { ...late, message: { type: "track", event: "Late", context: { traits: { email: email.toUpperCase() } } } },
      { ...late, anonymous_id: janesDevice, message: null }, // too large to show: its ids are all there is
      { ...late, user_id: bob, message: { type: "track", event: "Late", userId: bob } },
    ]);
    expect((await page(ws.secretKey)).data.map((e) => e.user_id)).toEqual([bob, bob]);
  });

  it("records a request whose every message was rejected", async () => {
    const ws = await seedWorkspace();
    await page(ws.secretKey);
    const res = await post("/v1/batch", { batch: [{ type: "track", event: "No Id" }] }, { key: ws.writeKey });
    expect(res.status).toBe(200);
    const feed = await feedUntil(ws.secretKey, (p) => p.data.length >= 1);
    expect(feed.data[0]).toMatchObject({ status: "rejected", event: "No Id" });
    expect(feed.data[0]?.error).toMatch(/userId|anonymousId/);
  });

  it("answers a long poll as soon as a message arrives", async () => {
    const ws = await seedWorkspace();
    const { cursor } = await page(ws.secretKey);
    const waiting = page(ws.secretKey, `?after=${cursor}&wait=20`);
    await post("/v1/track", { event: "Woke Up", userId: uid("u") }, { key: ws.writeKey });
    const woken = await waiting;
    expect(woken.data.map((e) => e.event)).toEqual(["Woke Up"]);
    expect(woken.cursor).toBeGreaterThan(cursor);
  });

  it("shows every message of requests that came together, handed to the feed in groups", async () => {
    const ws = await seedWorkspace();
    const userId = uid("u");
    const names = Array.from({ length: 12 }, (_, i) => `Burst ${i}`);
    await Promise.all(names.map((event) => post("/v1/track", { event, userId }, { key: ws.writeKey })));
    const feed = await feedUntil(ws.secretKey, (p) => p.data.length >= names.length);
    expect(feed.data.map((e) => e.event).sort()).toEqual([...names].sort());
  });

  it("keeps each workspace's feed to itself", async () => {
    const a = await seedWorkspace();
    const b = await seedWorkspace();
    await page(a.secretKey);
    await page(b.secretKey);
    await post("/v1/track", { event: "Only A", userId: uid("u") }, { key: a.writeKey });
    await feedUntil(a.secretKey, (p) => p.data.length === 1);
    expect((await page(b.secretKey)).data).toEqual([]);
  });

  it("refuses a write key and out-of-range parameters", async () => {
    const ws = await seedWorkspace();
    const refused = await watch(ws.writeKey);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: { code: "authentication_error" } });
    const bad = await watch(ws.secretKey, "?wait=99");
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      error: { code: "validation_error", message: expect.stringMatching(/wait/) },
    });
  });
});
