import { env } from "cloudflare:workers";
import type { IngestResponse } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { identityStoreFor } from "../identity/cached-identity-store";
import { profileStub } from "../profile/profile-stub";
import { seedWorkspace } from "../test-support/seed";
import { post, storedEvents, uid } from "../test-support/worker-requests";

const { workspaceId, writeKey } = await seedWorkspace("spec");
const anon = (value: string) => ({ type: "anonymous_id", value });

/** One fixture per call type, as the Segment Spec shows them. */
function fixtures(anonymousId: string) {
  return {
    track: { event: "Order Completed", anonymousId, properties: { revenue: 39.5, currency: "EUR" } },
    identify: { anonymousId, traits: { name: "Jane Kim", plan: "pro" } },
    page: { anonymousId, name: "Pricing", category: "Docs", properties: { path: "/pricing" } },
    screen: { anonymousId, name: "Home", properties: { variation: "blue" } },
    group: { anonymousId, groupId: "acme", traits: { employees: 42 } },
    alias: { anonymousId, previousId: anonymousId, userId: uid("u") },
  } as const;
}

describe("collector endpoints", () => {
  for (const type of ["track", "identify", "page", "screen", "group"] as const) {
    it(`stores a single ${type} call posted to /v1/${type}`, async () => {
      const a = uid("anon");
      const res = await post(`/v1/${type}`, fixtures(a)[type], { key: writeKey });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ success: true, accepted: 1, rejected: [] });
      const events = await storedEvents(workspaceId, anon(a));
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ type, ...fixtures(a)[type] });
    });
  }

  it("stores an alias call and links previousId to the user", async () => {
    const a = uid("anon");
    const userId = uid("user");
    await post("/v1/track", { event: "Viewed", anonymousId: a }, { key: writeKey });
    const res = await post("/v1/alias", { previousId: a, userId }, { key: writeKey });
    expect(await res.json()).toEqual({ success: true, accepted: 1, rejected: [] });
    const events = await storedEvents(workspaceId, { type: "user_id", value: userId });
    expect(events.map((e) => e.type).sort()).toEqual(["alias", "track"]);
  });

  it("stores a batch with every call type, one profile per visitor", async () => {
    const a = uid("anon");
    const f = fixtures(a);
    const batch = (["track", "identify", "page", "screen", "group"] as const).map((type) => ({ type, ...f[type] }));
    const res = await post("/v1/batch", { batch }, { key: writeKey });
    expect(await res.json()).toEqual({ success: true, accepted: 5, rejected: [] });
    const events = await storedEvents(workspaceId, anon(a));
    expect(events.map((e) => e.type).sort()).toEqual(["group", "identify", "page", "screen", "track"]);
  });

  it("accepts the short aliases /v1/t and /v1/b", async () => {
    const a = uid("anon");
    expect((await post("/v1/t", { event: "Short", anonymousId: a }, { key: writeKey })).status).toBe(200);
    const res = await post("/v1/b", { batch: [{ type: "page", anonymousId: a }] }, { key: writeKey });
    expect(await res.json()).toMatchObject({ accepted: 1 });
    expect(await storedEvents(workspaceId, anon(a))).toHaveLength(2);
  });

  it("accepts a batch at /v1/import, where Segment's Ruby and Java libraries send theirs", async () => {
    const a = uid("anon");
    const res = await post(
      "/v1/import",
      { batch: [{ type: "track", event: "Imported", anonymousId: a }] },
      { key: writeKey },
    );
    expect(await res.json()).toEqual({ success: true, accepted: 1, rejected: [] });
    expect(await storedEvents(workspaceId, anon(a))).toMatchObject([{ event: "Imported" }]);
  });

  it("keeps constructor and prototype keys as the ordinary data they are", async () => {
    const a = uid("anon");
    const properties = { constructor: "Ferrari", car: { prototype: "SF-26" } };
    const batch = [
      { type: "track", event: "Race Watched", anonymousId: a, properties },
      { type: "identify", anonymousId: a, traits: { constructor: "Ferrari" } },
    ];
    expect(await (await post("/v1/batch", { batch }, { key: writeKey })).json()).toEqual({
      success: true,
      accepted: 2,
      rejected: [],
    });
    const events = await storedEvents(workspaceId, anon(a));
    expect(events.find((e) => e.type === "track")).toMatchObject({ properties });
    expect(events.find((e) => e.type === "identify")).toMatchObject({ traits: { constructor: "Ferrari" } });
    expect(Object.prototype).not.toHaveProperty("Ferrari");
  });

  it("takes the write key from the body when there is no Authorization header", async () => {
    const a = uid("anon");
    const res = await post("/v1/batch", { writeKey, batch: [{ type: "track", event: "Body Key", anonymousId: a }] });
    expect(res.status).toBe(200);
    const [event] = await storedEvents(workspaceId, anon(a));
    expect(event).toMatchObject({ event: "Body Key" });
    expect(event).not.toHaveProperty("writeKey");
  });

  it("accepts text/plain bodies (browsers avoiding the CORS preflight)", async () => {
    const a = uid("anon");
    const res = await post(
      "/v1/track",
      { writeKey, event: "Beacon", anonymousId: a },
      { headers: { "content-type": "text/plain;charset=UTF-8" } },
    );
    expect(res.status).toBe(200);
    expect(await storedEvents(workspaceId, anon(a))).toHaveLength(1);
  });

  it("accepts gzipped JSON labelled application/x-www-form-urlencoded (RudderStack's Node SDK)", async () => {
    const a = uid("anon");
    const json = JSON.stringify({ batch: [{ type: "track", event: "Zipped", anonymousId: a }] });
    const gz = await new Response(new Blob([json]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer();
    const res = await post("/v1/batch", null, {
      key: writeKey,
      raw: gz,
      headers: { "content-type": "application/x-www-form-urlencoded", "content-encoding": "gzip" },
    });
    expect(await res.json()).toEqual({ success: true, accepted: 1, rejected: [] });
    expect(await storedEvents(workspaceId, anon(a))).toHaveLength(1);
  });

  it("keeps valid messages of a batch and reports the invalid ones by index", async () => {
    const a = uid("anon");
    const batch = [
      { type: "track", event: "Kept", anonymousId: a, messageId: "m-ok" },
      { type: "track", anonymousId: a, messageId: "m-bad" },
      { type: "page", anonymousId: a },
      // Without an id of its own: the entry names one made for it (DESIGN §3's shape), as a stored message gets.
      { type: "track", anonymousId: a },
    ];
    const res = await post("/v1/batch", { batch }, { key: writeKey });
    const body = (await res.json()) as IngestResponse;
    expect(res.status).toBe(200);
    expect(body).toEqual({
      success: true,
      accepted: 2,
      rejected: [
        { index: 1, messageId: "m-bad", error: expect.stringMatching(/track needs an event name/) },
        { index: 3, messageId: expect.stringMatching(/^[0-9a-f-]{36}$/), error: expect.any(String) },
      ],
    });
    expect((await storedEvents(workspaceId, anon(a))).map((e) => e.messageId)).not.toContain("m-bad");
  });

  it("answers an empty batch with nothing accepted", async () => {
    const res = await post("/v1/batch", { batch: [] }, { key: writeKey });
    expect(await res.json()).toEqual({ success: true, accepted: 0, rejected: [] });
  });

  it("counts, within accepted, the messages whose messageId was already stored (their new content is dropped)", async () => {
    const userId = uid("user");
    const messageId = uid("rec");
    const first = { type: "identify", userId, messageId, traits: { plan: "basic" } };
    const firstRes = await post("/v1/batch", { batch: [first] }, { key: writeKey });
    expect(await firstRes.json()).toEqual({ success: true, accepted: 1, rejected: [] });
    const changed = { ...first, traits: { plan: "premium" } };
    const fresh = { type: "track", event: "Viewed", userId, messageId: uid("m") };
    const res = await post("/v1/batch", { batch: [changed, fresh] }, { key: writeKey });
    // A Segment client's retry is a success: accepted still counts it, duplicates says it was not stored again.
    expect(await res.json()).toEqual({ success: true, accepted: 2, duplicates: 1, rejected: [] });
    const events = await storedEvents(workspaceId, { type: "user_id", value: userId });
    expect(events.filter((e) => e.messageId === messageId)).toMatchObject([{ traits: { plan: "basic" } }]);
  });

  it("stores numeric user ids as strings, like Segment", async () => {
    const res = await post("/v1/track", { event: "Numeric", userId: 4242, anonymousId: uid("a") }, { key: writeKey });
    expect(res.status).toBe(200);
    const [event] = await storedEvents(workspaceId, { type: "user_id", value: "4242" });
    expect(event).toMatchObject({ event: "Numeric", userId: "4242" });
  });

  it("updates the profile's traits from identify calls", async () => {
    const userId = uid("user");
    await post(
      "/v1/identify",
      { userId, traits: { plan: "free", name: "Jo" }, timestamp: "2025-01-01T00:00:00Z" },
      { key: writeKey },
    );
    await post(
      "/v1/identify",
      { userId, traits: { plan: "pro" }, timestamp: "2025-01-02T00:00:00Z" },
      { key: writeKey },
    );
    const profileId = await identityStoreFor(env).findProfile(workspaceId, { type: "user_id", value: userId });
    const read = await profileStub(env.PROFILE, profileId ?? "").getProfile();
    expect(read.status === "ok" && read.profile.traits).toMatchObject({ plan: "pro", name: "Jo" });
  });
});
