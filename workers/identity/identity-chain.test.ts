import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../d1/ids";
import { id, input, profileOf } from "../test-support/identity-inputs";
import { D1IdentityStore } from "./d1-identity-store";
import { DEFAULT_IDENTITY_RULES } from "./rules";

const store = new D1IdentityStore(env.DB);
const rules = DEFAULT_IDENTITY_RULES;

describe("D1IdentityStore identity chain", () => {
  it("grows one profile from an anonymous id to an email to a user id", async () => {
    const ws = newId("ws");
    const [first] = await store.resolve(ws, rules, [input("m1", "anonymous_id:a")]);
    const p = profileOf(first);
    const [second] = await store.resolve(ws, rules, [input("m2", "email:jane@example.com", "anonymous_id:a")]);
    expect(second).toMatchObject({ profileId: p, created: false, dropped: [], merged: [] });
    const [third] = await store.resolve(ws, rules, [input("m3", "user_id:u1", "email:jane@example.com")]);
    expect(third).toMatchObject({ profileId: p, created: false, dropped: [], merged: [] });
    for (const ref of ["anonymous_id:a", "email:jane@example.com", "user_id:u1"])
      expect(await store.findProfile(ws, id(ref))).toBe(p);
  });

  it("merges a browsing profile into the known user's profile when both ids meet", async () => {
    const ws = newId("ws");
    const known = profileOf((await store.resolve(ws, rules, [input("m1", "user_id:u1", "anonymous_id:phone")]))[0]);
    const browsing = profileOf((await store.resolve(ws, rules, [input("m2", "anonymous_id:laptop")]))[0]);
    const [login] = await store.resolve(ws, rules, [input("m3", "anonymous_id:laptop", "user_id:u1")]);
    expect(login).toMatchObject({ profileId: known, merged: [{ from: browsing, into: known }] });
    expect(await store.findProfile(ws, id("anonymous_id:laptop"))).toBe(known);
  });

  it("links an alias's previous user id to the new one only when the rules allow two user ids", async () => {
    const ws = newId("ws");
    const old = profileOf((await store.resolve(ws, rules, [input("m1", "user_id:old")]))[0]);
    const alias = { ...input("m2", "user_id:new", "anonymous_id:old"), previousId: "old" };
    const [refused] = await store.resolve(ws, rules, [alias]);
    expect(refused).toMatchObject({ kind: "profile", dropped: [id("user_id:old")] });
    expect(profileOf(refused)).not.toBe(old);

    const ws2 = newId("ws");
    const twoUserIds = { ...rules, limits: { user_id: 2 } };
    const old2 = profileOf((await store.resolve(ws2, twoUserIds, [input("m1", "user_id:old")]))[0]);
    const [linked] = await store.resolve(ws2, twoUserIds, [alias]);
    expect(linked).toMatchObject({ profileId: old2, dropped: [] });
    expect(await store.findProfile(ws2, id("user_id:new"))).toBe(old2);
    expect(await store.findProfile(ws2, id("anonymous_id:old"))).toBeNull();
  });
});
