import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../d1/ids";
import { id, input, profileOf } from "../test-support/identity-inputs";
import { D1IdentityStore } from "./d1-identity-store";
import { DEFAULT_IDENTITY_RULES } from "./rules";

const store = new D1IdentityStore(env.DB);
const rules = DEFAULT_IDENTITY_RULES;

describe("D1IdentityStore erase", () => {
  it("erases a profile with the profiles merged into it and suppresses their identifiers", async () => {
    const ws = newId("ws");
    const [a] = await store.resolve(ws, rules, [input("m1", "anonymous_id:a")]);
    const [b] = await store.resolve(ws, rules, [input("m2", "user_id:u", "email:jane@x.io")]);
    const [merged] = await store.resolve(ws, rules, [input("m3", "user_id:u", "anonymous_id:a")]);
    const survivor = profileOf(merged);

    const erased = await store.erase(ws, survivor);
    expect(new Set(erased.profileIds)).toEqual(new Set([profileOf(a), profileOf(b)]));
    expect(new Set(erased.identifiers.map((i) => `${i.type}:${i.value}`))).toEqual(
      new Set(["anonymous_id:a", "user_id:u", "email:jane@x.io"]),
    );
    expect(await store.liveProfile(ws, survivor)).toBeNull();
    expect(await store.findProfile(ws, id("user_id:u"))).toBeNull();
    const left = await env.DB.prepare("SELECT count(*) AS n FROM identifiers WHERE workspace_id = ?")
      .bind(ws)
      .first("n");
    expect(left).toBe(0);
    const details = await env.DB.prepare("SELECT detail FROM merges WHERE workspace_id = ?").bind(ws).all();
    expect(details.results).toEqual([{ detail: null }]);
  });

  it("drops later messages that carry an erased identifier", async () => {
    const ws = newId("ws");
    const p = profileOf((await store.resolve(ws, rules, [input("m1", "email:gone@x.io")]))[0]);
    await store.erase(ws, p);
    const [later, unrelated] = await store.resolve(ws, rules, [
      input("m2", "anonymous_id:new", "email:gone@x.io"),
      input("m3", "anonymous_id:other"),
    ]);
    expect(later).toEqual({ kind: "suppressed", identifier: id("email:gone@x.io") });
    expect(unrelated).toMatchObject({ kind: "profile", created: true });
    expect(await store.findProfile(ws, id("anonymous_id:new"))).toBeNull();
  });

  it("forgets the person's identifiers wherever the journal of refused links names them, whoever the row is on", async () => {
    const ws = newId("ws");
    // A message naming two user ids: the user_id limit keeps the second off Sam, a refused link that nobody owned
    // then. That user id later signs in elsewhere and becomes Kim's, and Kim is erased.
    await store.resolve(ws, rules, [input("m1", "anonymous_id:sams-phone", "user_id:sam", "user_id:kim")]);
    const kim = profileOf(
      (await store.resolve(ws, rules, [input("m2", "anonymous_id:kims-laptop", "user_id:kim")]))[0],
    );
    const named = () =>
      env.DB.prepare("SELECT count(*) AS n FROM dropped_links WHERE workspace_id = ? AND value = 'kim'")
        .bind(ws)
        .first("n");
    expect(await named()).toBe(1);

    await store.erase(ws, kim);
    expect(await named()).toBe(0);
  });

  it("erases nothing for an unknown profile id", async () => {
    expect(await store.erase(newId("ws"), newId("prf"))).toEqual({ profileIds: [], identifiers: [] });
  });
});
