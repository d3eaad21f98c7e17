import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../d1/ids";
import { id, input, profileOf } from "../test-support/identity-inputs";
import { D1IdentityStore } from "./d1-identity-store";
import { DEFAULT_IDENTITY_RULES } from "./rules";

const store = new D1IdentityStore(env.DB);
const rules = DEFAULT_IDENTITY_RULES;

describe("D1IdentityStore shared device", () => {
  it("gives a second user on the same anonymous id their own profile and explains why", async () => {
    const ws = newId("ws");
    const p1 = profileOf((await store.resolve(ws, rules, [input("m1", "anonymous_id:A", "user_id:u1")]))[0]);
    const [second] = await store.resolve(ws, rules, [input("m2", "anonymous_id:A", "user_id:u2")]);
    const p2 = profileOf(second);

    expect(p2).not.toBe(p1);
    expect(second).toMatchObject({
      created: true,
      attached: [id("user_id:u2")],
      dropped: [id("anonymous_id:A")],
      merged: [],
    });
    expect(await store.findProfile(ws, id("anonymous_id:A"))).toBe(p1);
    expect(await store.findProfile(ws, id("user_id:u1"))).toBe(p1);
    expect(await store.findProfile(ws, id("user_id:u2"))).toBe(p2);
    expect(await store.mergesInto(ws, p1)).toEqual([]);

    const explained = await store.droppedLinks(ws, p2);
    expect(explained).toMatchObject([
      { profile_id: p2, identifier: id("anonymous_id:A"), owner_profile: p1, message_id: "m2", rule: "limit:user_id" },
    ]);
    expect(await store.droppedLinks(ws, p1)).toEqual(explained);
  });

  it("keeps routing the second user's later events to their own profile, journaling the conflict once", async () => {
    const ws = newId("ws");
    const p1 = profileOf((await store.resolve(ws, rules, [input("m1", "anonymous_id:A", "user_id:u1")]))[0]);
    const [a, b] = await store.resolve(ws, rules, [
      input("m2", "anonymous_id:A", "user_id:u2"),
      input("m3", "anonymous_id:A", "user_id:u2"),
    ]);
    const [c] = await store.resolve(ws, rules, [input("m4", "user_id:u2", "anonymous_id:A")]);
    expect(profileOf(b)).toBe(profileOf(a));
    expect(profileOf(c)).toBe(profileOf(a));
    expect(profileOf(a)).not.toBe(p1);
    expect(await store.droppedLinks(ws, profileOf(a))).toHaveLength(1);
  });
});
