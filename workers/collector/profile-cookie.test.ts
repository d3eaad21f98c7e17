import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CachedIdentityStore, identityStoreFor } from "../identity/cached-identity-store";
import { D1IdentityStore } from "../identity/d1-identity-store";
import { ingestDepsFor } from "../ingest/pipeline-deps";
import { collectorApp, postTo } from "../test-support/collector-app";
import { observedD1 } from "../test-support/observed-d1";
import { profileOf } from "../test-support/profile-reads";
import { seedWorkspace } from "../test-support/seed";
import { storedEvents, uid } from "../test-support/worker-requests";
import { PROFILE_COOKIE } from "./profile-cookie";

const { workspaceId, writeKey } = await seedWorkspace("profile-cookie");
const bindings = { COOKIE_SECRET: "cookie-secret-for-tests" };
const visit = (anonymousId: string) => ({
  batch: [
    { type: "page", name: "Home", anonymousId, messageId: uid("m") },
    { type: "track", event: "Viewed", anonymousId, messageId: uid("m") },
  ],
});

/** A collector as a cold isolate runs it: an empty identity cache over a D1 that counts the identity store's calls. */
function coldIsolate() {
  let identityQueries = 0;
  const counted = observedD1({
    prepared: () => {
      identityQueries++;
    },
    beforeBatch: () => {
      identityQueries++;
    },
  });
  const identity = new CachedIdentityStore(new D1IdentityStore(counted));
  const app = collectorApp({ ingestDeps: (e) => ({ ...ingestDepsFor(e), identity }) });
  return { app, queries: () => identityQueries };
}

/** The profile cookie a browser holds after `res` (`held` before it): `name=value`, or null once cleared. */
function cookieAfter(res: Response, held: string | null): string | null {
  const set = res.headers.get("set-cookie");
  if (set === null) return held;
  expect(set).toMatch(new RegExp(`^${PROFILE_COOKIE}=`));
  return /Max-Age=0/.test(set) ? null : set.split(";")[0];
}

/** `name=value` of the response's profile cookie, ready to send back. */
function cookieOf(res: Response): string {
  const set = res.headers.get("set-cookie") ?? "";
  expect(set).toMatch(new RegExp(`^${PROFILE_COOKIE}=`));
  return set.split(";")[0];
}

