/**
 * A collector isolate (or a browser's profile cookie) still routes an anonymous id to the profile it was merged into,
 * after a merge undo gave it back to its visitor and the merged-into person was erased. The erased profile's object
 * answers "deleted"; the message must still land where the graph says (DESIGN §3 "200 means durable", §4), and be
 * dropped only when the graph says its identifiers are suppressed.
 */
import { env } from "cloudflare:workers";
import type { Identifier, ProfileMerges } from "@tessera/protocol";
import { describe, expect, it } from "vitest";
import { PROFILE_COOKIE } from "../collector/profile-cookie";
import { CachedIdentityStore } from "../identity/cached-identity-store";
import { D1IdentityStore } from "../identity/d1-identity-store";
import { collectorApp, postTo } from "../test-support/collector-app";
import { bearer, seedWorkspace } from "../test-support/seed";
import { api } from "../test-support/store-messages";
import { storedEvents, uid } from "../test-support/worker-requests";
import { ingestDepsFor } from "./pipeline-deps";

const ws = await seedWorkspace("stale-route-to-erased");
const bindings = { COOKIE_SECRET: "cookie-secret-for-tests" };

/** A collector isolate with an identity cache of its own over the real graph. */
function isolate() {
  const identity = new CachedIdentityStore(new D1IdentityStore(env.DB));
  const app = collectorApp({ ingestDeps: (e) => ({ ...ingestDepsFor(e), identity }) });
  return {
    identity,
    async send(body: Record<string, unknown>, cookie?: string) {
      const message = { type: "track", messageId: uid("m"), ...body };
      const headers = cookie ? { cookie } : undefined;
      const res = await postTo(app, "/v1/batch", { batch: [message] }, ws.writeKey, { bindings, headers });
      expect(res.status, JSON.stringify(body)).toBe(200);
      expect(await res.json()).toMatchObject({ accepted: 1 });
      return res;
    },
  };
}

const call = (method: string, path: string) => api(path, bearer(ws.secretKey), { method });
const anonymous = (value: string): Identifier => ({ type: "anonymous_id", value });
const eventsOf = async (id: Identifier) => (await storedEvents(ws.workspaceId, id)).map((m) => m.event ?? m.type);

/**
 * Sam identifies; an anonymous visitor browses; a checkout carrying both merges the visitor into Sam, which isolate
 * `x` caches and the browser's cookie vouches for. The merge is then undone and Sam erased.
 */
async function visitorRoutedToErasedSam() {
  const [user, anon] = [uid("u"), uid("a")];
  const x = isolate();
  await x.send({ type: "identify", userId: user, traits: { name: "Sam" } });
  await x.send({ event: "Browsed", anonymousId: anon });
  const checkout = await x.send({ event: "Checkout", anonymousId: anon, userId: user });
  const cookie = (checkout.headers.get("set-cookie") ?? "").split(";")[0];
  expect(cookie).toMatch(new RegExp(`^${PROFILE_COOKIE}=`));

  const { data } = await (await call("GET", `/v1/profiles/user_id:${user}/merges`)).json<ProfileMerges>();
  expect(data).toHaveLength(1);
  expect((await call("POST", `/v1/merges/${data[0].id}/undo`)).status).toBe(200);
  expect((await call("DELETE", `/v1/profiles/user_id:${user}`)).status).toBe(202);
  expect(await eventsOf(anonymous(anon))).toEqual(["Browsed"]);
  return { x, anon, cookie };
}

describe("a message routed from a stale cache or cookie to a profile erased after a merge undo", () => {
  it("is stored on the profile the graph gives its anonymous id, when routed by the isolate's cache", async () => {
    const { x, anon } = await visitorRoutedToErasedSam();
    await x.send({ event: "After", anonymousId: anon });
    expect(await eventsOf(anonymous(anon))).toEqual(["Browsed", "After"]);
  });

  it("is stored on the profile the graph gives its anonymous id, when routed by the profile cookie", async () => {
    const { anon, cookie } = await visitorRoutedToErasedSam();
    await isolate().send({ event: "After", anonymousId: anon }, cookie);
    expect(await eventsOf(anonymous(anon))).toEqual(["Browsed", "After"]);
  });

  it("is still dropped when the erased person's own identifier was routed from the cache", async () => {
    const [user, anon] = [uid("u"), uid("a")];
    const x = isolate();
    await x.send({ event: "Browsed", anonymousId: anon, userId: user });
    expect(await eventsOf(anonymous(anon))).toEqual(["Browsed"]);
    expect((await call("DELETE", `/v1/profiles/user_id:${user}`)).status).toBe(202);

    await x.send({ event: "After", anonymousId: anon });
    expect(await eventsOf(anonymous(anon))).toEqual([]);
    expect(await x.identity.findProfile(ws.workspaceId, anonymous(anon))).toBeNull();
  });
});
