import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../d1/ids";
import { id, input, profileOf } from "../test-support/identity-inputs";
import { D1IdentityStore } from "./d1-identity-store";
import { DEFAULT_IDENTITY_RULES, type IdentityRules } from "./rules";

const store = new D1IdentityStore(env.DB);

describe("D1IdentityStore caps and limits", () => {
  it("drops a sixth email instead of attaching it (limit 5 per type)", async () => {
    const ws = newId("ws");
    const rules = DEFAULT_IDENTITY_RULES;
    const emails = [1, 2, 3, 4, 5].map((n) => `email:e${n}@x.io`);
    const p = profileOf((await store.resolve(ws, rules, [input("m1", "user_id:u", ...emails)]))[0]);
    const [sixth] = await store.resolve(ws, rules, [input("m2", "user_id:u", "email:e6@x.io")]);
    expect(sixth).toMatchObject({ profileId: p, dropped: [id("email:e6@x.io")] });
    expect(await store.findProfile(ws, id("email:e6@x.io"))).toBeNull();
  });

  it("refuses a merge that would exceed the identifiers cap, keeping both profiles", async () => {
    const ws = newId("ws");
    const rules: IdentityRules = { ...DEFAULT_IDENTITY_RULES, maxIdentifiersPerProfile: 3 };
    const p1 = profileOf((await store.resolve(ws, rules, [input("m1", "anonymous_id:a1", "device_id:d1")]))[0]);
    const p2 = profileOf((await store.resolve(ws, rules, [input("m2", "anonymous_id:a2", "device_id:d2")]))[0]);
    const [refused] = await store.resolve(ws, rules, [input("m3", "anonymous_id:a1", "anonymous_id:a2")]);
    expect(refused).toMatchObject({ kind: "profile", merged: [], dropped: [id("anonymous_id:a2")] });
    expect(await store.findProfile(ws, id("anonymous_id:a2"))).toBe(p2);
    expect(await store.liveProfile(ws, p1)).toBe(p1);
    expect((await store.droppedLinks(ws, p2))[0]).toMatchObject({ rule: "cap:identifiers", owner_profile: p2 });
  });

  it("refuses a merge that would exceed the merges cap", async () => {
    const ws = newId("ws");
    const rules: IdentityRules = { ...DEFAULT_IDENTITY_RULES, maxMergesPerProfile: 1, defaultLimit: 50 };
    for (const a of ["a1", "a2", "a3"]) await store.resolve(ws, rules, [input(a, `anonymous_id:${a}`)]);
    const [first] = await store.resolve(ws, rules, [input("m1", "anonymous_id:a1", "anonymous_id:a2")]);
    expect(first).toMatchObject({ merged: [expect.anything()] });
    const [second] = await store.resolve(ws, rules, [input("m2", "anonymous_id:a1", "anonymous_id:a3")]);
    expect(second).toMatchObject({ merged: [], dropped: [id("anonymous_id:a3")] });
    expect((await store.droppedLinks(ws, profileOf(second)))[0]).toMatchObject({ rule: "cap:merges" });
  });
});