describe("the signed first-party profile cookie", () => {
  it("is set after a browser batch: HttpOnly, Secure, SameSite=Lax, scoped to /v1", async () => {
    const res = await postTo(coldIsolate().app, "/v1/batch", visit(uid("anon")), writeKey, { bindings });
    expect(res.status).toBe(200);
    const set = res.headers.get("set-cookie") ?? "";
    expect(set).toMatch(/HttpOnly/);
    expect(set).toMatch(/Secure/);
    expect(set).toMatch(/SameSite=Lax/);
    expect(set).toMatch(/Path=\/v1/);
    expect(set).toMatch(/Max-Age=31536000/);
  });

  it("lets a cold isolate store a returning visitor's events without asking D1 who they are", async () => {
    const anon = uid("anon");
    const first = await postTo(coldIsolate().app, "/v1/batch", visit(anon), writeKey, { bindings });
    const cookie = cookieOf(first);

    const cold = coldIsolate();
    const again = await postTo(cold.app, "/v1/batch", visit(anon), writeKey, { bindings, headers: { cookie } });
    expect(again.status).toBe(200);
    expect(cold.queries()).toBe(0);
    expect(again.headers.get("set-cookie")).toBeNull();
    expect(await storedEvents(workspaceId, { type: "anonymous_id", value: anon })).toHaveLength(4);

    // The same visit without the cookie: the cold isolate has to read the graph.
    const control = coldIsolate();
    expect((await postTo(control.app, "/v1/batch", visit(anon), writeKey, { bindings })).status).toBe(200);
    expect(control.queries()).toBeGreaterThan(0);
  });

  it("ignores a tampered cookie or one for another anonymous id, and stores the events where they belong", async () => {
    const anon = uid("anon");
    const cookie = cookieOf(await postTo(coldIsolate().app, "/v1/batch", visit(anon), writeKey, { bindings }));
    const [name, value] = [
      cookie.slice(0, cookie.indexOf("=")),
      decodeURIComponent(cookie.slice(cookie.indexOf("=") + 1)),
    ];
    const forged = `${name}=${encodeURIComponent(value.replace(/prf_\w+/, "prf_someoneelse"))}`;

    const cold = coldIsolate();
    expect(
      (await postTo(cold.app, "/v1/batch", visit(anon), writeKey, { bindings, headers: { cookie: forged } })).status,
    ).toBe(200);
    expect(cold.queries()).toBeGreaterThan(0);
    expect(await storedEvents(workspaceId, { type: "anonymous_id", value: anon })).toHaveLength(4);

    const stranger = uid("anon");
    const other = coldIsolate();
    const res = await postTo(other.app, "/v1/batch", visit(stranger), writeKey, { bindings, headers: { cookie } });
    expect(res.status).toBe(200);
    expect(other.queries()).toBeGreaterThan(0);
    expect(await storedEvents(workspaceId, { type: "anonymous_id", value: stranger })).toHaveLength(2);
    // The stranger gets a cookie of their own.
    expect(cookieOf(res)).not.toBe(cookie);
  });

  it("is not set without a configured secret, nor for a server batch mixing people", async () => {
    const app = coldIsolate().app;
    expect((await postTo(app, "/v1/batch", visit(uid("anon")), writeKey)).headers.get("set-cookie")).toBeNull();
    const mixed = { batch: [...visit(uid("anon")).batch, ...visit(uid("anon")).batch] };
    expect((await postTo(app, "/v1/batch", mixed, writeKey, { bindings })).headers.get("set-cookie")).toBeNull();
  });

  it("never vouches for an anonymous id the graph dropped on a shared device, and clears the one it held", async () => {
    const anon = uid("anon");
    const identifyAs = (userId: string) => ({
      batch: [{ type: "identify", userId, anonymousId: anon, messageId: uid("m") }],
    });
    const first = uid("user");
    let held = cookieAfter(
      await postTo(coldIsolate().app, "/v1/batch", identifyAs(first), writeKey, { bindings }),
      null,
    );
    expect(held).not.toBeNull();

    // Someone else logs in on the same browser: their profile is not given the first person's anonymous id.
    const second = uid("user");
    const login = await postTo(coldIsolate().app, "/v1/batch", identifyAs(second), writeKey, {
      bindings,
      headers: { cookie: held as string },
    });
    expect(login.status).toBe(200);
    held = cookieAfter(login, held);

    // An anonymous page from that browser, on a cold isolate, belongs to whoever the graph gives the anonymous id.
    const page = { type: "page", name: "Home", anonymousId: anon, messageId: uid("m") };
    const cold = coldIsolate();
    const headers = held === null ? undefined : { cookie: held };
    expect((await postTo(cold.app, "/v1/page", page, writeKey, { bindings, headers })).status).toBe(200);
    const owners = identityStoreFor(env);
    const [firstProfile, secondProfile] = await Promise.all([
      owners.findProfile(workspaceId, { type: "user_id", value: first }),
      owners.findProfile(workspaceId, { type: "user_id", value: second }),
    ]);
    expect(await owners.findProfile(workspaceId, { type: "anonymous_id", value: anon })).toBe(firstProfile);
    const pagesOf = async (userId: string) =>
      (await storedEvents(workspaceId, { type: "user_id", value: userId })).filter((m) => m.type === "page");
    expect(await pagesOf(first)).toHaveLength(1);
    expect(await pagesOf(second)).toEqual([]);
    expect((await profileOf(secondProfile as string)).identifiers).not.toContainEqual(
      expect.objectContaining({ type: "anonymous_id", value: anon }),
    );
    // The first person's cookie named an id the login request did not keep: cleared rather than left to vouch.
    expect(held).toBeNull();
  });

  it("is not set for an anonymous id past the profile's limit, which the graph gave no one", async () => {
    const userId = uid("user");
    const app = coldIsolate().app;
    for (let i = 0; i < 5; i++) {
      const identify = { type: "identify", userId, anonymousId: uid("anon"), messageId: uid("m") };
      expect((await postTo(app, "/v1/identify", identify, writeKey, { bindings })).status).toBe(200);
    }
    const sixth = uid("anon");
    const identify = { type: "identify", userId, anonymousId: sixth, messageId: uid("m") };
    const res = await postTo(app, "/v1/identify", identify, writeKey, { bindings });
    expect(res.status).toBe(200);
    expect(res.headers.get("set-cookie")).toBeNull();
  });
});
