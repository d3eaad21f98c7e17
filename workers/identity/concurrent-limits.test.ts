import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { newId } from "../../d1/ids";
import { id, input, profileOf } from "../test-support/identity-inputs";
import { D1IdentityStore } from "./d1-identity-store";
import { DEFAULT_IDENTITY_RULES } from "./rules";

const store = new D1IdentityStore(env.DB);
const rules = DEFAULT_IDENTITY_RULES;

describe("D1IdentityStore under concurrency", () => {
  it("lets only one of many users claim a shared anonymous profile at the same moment", async () => {
    const ws = newId("ws");
    const anon = profileOf((await store.resolve(ws, rules, [input("m0", "anonymous_id:kiosk")]))[0]);
    const outcomes = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        store.resolve(ws, rules, [input(`m${i}`, "anonymous_id:kiosk", `user_id:u${i}`)]),
      ),
    );
    const onAnon = outcomes.filter(([o]) => profileOf(o) === anon);
    expect(onAnon).toHaveLength(1);
    const userIds = await env.DB.prepare(
      "SELECT count(*) AS n FROM identifiers WHERE profile_id = ? AND type = 'user_id'",
    )
      .bind(anon)
      .first("n");
    expect(userIds).toBe(1);
    // Everyone else got their own profile, with the kiosk's anonymous id dropped and explained.
    for (const [o] of outcomes.filter(([o]) => profileOf(o) !== anon))
      expect(o).toMatchObject({ created: true, dropped: [id("anonymous_id:kiosk")] });
  });

  it("follows a chain of merges made inside one batch to the oldest profile", async () => {
    const ws = newId("ws");
    const created: string[] = [];
    for (const a of ["a", "b", "c"])
      created.push(profileOf((await store.resolve(ws, rules, [input(a, `anonymous_id:${a}`)]))[0]));
    const oldest = (await env.DB.prepare(
      "SELECT id FROM profiles WHERE workspace_id = ? ORDER BY created_at, id LIMIT 1",
    )
      .bind(ws)
      .first<{ id: string }>())!.id;
    const outcomes = await store.resolve(ws, rules, [
      input("m1", "anonymous_id:b", "anonymous_id:c"),
      input("m2", "anonymous_id:a", "anonymous_id:b"),
    ]);
    expect(profileOf(outcomes[1])).toBe(oldest);
    for (const p of created) expect(await store.liveProfile(ws, p)).toBe(oldest);
    for (const a of ["a", "b", "c"]) expect(await store.findProfile(ws, id(`anonymous_id:${a}`))).toBe(oldest);
    expect((await store.mergesInto(ws, oldest)).map((m) => m.from).sort()).toEqual(
      created.filter((p) => p !== oldest).sort(),
    );
  });
});
