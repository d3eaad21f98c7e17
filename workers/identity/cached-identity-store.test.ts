import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../d1/ids";
import { id, input, profileOf } from "../test-support/identity-inputs";
import { observedD1 } from "../test-support/observed-d1";
import { CachedIdentityStore } from "./cached-identity-store";
import { D1IdentityStore } from "./d1-identity-store";
import type { IdentityStore, ResolveInput } from "./identity-store";
import { DEFAULT_IDENTITY_RULES } from "./rules";

const rules = DEFAULT_IDENTITY_RULES;

/** D1 that counts statements, so a test can tell whether the store touched it. */
function countingD1(): { db: D1Database; queries: () => number } {
  let n = 0;
  const db = observedD1({
    prepared: () => {
      n++;
    },
  });
  return { db, queries: () => n };
}

/** Records which inputs reached the inner store. */
function spying(inner: IdentityStore): { store: IdentityStore; seen: ResolveInput[][] } {
  const seen: ResolveInput[][] = [];
  const store = Object.create(inner) as IdentityStore;
  store.resolve = (ws, r, inputs) => {
    seen.push(inputs);
    return inner.resolve(ws, r, inputs);
  };
  return { store, seen };
}

describe("CachedIdentityStore", () => {
  it("answers a known identifier set without any D1 query", async () => {
    const ws = newId("ws");
    const { db, queries } = countingD1();
    const store = new CachedIdentityStore(new D1IdentityStore(db));
    const [first] = await store.resolve(ws, rules, [input("m1", "anonymous_id:a", "user_id:u")]);
    const before = queries();
    expect(before).toBeGreaterThan(0);
    const [again] = await store.resolve(ws, rules, [input("m2", "user_id:u", "anonymous_id:a")]);
    expect(queries()).toBe(before);
    expect(again).toMatchObject({ kind: "profile", profileId: profileOf(first), created: false, merged: [] });
  });

  it("sends only inputs with something new to D1, plus known ones of profiles they may change", async () => {
    const ws = newId("ws");
    const { store: inner, seen } = spying(new D1IdentityStore(env.DB));
    const store = new CachedIdentityStore(inner);
    await store.resolve(ws, rules, [input("m1", "anonymous_id:a"), input("m2", "anonymous_id:b")]);
    seen.length = 0;
    const outcomes = await store.resolve(ws, rules, [
      input("m3", "anonymous_id:b"),
      input("m4", "anonymous_id:a", "email:new@x.io"),
      input("m5", "anonymous_id:a"),
    ]);
    expect(seen).toEqual([[input("m4", "anonymous_id:a", "email:new@x.io"), input("m5", "anonymous_id:a")]]);
    expect(profileOf(outcomes[2])).toBe(profileOf(outcomes[1]));
  });

  it("follows merges it learns from D1 and forgets erased profiles", async () => {
    const ws = newId("ws");
    const { db, queries } = countingD1();
    const store = new CachedIdentityStore(new D1IdentityStore(db));
    const [a, b] = await store.resolve(ws, rules, [input("m1", "anonymous_id:a"), input("m2", "user_id:u")]);
    const [merge] = await store.resolve(ws, rules, [input("m3", "anonymous_id:a", "user_id:u")]);
    const survivor = profileOf(merge);
    const loser = profileOf(a) === survivor ? profileOf(b) : profileOf(a);
    expect(merge).toMatchObject({ merged: [{ from: loser, into: survivor }] });
    expect(store.cache.get(ws, id("anonymous_id:a"))).toBe(survivor);
    expect(store.cache.get(ws, id("user_id:u"))).toBe(survivor);

    await store.erase(ws, survivor);
    expect(store.cache.get(ws, id("user_id:u"))).toBeUndefined();
    const before = queries();
    const [after] = await store.resolve(ws, rules, [input("m4", "user_id:u")]);
    expect(queries()).toBeGreaterThan(before);
    expect(after).toEqual({ kind: "suppressed", identifier: id("user_id:u") });
  });

  it("lets the collector correct a stale entry with redirect and forgetProfile", () => {
    const store = new CachedIdentityStore(new D1IdentityStore(env.DB));
    store.cache.set("ws1", id("anonymous_id:a"), "prf_old");
    store.cache.set("ws2", id("anonymous_id:a"), "prf_old");
    store.redirect("ws1", "prf_old", "prf_new");
    expect(store.cache.get("ws1", id("anonymous_id:a"))).toBe("prf_new");
    expect(store.cache.get("ws2", id("anonymous_id:a"))).toBe("prf_old");
    store.forgetProfile("ws1", "prf_new");
    expect(store.cache.get("ws1", id("anonymous_id:a"))).toBeUndefined();
  });
});
